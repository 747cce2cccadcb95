"""Word lists of the combination rules (data only; combos.py matches them).

Group patterns use the syntax of lexicon.py (``word``, ``stem*``, ``ab{,c}``). A combination
(``Combo``) names groups as ``@name`` or gives a slot's words inline (``nothing``,
``cp|цп``); ``also`` groups are needed anywhere in the message, ``seq`` slots one after
another (``<end>`` is the end of the message), and a word of an ``unless`` group makes the
message innocent. docs/gatekeeper.md explains the choices.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from drawstreamd.gatekeeper import lexicon

SLUR = lexicon.HATE_SLUR
CARICATURE = lexicon.CARICATURE
LYNCHING = lexicon.LYNCHING
EXTREMIST = lexicon.EXTREMIST
MINORS = lexicon.MINORS
NUDITY = lexicon.NUDITY
MINOR = "minor"  # the group that turns a sexual refusal into minors:sexual

# Word groups, by name; a combination refers to them as "@name".
GROUPS: dict[str, str] = {
    # people
    "victim": """
        man men guy guys dude dudes person people body bodies corpse* woman women girl girls boy
        boys lady kid kids child children stickman stickmen human* negro* someone suicide*
        человек* люд{и,ей,ям,ьми,ях} мужчин* мужик* парн{я,ю,ем,и,ей} парен* женщин* девушк*
        девочк* мальчик* тел{о,а} труп* негр* чернокож* темнокож* самоубийц* ребен* дет{и,ей}
    """,
    "victim_acc": """
        человека людей негра негров черного черных чернокожего чернокожих темнокожего тело трупы
    """,
    "hung_things": """
        картин* штор* бель* полк* гирлянд* люстр* одежд* пальто куртк* шар* игрушк* флаг* постер*
        плакат* часы зеркал* лампу
    """,
    "hang": """
        hang hanging hanged hung hangs
        повеш* вешают вешает вешать вешали вешала вешал повесили повесить повесил* повесят
        вздерн* висит висящ* висел* висят болтает* болтающ* свисает свисающ*
    """,
    "hang_verb_ru": "вешают вешает вешать вешали вешал вешала повесили повесить повесят вздерн*",
    "gallows_place": """
        tree trees oak oaks poplar* branch* rope* noose* neck* gallows lamppost* rafter* beam*
        дерев* дуб* столб* верев* петл* шее шею шея шеи виселиц* ветк* ветв* сук{,у,е} балк*
        фонар* тополь* тополя
    """,
    "noose_ru": "петл{е,ю,ей}",
    "not_noose": "вязан* спиц* самолет* нестеров* шнур* узел* узл* пряж* крючк*",
    "black": "black blacks черн{ый,ая,ое,ые,ого,ой,ую,ых,ым,ыми,ом,ому} черныш*",
    "man_en": "man men guy guys dude dudes person people boy boys kid kids",
    # Jewish people and the tropes of antisemitic caricature
    "jew": """
        jew jews jewish jewess jewry rabbi rabbis kike kikes yid yids
        евре{й,я,ю,ем,е,и,ев,ям,ями,ях} еврейк* еврейчик* еврейск* иуде{й,я,ю,ем,и,ев,ям,ями}
        раввин* жид{,а,у,ом,ы,ов,ам,ами,ах} жидов* жидяр* жыд{,а,у,ом,ы,ов}
    """,
    "trope": """
        nose noses nosed hooknose* hooknosed greed greedy money moneybag* moneybags gold
        coin coins shekel* counting rubbing puppet* puppeteer* control* controlling rule ruling
        rat rats vermin cockroach* octopus* gas gassed lampshade* soap cartoon* caricature*
        banker bankers merchant* media parasite* leech* sly cunning horn horns blood
        stereotyp* typical
        нос{,а,ом,ами,ы} носат* горбонос* крючк* крюч* жадн* деньг* денег денежк* золот* монет*
        шекел* мешк* мешок ростовщ* потира* кукловод* управля* правят правит правящ* крыс*
        таракан* осьминог* газов* абажур* мыл{о,а,ом} карикатур* банкир* торгаш* хитр*
        концлагер* паразит* пиявк* рог{а,ами} рожк* стереотип* типичн*
    """,
    "oven": "oven ovens печ{ь,и,ью,ах,ам,ку,ке,ки} печк*",
    "into": "in into inside в во full полн*",
    "funny": "funny joke* lol lmao haha* meme* смешн* шутк* шуточн* прикол* мем{,а,ы,ом,е} ржак*",
    "holocaust": "holocaust* холокост* освенцим* auschwitz shoah шоа",
    "happy": "happy счастлив* довольн*",
    "merchant": "merchant merchants торгов{ец,ца,цу,цем,цы,цев}",
    "trade": """
        sell* sold shop* store* market* stall* fruit* apple* fish* ship* boat* рын* прода* лавк*
        магазин* рыб* фрукт* ярмарк* корабл* товар*
    """,
    # extremist imagery described in words
    "sun": "sun suns солнц*",
    "eclipse": "eclipse* затмени* корон{а,е,ой,у}",
    "symbol": """
        symbol* sign* rune* runic tattoo* occult* esoteric* wheel* spoke* nazi* ss sig sonnenrad*
        символ* знак* рун{,а,у,ы,ой,ами,ах} руническ* татуиров* тату оккульт* эзотери* колес*
        спиц* наци* нацист* сс эсесов* эсэсов* сонненрад* ваффен*
    """,
    "flag": "flag* banner* armband* флаг* знам* повязк* нарукав* стяг*",
    "spider": "spider* паук* паучк* паучок",
    "red": "red красн*",
    "white": "white бел{ый,ая,ое,ые,ого,ой,ую,ых,ым,ыми,ом,ому}",
    "circle": "circle* круг{,е,ом,а}",
    "arabic": "arabic shahada* jihad* араб* шахад* джихад*",
    "hood": "hood hoods hooded колпак* капюшон* балахон*",
    "torch": "torch* burning fire flaming факел* горящ* огн* пылающ*",
    "burning": "burning burnt flaming fiery горящ* пылающ* подожжен* огненн*",
    "cross": "cross crosses крест{,а,ом,ы,ов}",
    "words": "words слов{,а}",
    "fourteen": "14 fourteen четырнадцат*",
    "about": "about for of про о об обо для",
    "odal": "odal othala одал*",
    "wing": "wing wings winged крыл*",
    "hh": "hh хх",
    "88": "88",
    "ranger": "ranger* rangers рейнджер*",
    "wolf": "wolf wolfs волч{ий,ьего,ьим,ьем}",
    "hook": "hook hooks крюк{,а,ом}",
    "sig": "sig sigs",
    "rune": "rune runes рун{а,у,ы,ой,ами}",
    # minors
    "minor": """
        child children childs kid kids kiddie* kiddo toddler* baby babies infant* preteen* tween*
        underage* schoolgirl* schoolboy* teen teens teenager* youngster* daughter* loli lolis
        ребен* ребят* дет{и,ей,ям,ьми,ях,ишк*,очк*} детск* малыш* младен* девочк* девчушк*
        мальчик* мальчишк* школьниц* школьник* первоклас* подрост* несовершеннолетн*
        малолетн* малолетк* дочк* дочь дочер* внучк* лоли лол{я,ю,ей,ечк*}
        двухлетн* трехлетн* четырехлетн* пятилетн* шестилетн* семилетн* восьмилетн* девятилетн*
        десятилетн* одиннадцатилетн* двенадцатилетн* тринадцатилетн* четырнадцатилетн*
        пятнадцатилетн* шестнадцатилетн* семнадцатилетн*
    """,
    "num_en": """
        two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen
        sixteen seventeen
    """,
    "short_skirt": "miniskirt* short коротк* мини",
    "little": "little young small tiny маленьк* юн{ая,ую,ой,ый,ого,ые,ых}",
    "girl_boy": "girl girls boy boys",
    "underwear": """
        underwear panties panty thong thongs lingerie bra bras knickers undies
        трусик* трус{ы,ах,ами,ов,иках} стринг* чулк* чулочк* бель{е,я,ем} лифчик* бюстгальтер*
        пеньюар*
    """,
    "sheer": "seethrough transparent sheer прозрачн* просвечива*",
    "garment": """
        top tops dress dresses shirt nightgown* nightie* blouse* ночнушк* плать* рубашк* сорочк*
        майк* маечк* блузк* купальник* халат*
    """,
    "swim": """
        bikini* swimsuit* swimwear speedo*
        купальник* бикини плавк* плавочк* купальн{ом,ый}
    """,
    "pose": """
        pose poses posing posed spread spreading spreads bent seductive* provocative* suggestive*
        sexy sensual* поз{а,е,у,ой,ами} позир* раздвин* раздвиг* наклон* откровенн* соблазнит*
        провокацион* четвереньк* раком
    """,
    "kiss": "kiss kisses kissing kissed целу* поцел*",
    "adult": "adult adults grown grownup* взросл* дяд{я,ю,ей,ей,и} мужик*",
    "lift": "lift lifts lifting lifted raise raising задира* задрал* задер* поднима* подня*",
    "skirt": "skirt skirts dress юбк* плать*",
    "drawverb": "draw paint sketch show нарисуй нарисовать изобрази покажи хочу намалюй",
    # nudity in plain words
    "human": """
        woman women girl girls lady ladies man men guy guys boy person people she her herself he
        him himself female* wife gf girlfriend* chick* babe*
        девушк* женщин* баб{а,у,ы,ой,е,ами,ах} бабенк* телк* телочк* тетк* девк* девочк* парн*
        парен* мужчин* мужик* она ее ей жена жену подруг* дам{а,у,ы,ой} красотк* модел*
    """,
    "female": """
        woman women girl girls lady ladies she her herself female* wife gf girlfriend* chick*
        babe* девушк* женщин* баб{а,у,ы,ой,е,ами,ах} бабенк* телк* телочк* тетк* девк* девочк*
        она ее ей жена жену подруг* дам{а,у,ы,ой} красотк*
    """,
    "wearing": "wearing wears wear wore wearin",
    "neg": "not isn isnt doesn doesnt aint no",
    "bare": "bare",
    "bodypart": "chest chested breast* body bodies butt* bottom* ass boob* tits skin",
    "top": "top shirt bra blouse tshirt",
    "cloth": "towel* dress* robe* bathrobe* полотенц* плать* халат* простын* сорочк*",
    "fall_en": "fell fall falls falling fallen slip slips slipped slipping slid drop* dropping",
    "fall_ru": "упал* упад* пада* сполз* спало спадает спадающ* соскольз* слетел* свалил* слетает",
    "clothes": "clothes clothing одежд*",
    "remove": """
        took take takes taking remove* removing strip* снял* снима* сним* сняв* стянул* стяг*
    """,
    "without": "без no without",
    "everything_ru": "всего ничего",
    "top_ru": """
        верха майк{и,у} футболк{и,у} кофт{ы,у} блузк{и,у} рубашк{и,у} shirt top tshirt blouse
    """,
    "towel": "towel* полотенц*",
    "cover": "cover covers covering covered",
    "hands": "hand hands",
    "show": "showing shows show flashing flashes",
    "torso": "торс{,ом,а}",
    "naked_ru": "гол{ым,ой,ый,ая,ую}",
    # doubtful
    "shirtless": "shirtless barechested",
    "suggestive": """
        seductive* flirt* sensual* cleavage* провокацион* соблазнительн* кокетлив* чувственн*
        декольте
    """,
    "hot": "hot горяч*",
    "blood_test": "test tests type donor* transfusion* анализ* групп* донор* переливан* сдач*",
    "gore": """
        blood bloody bleeding gore gory guts gut entrails corpse* dismember* decapitat*
        beheaded behead* severed massacre*
        кровь крови кровью кровав* кровищ* окровавлен* кишк* кишок расчлен* обезглав* отрубленн*
        труп{,ы,а,ов,ом,ами} резн{я,ю,и}
    """,
    "weapon": """
        gun guns pistol* rifle* revolver* shotgun* knife knives machinegun* ak47 sniper*
        пистолет* ружь{е,я,ем} ружье винтовк* револьвер* нож{,а,ом,и} автомат{,а,ом,ы} дробовик*
        снайпер* ствол{,ом}
    """,
    "aim": """
        point points pointing pointed aim aims aiming aimed shoot shoots shooting shot kill kills
        killing killed stab stabs stabbing execut*
        стреля* целит* целящ* целясь направл* наставил* наставля* убива* убей убить убил*
        зареза* зарезат* пристрел* застрел* расстрел* казн*
    """,
    "politician": """
        putin* zelensk* zelenskyy trump biden* navalny* lukashenk* stalin* lenin* obama* macron*
        kadyrov* erdogan* netanyahu* shoigu* prigozhin* jinping
        путин* зеленск* трамп{,а,у,ом,е} байден* навальн* лукашенк* сталин* ленин{,а,у,ым,е}
        обам{а,у,ы,ой} макрон* кадыров* эрдоган* нетаньяху шойгу пригожин* цзиньпин*
    """,
    "my": "my мою моего мой моей моих мои",
    "target": """
        ex exes exgf exbf boss teacher neighbour neighbor classmate* stepmom stepdad
        бывш* начальни* учител* училк* сосед* одноклассни* отчим* мачех*
    """,
    "flag_doubt": "confederate* конфедерат* конфедерац*",
    "iron": "iron железн*",
    "gallows": "gallows виселиц*",
}

# Extra groups a message gets from a run of words or from its text.
DERIVED_SEQ: tuple[tuple[str, str], ...] = (
    (MINOR, "@little @girl_boy"),
    (MINOR, "@num_en year|years|yr|yrs|yo"),
    ("swim", "bathing|swim suit|suits|trunks"),
    ("sheer", "see through"),
)
# '12 year old', '12yo', '12-летняя', '10 лет', '13 y.o.', 'aged 12'
AGE_RE = re.compile(
    r"(?<![\d.,])(?:[1-9]|1[0-7])\s*-?\s*"
    r"(?:years?\b|yrs?\b|y\.?\s?o\b|летн|лет\b|годик|годовал)"
    r"|\b(?:age|aged|возраст\w*)\s*(?:[1-9]|1[0-7])\b"
)


class Combo(NamedTuple):
    """A refusal (or a doubtful verdict) that needs several kinds of words."""

    rule: str
    also: str = ""  # groups ('@name' or 'word|stem*'), each needed anywhere in the message
    seq: str = ""  # slots needed one after another ('<end>' is the end of the message)
    unless: str = ""  # groups that make the message innocent wherever they are


# Refusals, in order; the first that fires names the rule.
REFUSALS: tuple[Combo, ...] = (
    # sexualised minors (a sexual rule in a message with a minor also becomes minors:sexual)
    Combo(MINORS, "@minor @underwear"),
    Combo(MINORS, "@minor @sheer @garment"),
    Combo(MINORS, "@minor @swim @pose"),
    Combo(MINORS, "@minor @kiss @adult"),
    Combo(MINORS, "@minor @lift @skirt"),
    Combo(MINORS, "", "@drawverb cp|цп"),
    Combo(MINORS, "", "@hot @minor"),
    # lynching
    Combo(LYNCHING, "@hang @victim @gallows_place", "", "out"),
    Combo(LYNCHING, "@hang @black @man_en", "", "out|around"),
    Combo(LYNCHING, "@hang_verb_ru @victim_acc", "", "@hung_things"),
    Combo(LYNCHING, "@victim", "в|во @noose_ru", "@not_noose"),
    Combo(LYNCHING, "@victim", "@noose_ru на шее|шею"),
    Combo(LYNCHING, "@hang", "strange fruit"),
    Combo(LYNCHING, "", "день веревки"),
    Combo(LYNCHING, "@victim @gallows"),
    Combo(LYNCHING, "@victim_acc @gallows"),
    Combo(LYNCHING, "", "@hang himself|herself|themselves|myself|yourself"),
    Combo(SLUR, "", "слово на н"),
    Combo(SLUR, "", "слово на букву н"),
    # racist caricature
    Combo(SLUR, "@black @man_en", "as|like|are|is monkey*|ape|apes|gorilla*|chimp*"),
    Combo(SLUR, "черн*|темнокож*|негр*", "виде|как обезьян*|макак*|горилл*"),
    # antisemitic caricature
    Combo(CARICATURE, "@jew @trope"),
    Combo(CARICATURE, "@jew", "@into @oven"),
    Combo(CARICATURE, "@jew", "@oven @into"),
    Combo(CARICATURE, "@holocaust @funny"),
    Combo(CARICATURE, "", "@happy @merchant", "@trade"),
    # extremist imagery
    Combo(EXTREMIST, "@symbol", "@black @sun", "@eclipse"),
    Combo(EXTREMIST, "@flag @spider"),
    Combo(EXTREMIST, "@flag @red @white @circle @black"),
    Combo(EXTREMIST, "@flag @black @arabic"),
    Combo(EXTREMIST, "@flag jihad*|джихад*"),
    Combo(lexicon.NAZI, "@flag рейх|рейха|рейху|рейхе|reich"),
    Combo(EXTREMIST, "", "@flag иг"),
    Combo(EXTREMIST, "", "@fourteen @words", "@about"),
    Combo(EXTREMIST, "@odal @wing"),
    Combo(lexicon.NAZI, "", "@white гордост*"),
    Combo(EXTREMIST, "@hh @88"),
    Combo(EXTREMIST, "", "@wolf @hook"),
    Combo(EXTREMIST, "", "@sig @rune"),
    Combo(lexicon.NAZI, "", "@white power", "@ranger"),
    Combo(lexicon.KKK, "@hood @white @torch"),
    Combo(lexicon.KKK, "", "@burning @cross"),
    Combo(lexicon.KKK, "", "@cross burning"),
    # nudity in plain words
    Combo(NUDITY, "@human @wearing nothing"),
    Combo(NUDITY, "@human", "nothing on", "head|hat|screen|plate|tv"),
    Combo(NUDITY, "@human", "nothing underneath|under"),
    Combo(NUDITY, "@human @wearing anything @neg"),
    Combo(NUDITY, "@female", "@bare @bodypart"),
    Combo(NUDITY, "", "bare body|bodies|breasts|boobs|tits|butt|bottom"),
    Combo(NUDITY, "@female", "@top off"),
    Combo(NUDITY, "@female", "без|without|no @top_ru"),
    Combo(NUDITY, "@female", "@top @fall_en"),
    Combo(NUDITY, "@human @cloth", "@fall_en off|down"),
    Combo(NUDITY, "@human @cloth @fall_ru"),
    Combo(NUDITY, "@human @clothes @remove", "", "dryer|laundry|line|стирк*|сушилк*|шкаф*"),
    Combo(NUDITY, "@human", "без @everything_ru"),
    Combo(NUDITY, "@human", "без верха"),
    Combo(NUDITY, "@human", "на которой|ней ничего"),
    Combo(NUDITY, "", "не надето|одето ничего"),
    Combo(NUDITY, "@human", "нет одежды"),
    Combo(NUDITY, "@human", "прикрыва*|прикрывающ*|прикрыл* руками|ладонями"),
    Combo(NUDITY, "@human", "@without @towel"),
    Combo(NUDITY, "@human", "снял*|сняв*|снимает|снимающ* все"),
    Combo(NUDITY, "@human", "снял*|сняв*|снимает|снимающ* с|со себя все"),
    Combo(NUDITY, "@human", "@show everything"),
    Combo(NUDITY, "@human", "показыва* все <end>"),
    Combo(NUDITY, "@cover herself|himself @hands"),
    Combo(NUDITY, "@female @naked_ru @torso"),
)

# Doubtful verdicts (only when nothing refuses), in order.
DOUBTFUL: tuple[Combo, ...] = (
    Combo("doubtful:minors", "@minor @swim"),
    Combo("doubtful:minors", "@minor", "@short_skirt юбк*|skirt|skirts"),
    Combo("doubtful:minors", "@minor @short_skirt"),
    Combo("doubtful:underwear", "@human @underwear"),
    Combo("doubtful:swimwear", "@swim"),
    Combo("doubtful:swimwear", "@shirtless"),
    Combo("doubtful:swimwear", "", "bare chested|chest"),
    Combo("doubtful:swimwear", "@naked_ru @torso"),
    Combo("doubtful:swimwear", "@human @towel"),
    Combo("doubtful:swimwear", "@female", "в|in|the ванне|ванной|бане|сауне|shower|bath|bathtub"),
    Combo("doubtful:suggestive", "@suggestive"),
    Combo("doubtful:suggestive", "@sheer @garment"),
    Combo("doubtful:suggestive", "@lift @skirt"),
    Combo("doubtful:suggestive", "", "@hot @female"),
    Combo("doubtful:kiss", "@kiss"),
    Combo("doubtful:gore", "@gore", "", "@blood_test"),
    Combo("doubtful:symbol", "", "@black @sun", "@eclipse"),
    Combo("doubtful:gore", "@gallows"),
    Combo("doubtful:weapon", "@weapon @aim"),
    Combo("doubtful:politics", "@politician"),
    Combo("doubtful:person", "", "@my @target"),
    Combo("doubtful:flag", "@flag_doubt"),
    Combo("doubtful:flag", "", "@iron @cross"),
)

# Words a run may skip between two of its slots ('in an oven', 'сняла с себя всё').
SKIPPABLE = lexicon.FILLERS | {"s", "t", "with", "a", "an", "с", "со", "и", "себя"}

# Groups of everyday words: a combination is looked at only when the message holds a word of
# one of its other groups (its trigger), so most messages skip the combinations altogether.
_COMMON_GROUPS = """
    drawverb into about human female victim victim_acc man_en black white red my neg without
    hands little girl_boy show cover flag words fourteen happy top top_ru fall_en fall_ru
    everything_ru wearing hang_verb_ru gallows_place minor pose adult lift skirt hot trope
    garment trade symbol aim
"""
_COMMON_SLOTS = (
    *("в|во", "в|in|the", "on", "off", "все", "без", "без|without|no", "off|down"),
    *("as|like|are|is", "виде|как", "черн*|темнокож*|негр*", "на", "не", "нет", "день"),
    *("которой|ней",),
)
COMMON = frozenset("@" + name for name in _COMMON_GROUPS.split()) | frozenset(_COMMON_SLOTS)
