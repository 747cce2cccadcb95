"""Word lists of the gatekeeper (data only; docs/gatekeeper.md explains the choices).

Pattern syntax, after folding (lower case, ё→е):
  ``word``        the whole word, exactly;
  ``stem*``       any word that starts with the stem;
  ``~stem*``      the same, also behind a Russian verbal prefix (по-, от-, вы-, за-...);
  ``ab{,c,de}``   brace expansion into several exact words (ab, abc, abde).
Cyrillic patterns also match Latin transliteration (``siski``) through a sound skeleton, unless
the skeleton is an ordinary English word (see TRANSLIT_COLLISIONS).
"""

from __future__ import annotations

from typing import NamedTuple

GENITALS = "sexual:genitals"
BREASTS = "sexual:breasts"
BUTT = "sexual:butt"
NUDITY = "sexual:nudity"
ACT = "sexual:act"
PORN = "sexual:porn"
SLUR = "sexual:slur"
EMOJI = "sexual:emoji"
SWASTIKA = "hate:swastika"
NAZI = "hate:nazi"
SS = "hate:ss"
KKK = "hate:kkk"
SALUTE = "hate:salute"
HATE_CODE = "hate:code"
HATE_SLUR = "hate:slur"
CARICATURE = "hate:caricature"
LYNCHING = "hate:lynching"
EXTREMIST = "hate:extremist"
MINORS = "minors:sexual"

# Unconditional block patterns, by rule.
BLOCK: dict[str, str] = {
    GENITALS: """
        пизд{у,ы,е,ой,ою,ам,ами,ах,енка,енку,енки,енкой,ища,ищу,ище,ищи,ятина,ятину}
        пезд{а,у,ы,е,ой,ой,ища,ищу} пиздён* пизденк* пиздищ* пиздюшк* пиздятин*
        пенис* фаллос* фаллич* фаллоимитатор* писюн* писюл* пипис* пипирк*
        письк* писечк* писю пися писи писей
        залуп{а,у,ы,е,ой} мошонк* вагин* влагалищ* вульв* клитор* гениталь* генитали*
        манд{а,у,ы,е,ой} елд{а,у,ы,ой,е} ануса анусом анус анусы
        цицьк* пісюн* піхв*
        penis* peepee* weewee* phallus* phallic cunt cunts clit clits clitoris* vagina* vulva* labia
        dickpic* dikpic* genital* scrotum* testicle* boner boners erection* schlong*
        twat twats vajayjay hardon hardons nutsack* ballsack* елдак*
        dildo* buttplug* fleshlight* dickbutt* vajina* dyck dycks дилдо причиндал* мохнатк*
        coochie* punani* poontang* dicc diccs пусси фаллоимитатор* areola*
    """,
    BUTT: """
        попк{а,у,и,ой,е} попочк* попу попы попой попами срак{а,у,и} задниц* ягодиц*
        дуп{а,у,и,ою} сідниц* голожоп* голозад*
        buttock* butthole* arsehole*
    """,
    BREASTS: """
        сиськ* сись* сисек сисечк* сиси сисю сися сисяндр* сисяр* титьк* титек титечк*
        бубс* титс* boob boobs boobie titties titty tiddies tiddy tittys breasts
    """,
    NUDITY: """
        голеньк*
        голышом нагишом наг{ая,ой,ую,ие,их,им,ое} нагота наготу
        раздет* раздева* оголен* топлес*
        оголен* роздягн* голяка голяком неглиже полуобнаж* полугол{ая,ый,ую,ые,ого,ой,ых}
        нюдс* нюдес* upskirt* nudes noods noodz nudez nudity nudist* nudism topless
        bottomless pantsless undressed undressing unclothed
        стриптиз* stripper* striptease* lingerie раздень*
        нудист* нудизм* догола starkers streaker streakers disrob* nipslip*
        разделась разделся раздевшись раздевш*
    """,
    ACT: """
        секс{,а,у,ом,е} сексуальн* секси сексапильн* сексуальност*
        ~трах* ~дроч* мастурб* онан*
        анал анальн* anal anally
        ебл{я,и,ю,ей,ею} ебут{,ся} ебет{,ся} ебущ* ебаться ебал{ся,ась,ись}
        їбуться їбутся їбля їбатися
        выеб{ать,ал,ала,али,ет,ут,у} отъеб{ать,ал} оттрах*
        минет* отсос* отсас{ывать,ывает,ывают,ывающ*} сосущ*
        кунилинг* куннилинг* кунни куни
        сперм* малаф* кончающ* оргазм* орги{я,ю,и,ей,й,ях}
        групповух* групповушк* изнасил* педофил*
        seggs seggsy sex sexy sexual sexually sexier sexiest sexting sexed sexx
        intercourse blowjob* handjob* rimjob* footjob* deepthroat* masturbat* wank* jerking
        cumshot* cumming creampie* gangbang* orgy orgies orgasm* threesome* bdsm bondage
        rape rapes raped raping rapist rapists molest* pedo pedos incest* инцест*
        педо зоофил* zoophil* bestiality ejaculat* эякуляц* semen pedophil* paedophil*
        horny kinky humping fap fapping fapped фап фапать фапает фапают фапающ* перепих*
        совокупл* интимн* оральн* doggystyle сношат* сношающ* вдуть вдул вдула вдули отлиз*
        поебушк* coitus copulat* lapdance
    """,
    PORN: """
        эро эроти* ероти* порн* порев{о,а,у,ом} порнух* порнушк* хентай* эччи
        erotic* porn* pron pronz xvideos xhamster redtube brazzers chaturbate
        hentai* ecchi lewd nsfw rule34 r34 onlyfans онлифанс*
        smut smutty obscene r18 futa futanari* футанари yiff* ahegao* ахегао bukkake* буккакэ
        milf milfs dilf милф* oppai paizuri cameltoe* camgirl*
        неприличн* непристойн* пошл{ое,ую,ый,ая,ые,ых,ятин*,ость,ости}
    """,
    SLUR: """
        шлюх* шлюш* проститут* шалав* блядей бляди блядищ* блядин* шльондр* повія повію повії
        пидор* пидар* пидр* педик{,а,у,ом,и,ов} педераст* гомик* давалк* потаскух*
        hooker hookers slut* whore* prostitut* faggot* fag fags cocksucker* thot thots
        путан{а,у,ы,ой,ам,ами,ах}
    """,
    SWASTIKA: """
        свасти* свастон* свастух* коловрат* свастiк*
        swasti* swazti* svasti* hakenkreuz* sonnenrad* wolfsangel*
    """,
    NAZI: """
        наци нацик* нацист* нацизм* неонацист* гитлер* нсдап фюрер* адольф*
        хитлер* nazi* neonazi* hitler* nsdap fuhrer* fuehrer* fürer supremacist* adolf*
        reichsadler
    """,
    SS: """
        сс эсэс* эсесовц* ваффен*
        ss schutzstaffel* waffen totenkopf* тотенкопф*
    """,
    KKK: """
        ккк клукс куклуксклан* куклукс* клансмен*
        kkk klux kukluxklan* kuklux* klan klansman klansmen
    """,
    SALUTE: """
        зиг{,а,у,и,ой} зигует зигуют зигуя зигующ* зигов* зиган* хайль хайлем
        heil sieg zieg seig
    """,
    HATE_SLUR: """
        негр* нигг* ниггер* черножоп* черномаз* чернозад* хачик{,а,у,ом,и,ов,ам,ами}
        хач{,а,ом,и,ей,ам,ами,ах,ье,иха} жид{,а,у,ом,ы,ов,ам,ами,ах,е} жидов* жидяр* жидомасон*
        жиденок жиденка жиденку жиденком жиденки жиденков жиденыш* жидят*
        жыд{,а,у,ом,ы,ов,ам,ами} жыдов*
        хохл{а,у,ом,ы,ов,ам,ами,ах} хохлушк* хохлят* хохляцк* хохлятск*
        кацап* москал{ь,я,ю,ем,е,и,ей,ям,ями,ях} москальск* пиндос* пендос* чучмек* узкоглаз*
        китаез* япошк* армяшк* нерусь пархат* нига русн{я,ю,и,ей} свинорус* цыганье
        nigg nigger* nigga* niggah* nigguh* niggaz niglet* nibba* niqqa* niqqer* nword sandnigger*
        wetback* kike kikes raghead* towelhead* paki pakis beaner beaners jigaboo* darkie darkies
        darky pickaninn* piccaninn* golliwog* gollywog* zipperhead* yid yids heeb heebs gook gooks
        slanteye* jiggaboo* kyke kykes
    """,
    CARICATURE: "antisemit* антисемит* goyim* гоим* gorillion*",
    LYNCHING: """
        lynching* lynched lyncher* lynchings noose* линчев* линчу{ют,ет,ем,й,я,ющ*} висельник*
        повесивш* повесил{ся,ась,ись} повешени{е,я,ю,ем}
    """,
    EXTREMIST: """
        rahowa wpww zyklon atomwaffen* stormfront* игил* игиловц* даиш daesh ариец арийц* арийск*
        aryans qaeda каид{а,ы,у,ой} reichskriegsflagge* рейхскригсфлагге
    """,
    MINORS: """
        loli lolis lolicon* lolikon* shotacon* shotakon* jailbait* nymphet* лоли лолей лольк*
        лолечк* лоликон* шотакон* нимфетк* нимфеточк* малолетк* малолеток
    """,
}


class Context(NamedTuple):
    """Words that block unless their neighbours make them innocent.

    Neighbour lists are space-separated; a neighbour of 1-2 letters, or one written with a
    trailing "=", must match exactly, any other is a word start; "<end>" stands for the end of
    the message.
    """

    patterns: str
    rule: str
    after: str = ""  # innocent right after one of these ("на хуй", "blue tit")
    before: str = ""  # innocent right before one of these ("член команды")
    only_before: str = ""  # blocks only right before one of these ("fucking her")
    near: str = ""  # innocent anywhere in a message with one of these ("tit ... bird feeder")


CONTEXT: tuple[Context, ...] = (
    Context(
        "член{,а,у,ом,е,ы,ов,ам,ами,ах,ик,ика,иком,ище,ища,ищем} членчик*",
        GENITALS,
        before="""
            команд экипаж клуб парти семь жюри совет групп обществ организац банд союз сборн
            комисси академи корреспондент профсоюз коллектив отряд гильди клан братств ордена
            парламент делегац правлени кружк секты шайк стаи стаю предложени множеств уравнени
            ряда экспедиц правительств нашей вашей моей твоей их этой этого
        """,
    ),
    Context(
        "хуй хуя хую хуем хуе хуи хуев хуям хуями хуях хуек хуец хуйку хуйц* хуюшк* хуишк* хуищ*"
        " хуечк* хуячк*",
        GENITALS,
        after="на ни до по в каког нах нех кличке named called зовут ты вы он",
        before="знает его ее тебе вам им ли",
    ),
    Context(
        "хер{,а,у,ом,ы,ов}",
        GENITALS,
        after="на ни до по каког к в кличке named called зовут",
        before="знает его тебе вам им",
    ),
    Context(
        "dick dicks dik diks dikk",
        GENITALS,
        after="moby philip k van named called uncle mr be being such so what are re is was",
        before="tracy grayson van",
    ),
    Context(
        "cock cocks",
        GENITALS,
        before="robin sparrow doodle crow",
        near="farm hen hens chicken rooster barn crowing feather",
    ),
    Context(
        "pussy pussies",
        GENITALS,
        after="be being such so what are re is was",
        before="cat willow foot",
        near="kitten kitty",
    ),
    Context(
        "tit tits",
        BREASTS,
        after="blue great coal marsh willow crested tailed",
        before="bird",
        near="bird feeder branch nest птиц",
    ),
    Context("booby boobies", BREASTS, after="footed masked brown", before="bird trap prize tube"),
    Context(
        "ass asses arse butt butts",
        BUTT,
        after="cigarette cig rifle gun kick bad smart wise dumb lazy be being such are re is was",
        only_before="<end> and with in on naked nude cheek hole crack pic",
    ),
    Context(
        "гол{ый,ая,ое,ые,ого,ой,ую,ых,ыми,ым,ому} голі голих голим голий голої голою",
        NUDITY,
        before="""
            рук ладон ног пят ветк ветв дерев стен земл скал камн пол степ поле поля кост
            правд факт цифр землекоп провод король короля проводом торс
        """,
    ),
    Context(
        "nude",
        NUDITY,
        before="lipstick color colour shade tone heel shoe pump palette makeup nail polish",
    ),
    Context(
        "грудь груди грудью грудей грудями грудях",
        BREASTS,
        after="на в во из к у по от",
        near="куриц курин птиц колес доспех брон кирас медал орден",
    ),
    Context(
        "breast",
        BREASTS,
        after="chicken turkey duck",
        before="pocket plate stroke cancer feeding",
        near="chicken turkey duck armor armour medal",
    ),
    Context(
        "фашист* fascist*",
        NAZI,
        only_before="флаг символ знак эмблем герб приветств салют крест flag symbol salute cross",
    ),
    Context("xxx", PORN, before="<end>"),  # 'draw a cat for my gf xxx' sends kisses
    Context(
        "сосок соски сосков сосками сосочк*",
        BREASTS,
        near="младен ребен ребён малыш детск бутыл пустышк",
    ),
    Context(
        "гола голу",  # Ukrainian 'naked' only before a person: in Russian they are goals
        NUDITY,
        only_before="девушк девочк женщин жінк дівчин баб тян тёлк телк чоловік мужик парн",
    ),
    Context("knockers", BREASTS, after="door brass iron"),
    Context(
        "пизда",
        GENITALS,
        # 'нам пизда' (we are done for), 'пизда рулю', 'полная пизда' are idioms; the thing
        # itself is asked for in the accusative ('нарисуй пизду'), which always blocks.
        after="нам= вам= тебе= ему= ей= им= мне= всем= полная полный полной",
        before="рулю котенку котёнку",
    ),
    Context(
        "жоп* жеп{а,у,ы,ой,е}",
        BUTT,
        # 'иди в жопу', 'полная жопа' are idioms.
        after="в во полная полную полной нам= вам= тебе= ему= им= всем=",
    ),
    Context("nipple*", BREASTS, near="baby bottle feeding pacifier infant"),
    Context(
        "screwing screwed",
        ACT,
        only_before="<end> her him each them someone",
    ),
    Context("sperm", ACT, before="whale"),
    Context(
        "naked nakedness",
        NUDITY,
        before="mole eye flame truth ape singularit tree branch wall blade sword bulb wire",
    ),
    Context("cum", ACT, after="magna summa", before="laude"),
    Context("обнаж*", NUDITY, before="меч клин шпаг сабл лезви кинжал оруж шашк катан"),
    Context(
        "сосет сосут сосать соси сосала сосал сосали сосешь",
        ACT,
        before="молок лапу палец леденец леденц чупа соску сок конфет кров",
    ),
    Context(
        "нигер{,а,у,ом,е,ы,ов,ам,ами,ах}",
        HATE_SLUR,  # Нигер is also the country and the river
        near="флаг карт рек стран республик африк ниамей столиц нигери",
    ),
    Context("niger", HATE_SLUR, near="flag map river country republic africa niamey capital"),
    Context("хохол", HATE_SLUR, near="волос голов причес птиц чуб макушк"),
    Context(
        "чурк{а,у,и,ой,е,ам,ами,ах} чурок",
        HATE_SLUR,  # a block of wood, too
        near="дров полен топор колк деревян пень пня древес",
    ),
    Context("chink chinks", HATE_SLUR, before="in of", near="armor armour wall light"),
    Context("spic spics", HATE_SLUR, before="and"),
    Context("coon coons", HATE_SLUR, after="maine", near="raccoon cat kitten hound hunting"),
    Context(
        "negro negroes negros",
        HATE_SLUR,
        after="rio",
        before="league leagues river",
        near="spanish",
    ),
    Context("redskin redskins", HATE_SLUR, near="potato potatoes"),
    Context(
        "isis",
        EXTREMIST,
        near="goddess egypt egyptian osiris horus pharaoh temple богин египет",
    ),
    Context("zog", EXTREMIST, near="dragon book princess pearl"),
    Context(
        "aryan",
        EXTREMIST,  # also a given name
        only_before="""
            pride race nation nations brotherhood power blood master supremacy warrior warriors
            people
        """,
    ),
    Context("shota", MINORS, before="aizawa"),  # a given name too
    Context("шота шоту шотой", MINORS, before="руставели"),
    Context("lynch", LYNCHING, after="david jane kelly marshawn merrill", near="peaks twin film"),
    Context("линч{,а,у,ем,ом,е}", LYNCHING, after="дэвид девид дэвида девида"),
    Context("hanged", LYNCHING, near="tarot card"),
    Context(
        "повешенн{ый,ого,ому,ым,ом,ые,ых,ыми,ая,ую,ой,ое}",
        LYNCHING,
        near="""
            картин стен гвозд крюч вешалк полк ламп пальто куртк одежд шар игрушк гирлянд флаг
            табличк замок
        """,
    ),
    Context(
        "fuck fucks fucked fucking",
        ACT,
        only_before="<end> her him them each a an the in on with someone",
    ),
)

# Multi-word requests; a trailing * matches any ending of that word.
PHRASES: tuple[tuple[str, str], ...] = (
    ("без одежд*", NUDITY),
    ("снима* трус*", NUDITY),
    ("снима* лифчик*", NUDITY),
    ("снима* одежд*", NUDITY),
    ("снял* трус*", NUDITY),
    ("снял* лифчик*", NUDITY),
    ("снял* одежд*", NUDITY),
    ("сними* трус*", NUDITY),
    ("taking off her clothes", NUDITY),
    ("takes off her clothes", NUDITY),
    ("taking off her bra", NUDITY),
    ("в чем мать родила", NUDITY),
    ("без штан*", NUDITY),
    ("без юбк*", NUDITY),
    ("без купальник*", NUDITY),
    ("нижнем бель*", NUDITY),
    ("половой акт*", ACT),
    ("мужское достоинство", GENITALS),
    ("мужского достоинства", GENITALS),
    ("мужским достоинством", GENITALS),
    ("причинное место", GENITALS),
    ("причинные места", GENITALS),
    ("private parts", GENITALS),
    ("пятую точку", BUTT),
    ("пятая точка", BUTT),
    ("in the buff", NUDITY),
    ("without pants", NUDITY),
    ("without panties", NUDITY),
    ("no pants", NUDITY),
    ("no panties", NUDITY),
    ("поз* 69", ACT),
    ("69 position", ACT),
    ("position 69", ACT),
    ("lap dance", ACT),
    ("в неглиже", NUDITY),
    ("doggy style", ACT),
    ("missionary position", ACT),
    ("white supremacy", NAZI),
    ("mein kampf", NAZI),
    ("hooked cross", SWASTIKA),
    ("crooked cross", SWASTIKA),
    ("загнутыми концами", SWASTIKA),
    ("фашистское приветствие", SALUTE),
    ("фашистский салют", SALUTE),
    ("без трус*", NUDITY),
    ("без лифчик*", NUDITY),
    ("без бюстгальтер*", NUDITY),
    ("без бель*", NUDITY),
    ("без нижнего бель*", NUDITY),
    ("в стиле ню", NUDITY),
    ("без одяг*", NUDITY),
    ("without clothes", NUDITY),
    ("without bra", NUDITY),
    ("without underwear", NUDITY),
    ("no bra", NUDITY),
    ("no underwear", NUDITY),
    ("without clothing", NUDITY),
    ("no clothes", NUDITY),
    ("with no clothes", NUDITY),
    ("butt naked", NUDITY),
    ("in the nude", NUDITY),
    ("половой член*", GENITALS),
    ("половой орган*", GENITALS),
    ("половые орган*", GENITALS),
    ("половых орган*", GENITALS),
    ("полового член*", GENITALS),
    ("мужской орган*", GENITALS),
    ("blow job*", ACT),
    ("hand job*", ACT),
    ("jerk* off", ACT),
    ("jack* off", ACT),
    ("having sex", ACT),
    ("make love", ACT),
    ("making love", ACT),
    ("занимаются любовью", ACT),
    ("заниматься любовью", ACT),
    ("rule 34", PORN),
    ("правило 34", PORN),
    ("roman salute", SALUTE),
    ("zig hail", SALUTE),
    ("zieg hail", SALUTE),
    ("sieg hail", SALUTE),
    ("половые губы", GENITALS),
    ("из трех букв", GENITALS),
    ("из 3 букв", GENITALS),
    ("статеві органи", GENITALS),
    ("статевий орган", GENITALS),
    ("статевий член", GENITALS),
    ("половых губ", GENITALS),
    ("birthday suit", NUDITY),
    ("hitler salute", SALUTE),
    ("римский салют", SALUTE),
    ("white pride", NAZI),
    ("третьего рейха", NAZI),
    ("третий рейх", NAZI),
    ("third reich", NAZI),
    ("ku klux", KKK),
    ("ку клукс", KKK),
    ("14 88", HATE_CODE),
    ("n word", HATE_SLUR),
    ("porch monkey*", HATE_SLUR),
    ("day of the rope", LYNCHING),
    ("schwarze sonne", EXTREMIST),
    ("шварце зонне", EXTREMIST),
    ("blood and soil", EXTREMIST),
    ("blood and honour", EXTREMIST),
    ("blood and honor", EXTREMIST),
    ("blut und boden", EXTREMIST),
    ("blut und ehre", EXTREMIST),
    ("кровь и почва", EXTREMIST),
    ("кровь и честь", EXTREMIST),
    ("secure the existence", EXTREMIST),
    ("existence of our people", EXTREMIST),
    ("islamic state", EXTREMIST),
    ("исламск* государств*", EXTREMIST),
    ("jail bait", MINORS),
    ("skinny dip*", NUDITY),
    ("au naturel", NUDITY),
    ("without stitch", NUDITY),
    ("in the altogether", NUDITY),
    ("в чем мама родила", NUDITY),
    ("ничем не прикрыт*", NUDITY),
    ("ничего не надето", NUDITY),
    ("jungle bunn*", HATE_SLUR),
    ("towel head*", HATE_SLUR),
    ("rag head*", HATE_SLUR),
    ("camel jockey*", HATE_SLUR),
    ("slant eye*", HATE_SLUR),
    ("ching chong", HATE_SLUR),
    ("blood libel", CARICATURE),
    ("четыр* букв* г", SWASTIKA),
    ("barely legal", PORN),
    ("child bride*", MINORS),
    ("nip slip*", BREASTS),
    ("ню арт", NUDITY),
    ("spread* her legs", ACT),
    ("spread* legs", ACT),
    ("раздвин* ног*", ACT),
    ("раздвиг* ног*", ACT),
    ("раздвинутыми ногами", ACT),
    ("dirty jew*", HATE_SLUR),
)

# Innocent words that contain a blocked stem at their start (the rest is handled by
# matching whole words or stems at word boundaries).
ALLOW = """
    страх* трахе* трахом* трахит* дрочен* драчен* пенист* секст* секстант* секцион*
    зигзаг* зигот* зигмунд* зигфрид* зиггурат* педикюр* педикул* педиатр* писюльк*
    анализ* аналог* аналит* голевой голевая голевые голкипер* голубь*
    сосиск* соскуч*
    клановый кланы клана
    penistone sextant* sexton* sextet* sexagon* essex sussex middlesex wessex
    nazir* nazareth* nazarene* klaxon*
    analyst* analys* analog* analogue* analy*
    cockadoodle* dikdik* членкорреспондент* трахтибидох* членистоног* членств* членораздельн*
    затрах*
    cockatoo* cocktail* cockroach* cockpit* cockerel* cockney* cockle* cocker*
    titmouse titmice titan* title* titular* tithe*
    assassin* assist* assemb* assess* asset* assign* assort* assum* assur* assert*
    pussycat* pussywillow*
    horny-toad hornyhead
    dickens* dickinson* dickie*
    sexist* sexism
    scunthorpe* therapist* shuttlecock* peacock* hancock* hitchcock* woodcock* babcock*
    nudibranch* siskin* joplin* minetest* nazion* nazim*
    cumul* cumin* cumbersome cumbria*
    негрони* negroni* нигери* nigeria* niggl* niggard* хачапур* хачатур* хатико hachiko*
    трахтенберг* adolfo* lolly lollies lollipop* хохлом{а,у,ы,е,ой} хохломск*
    spicy spicier spiciest snigger*
"""

# Profanity that is not, on its own, a reason to block a drawing, but that the HUD may mask.
PROFANITY = """
    хуе* хуё* хуй* хуя* хую* нахуй* похуй* охуе* охуи* нихуя* хули хуяр* хуяч*
    пизд* спизд* распизд* опизд*
    еба* ебу* ебн* ебл* ебо* ебись заеб* уеб* выеб* въеб* доеб* наеб* отъеб* поеб* съеб*
    разъеб* долбоеб* ёб еб
    бля* блят* бляд* сук{а,и,у,ой,ам} сучк* мудак* мудил* мудоз* пидор* пидар* гандон*
    херн* нахер* хер{,а,у,ом}
    fuck* motherfuck* shit* bullshit* cunt* bitch* asshole* dickhead* bastard* whore* slut*
    wtf damn* crap* piss*
"""

# Cyrillic words whose transliteration skeleton is an ordinary English word.
TRANSLIT_COLLISIONS = frozenset(
    {
        *("her", "hera", "heru", "hero", "heri", "pop", "pope", "pops", "hail", "hue", "zig"),
        *("manda", "mandu", "mandi", "mande", "huia", "popi", "popu", "sisi", "zigi", "zigu"),
        "hachi",
    }
)

# Substrings that are never innocent, searched across the whole message after folding (catches
# glued words such as 'нарисуйсиськи').
ANYWHERE: tuple[tuple[str, str], ...] = (
    ("жоп", BUTT),
    ("клукс", KKK),
    ("klux", KKK),
    ("свастик", SWASTIKA),
    ("swastik", SWASTIKA),
    ("сиськ", BREASTS),
    ("хентай", PORN),
    ("hentai", PORN),
    ("porn", PORN),
    ("влагалищ", GENITALS),
    ("vagina", GENITALS),
    ("мастурб", ACT),
    ("masturbat", ACT),
    ("blowjob", ACT),
    ("dildo", GENITALS),
    ("гитлер", NAZI),
    ("hitler", NAZI),
)
# Stems searched inside a run of single letters ('н а р и с у й х у й').
RUN_STEMS: tuple[tuple[str, str], ...] = (
    *ANYWHERE,
    ("хуй", GENITALS),
    ("хуи", GENITALS),
    ("пизд", GENITALS),
    ("член", GENITALS),
    ("жоп", GENITALS),
    ("penis", GENITALS),
    ("dick", GENITALS),
    ("cock", GENITALS),
    ("pussy", GENITALS),
    ("boobs", BREASTS),
    ("tits", BREASTS),
    ("секс", ACT),
    ("порн", PORN),
    ("нацист", NAZI),
    ("nazi", NAZI),
    ("sex", ACT),
    ("naked", NUDITY),
    ("nude", NUDITY),
    ("boob", BREASTS),
    ("nigg", HATE_SLUR),
    ("нигг", HATE_SLUR),
)

# Rules not trusted when a Russian word was typed in Latin look-alikes ('cc' is not 'сс').
NOT_FROM_LATIN = frozenset({SS})

# Numbers that are hate codes by themselves.
HATE_NUMBERS = frozenset({"1488", "14888", "8814"})

# Emoji: two different ones from this set, or 🔞, make a sexual request.
SEXUAL_EMOJI = frozenset("🍆🍑💦👅")
EXPLICIT_EMOJI = frozenset("🔞")
# Symbol characters that are hate symbols by themselves.
SWASTIKA_CHARS = frozenset("卐卍࿕࿖࿗࿘")

# Russian verbal prefixes for ``~stem*`` patterns.
VERB_PREFIXES = (
    "по",
    "от",
    "отъ",
    "вы",
    "за",
    "на",
    "пере",
    "раз",
    "рас",
    "с",
    "у",
    "об",
    "при",
    "под",
    "до",
    "из",
    "ис",
    "вз",
    "про",
    "недо",
    "о",
    "съ",
    "въ",
)
# Words a phrase may have in between its own ('without any clothes', 'без всякой одежды').
FILLERS = frozenset(
    {
        *("any", "her", "his", "their", "my", "your", "all", "some", "the", "a", "of"),
        *("всякой", "никакой", "своей", "своих", "её", "ее", "его", "их"),
    }
)

# Short function words never glued to a neighbour when looking for split words.
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "is",
        "in",
        "on",
        "at",
        "of",
        "to",
        "and",
        "or",
        "it",
        "be",
        "as",
        "by",
        "for",
        "my",
        "me",
        "i",
        "и",
        "в",
        "на",
        "по",
        "с",
        "к",
        "у",
        "а",
        "я",
        "не",
        "но",
        "за",
        "из",
        "от",
        "до",
        "как",
        "же",
        "ли",
        "бы",
        "то",
        "ну",
        "да",
    ]
)
