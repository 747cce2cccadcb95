// The moderator page (/mod). Signed in once on a device (signin.js: the code in the address
// `drawstreamctl mod-url` prints, or the token pasted by hand), it shows what is on air, the
// queue with each donation's verdicts and the preview of its picture, recent drawings and the
// bans, and acts on them through the HTTP API with the token.
//
// Nothing is polled. The events socket (/api/v1/events) says what changed; the page then
// updates from the event itself or reads just that part again. The picture on air and its
// progress come from the overlay's feed (/overlay/ws: the frames the audience sees). After a
// reconnect the page reads everything afresh; events that arrive meanwhile are applied after.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const ds = window.drawstreamd;
  const KINDS = [
    "queued", "started", "finished", "skipped", "failed", "cleared", "paused", "resumed",
    "removed", "verdict", "approved", "denied", "banned", "unbanned", "planned", "planner",
    "journal_error", "journal_ok",
  ];
  const HISTORY = 15;
  const ENDED = new Set(["shown", "skipped", "failed"]);
  const ANONYMOUS = "Anonymous";
  const CHECK = {
    pending: "model check: pending",
    done: "model check: passed",
    words: "model check: offline, words only",
  };

  const page = (window.drawstreamdMod = {
    state: "starting", // signed-in, kept, refused, none, pasted, forgotten, signed-out
    listening: false, // the events socket is open and has been sent the token
    synced: false, // the page has read the state since the socket opened
    seen: [], // "kind #id" of the latest events
    closed: null, // the close code of the last events socket
  });

  let token = null;
  let generation = 0; // a new sign-in or a sign-out: what an older one started is dropped
  let events = null;
  let feed = null;
  let feedHeard = 0;
  const tries = { events: 0, feed: 0 };
  const painter = ds.canvasPainter($("live"));
  const queue = new Map(); // id → { info, node, url, loading, again }
  const past = new Map(); // id → { info, node }
  let onAir = null; // CurrentReply of the drawing on air, or null
  let phase = "idle";
  let paused = false;

  class SignedOut extends Error {}

  // -- small helpers ------------------------------------------------------------------------
  function say(el, text) {
    el.textContent = text;
    el.hidden = !text;
  }

  function link(text, live = false) {
    $("link").textContent = text;
    $("link").classList.toggle("live", live);
  }

  function money(amount, currency) {
    return amount ? `${Number(amount.toFixed(2))} ${currency}` : "";
  }

  function tag(text, kind) {
    const span = document.createElement("span");
    span.className = `tag ${kind}`;
    span.textContent = text;
    return span;
  }

  // verdict, rule, name rule, model check, approval; and for past items how they ended
  function tags(el, info, ended = false) {
    const out = [];
    if (ended) {
      const how = info.reason ? `${info.status}: ${info.reason}` : info.status;
      out.push(tag(how, info.status === "shown" ? "" : "bad"));
    }
    const verdict = info.verdict || "allowed";
    const rule = info.rule && !info.rule.startsWith(`${verdict}:`) ? `${verdict}: ${info.rule}` : info.rule;
    out.push(tag(rule || verdict, verdict));
    if (info.name_rule) out.push(tag(`name hidden: ${info.name_rule}`, "refused"));
    if (CHECK[info.check]) out.push(tag(CHECK[info.check], info.check === "pending" ? "doubtful" : ""));
    if (info.approval === "waiting") out.push(tag("waits for a moderator", "wait"));
    else if (info.approval === "approved") out.push(tag("approved", "allowed"));
    el.replaceChildren(...out);
  }

  // put `nodes` in `list` in this order, moving only those out of place
  function order(list, nodes) {
    nodes.forEach((node, i) => {
      if (list.children[i] !== node) list.insertBefore(node, list.children[i] || null);
    });
  }

  function later(what, fn) {
    const delay = Math.min(5000, 250 * 2 ** tries[what]) * (0.5 + Math.random() / 2);
    tries[what] = Math.min(tries[what] + 1, 10);
    setTimeout(fn, delay);
  }

  function wsBase() {
    return `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}`;
  }

  // run `fn` now, or once more after the run in progress (events come in bursts)
  function coalesced(fn) {
    let running = false;
    let again = false;
    const run = async () => {
      if (running) {
        again = true;
        return;
      }
      running = true;
      try {
        await fn(generation);
      } catch (err) {
        if (!(err instanceof SignedOut)) warn(`Could not read the daemon: ${err.message}`);
      } finally {
        running = false;
        if (again) {
          again = false;
          run();
        }
      }
    };
    return run;
  }

  function warn(text) {
    say($("alert"), text);
  }

  // -- the API --------------------------------------------------------------------------------
  async function call(method, path, body) {
    const headers = { Authorization: `Bearer ${token}` };
    const init = { method, headers, cache: "no-store" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const r = await fetch(`/api/v1${path}`, init);
    if (r.status === 401) {
      signOut("forgotten", "The API token was changed: sign in again with the address drawstreamctl mod-url prints.");
      throw new SignedOut();
    }
    return r;
  }

  async function problem(r) {
    try {
      return (await r.json()).message || `HTTP ${r.status}`;
    } catch (_) {
      return `HTTP ${r.status}`;
    }
  }

  async function read(path) {
    const r = await call("GET", path);
    if (!r.ok) throw new Error(await problem(r));
    return r.json();
  }

  // a button's action: the button waits for the answer; a refusal is said in `where`
  async function act(button, where, method, path, body) {
    button.disabled = true;
    try {
      const r = await call(method, path, body);
      if (!r.ok) {
        say(where, await problem(r));
        return null;
      }
      say(where, "");
      return await r.json();
    } catch (err) {
      if (!(err instanceof SignedOut)) say(where, `Not sent: ${err.message}`);
      return null;
    } finally {
      button.disabled = false;
    }
  }

  // -- the confirmation sheet (deny, ban, clear) ---------------------------------------------
  let sheetRun = null;

  function confirmIn(title, ok, withReason, run) {
    const sheet = $("sheet");
    if (sheet.open) sheet.close();
    $("sheet-title").textContent = title;
    $("sheet-ok").textContent = ok;
    $("sheet-reason").hidden = !withReason;
    $("sheet-reason").value = "";
    say($("sheet-error"), "");
    sheetRun = run;
    sheet.showModal();
  }

  async function sheetSubmit(ev) {
    ev.preventDefault();
    const run = sheetRun;
    if (!run) return;
    const ok = $("sheet-ok");
    ok.disabled = true;
    try {
      const r = await run($("sheet-reason").value.trim());
      if (r.ok) {
        sheetRun = null;
        $("sheet").close();
      } else {
        say($("sheet-error"), await problem(r));
      }
    } catch (err) {
      if (err instanceof SignedOut) $("sheet").close();
      else say($("sheet-error"), `Not sent: ${err.message}`);
    } finally {
      ok.disabled = false;
    }
  }

  function askDeny(info) {
    confirmIn(
      `Deny #${info.id} from ${info.donor}? It is never drawn, and its message never shown.`,
      "Deny",
      true,
      (reason) => call("POST", `/queue/${info.id}/deny`, reason ? { reason } : {}),
    );
  }

  function askBan(donor) {
    confirmIn(
      `Ban ${donor}? Their later donations are skipped and never shown.`,
      "Ban",
      true,
      (reason) => call("POST", "/bans", reason ? { donor, reason } : { donor }),
    );
  }

  // -- items: the queue and the recent ones ------------------------------------------------------
  function makeItem(prefix, id, entry) {
    const node = $("item-template").content.firstElementChild.cloneNode(true);
    node.id = `${prefix}-${id}`;
    const note = node.querySelector(".note");
    const button = (cls, fn) => node.querySelector(cls).addEventListener("click", (ev) => fn(ev.currentTarget));
    button(".approve", (b) => act(b, note, "POST", `/queue/${id}/approve`));
    button(".deny", () => askDeny(entry.info));
    button(".ban", () => askBan(entry.info.donor));
    button(".replay", async (b) => {
      const again = await act(b, note, "POST", `/replay/${id}`);
      if (again) say(note, `Queued again as #${again.id}.`);
    });
    return node;
  }

  function fillItem(node, info, ended) {
    const $$ = (sel) => node.querySelector(sel);
    $$(".donor").textContent = info.donor;
    $$(".amount").textContent = money(info.amount, info.currency);
    $$(".id").textContent = `#${info.id}`;
    $$(".message").textContent = info.message;
    tags($$(".tags"), info, ended);
    const waiting = info.approval === "waiting";
    node.classList.toggle("waiting", waiting);
    $$(".approve").hidden = ended || !waiting;
    $$(".deny").hidden = ended;
    $$(".replay").hidden = !ended || info.status !== "shown" || info.verdict === "refused";
    $$(".ban").hidden = info.donor === ANONYMOUS;
  }

  function queued(info) {
    let entry = queue.get(info.id);
    if (!entry) {
      entry = { info: {}, node: null, url: null, loading: false, again: false };
      entry.node = makeItem("item", info.id, entry);
      entry.node.dataset.arrived = String(Date.now());
      entry.node.querySelector(".pic").dataset.note = "no preview yet";
      queue.set(info.id, entry);
      $("queue").append(entry.node);
    }
    Object.assign(entry.info, info);
    fillItem(entry.node, entry.info, false);
    counts();
    return entry;
  }

  function unqueue(id) {
    const entry = queue.get(id);
    if (!entry) return;
    if (entry.url) URL.revokeObjectURL(entry.url);
    entry.node.remove();
    queue.delete(id);
    counts();
  }

  function counts() {
    const waiting = [...queue.values()].filter((e) => e.info.approval === "waiting").length;
    $("queue-count").textContent = queue.size
      ? `${queue.size}${waiting ? ` · ${waiting} to decide` : ""}`
      : "";
    $("queue-empty").hidden = queue.size > 0;
    $("clear").disabled = queue.size === 0;
  }

  function setQueue(items) {
    const ids = new Set(items.map((i) => i.id));
    for (const id of [...queue.keys()]) if (!ids.has(id)) unqueue(id);
    const fresh = items.filter((i) => !queue.has(i.id));
    order($("queue"), items.map((i) => queued(i).node));
    for (const info of fresh) preview(info.id);
  }

  // the planned picture, fetched with the token (an <img> cannot send it); 404 until planned
  async function preview(id) {
    const entry = queue.get(id);
    if (!entry) return;
    if (entry.loading) {
      entry.again = true;
      return;
    }
    entry.loading = true;
    try {
      const r = await call("GET", `/queue/${id}/preview.png`);
      if (r.ok && queue.get(id) === entry) {
        const url = URL.createObjectURL(await r.blob());
        const img = entry.node.querySelector("img.preview");
        img.src = url;
        img.hidden = false;
        entry.node.querySelector(".pic").classList.add("shown");
        if (entry.url) URL.revokeObjectURL(entry.url);
        entry.url = url;
      }
    } catch (_) {
      // offline or signed out: the next sign-in or reconnect reads it again
    } finally {
      entry.loading = false;
      if (entry.again) {
        entry.again = false;
        preview(id);
      }
    }
  }

  function updateItem(id, fields) {
    const entry = queue.get(id);
    if (entry) queued({ ...entry.info, ...fields, id });
    if (onAir && onAir.id === id) showOnAir({ ...onAir, ...fields });
  }

  // the latest donations that are over (the journal's history also lists those still queued)
  function setHistory(all) {
    const items = all.filter((i) => ENDED.has(i.status)).slice(0, HISTORY);
    const ids = new Set(items.map((i) => i.id));
    for (const [id, entry] of past) {
      if (!ids.has(id)) {
        entry.node.remove();
        past.delete(id);
      }
    }
    const nodes = items.map((info) => {
      let entry = past.get(info.id);
      if (!entry) {
        entry = { info };
        entry.node = makeItem("past", info.id, entry);
        past.set(info.id, entry);
      }
      entry.info = info;
      fillItem(entry.node, info, true);
      const img = entry.node.querySelector("img.preview");
      const pic = entry.node.querySelector(".pic");
      if (info.status === "shown" && !entry.pictured) {
        entry.pictured = true; // tried once: a drawing whose picture was not saved has none
        img.src = `/gallery/${info.id}.png`; // public: what the audience saw
        img.hidden = false;
        pic.classList.add("shown");
        img.addEventListener("error", () => {
          img.hidden = true;
          pic.classList.remove("shown");
        });
      }
      return entry.node;
    });
    order($("history"), nodes);
    $("history-empty").hidden = items.length > 0;
  }

  function setBans(items) {
    $("bans").replaceChildren(
      ...items.map((ban) => {
        const li = document.createElement("li");
        const who = document.createElement("span");
        who.className = "who";
        const name = document.createElement("span");
        name.className = "donor";
        name.textContent = ban.donor;
        who.append(name);
        if (ban.reason) who.append(" ", tag(ban.reason, ""));
        const unban = document.createElement("button");
        unban.type = "button";
        unban.textContent = "Unban";
        unban.addEventListener("click", () => act(unban, $("alert"), "DELETE", "/bans", { donor: ban.donor }));
        li.append(who, unban);
        return li;
      }),
    );
    $("bans-empty").hidden = items.length > 0;
  }

  // -- on air ---------------------------------------------------------------------------------------
  function showOnAir(now) {
    onAir = now && now.id ? now : null;
    $("now-id").textContent = onAir ? `#${onAir.id}` : "";
    $("now-donor").textContent = onAir ? onAir.donor : "";
    $("now-amount").textContent = onAir ? money(onAir.amount, onAir.currency) : "";
    $("now-message").textContent = onAir ? onAir.message : "";
    if (onAir) tags($("now-tags"), onAir);
    else $("now-tags").replaceChildren();
    $("now-ban").disabled = !onAir || onAir.donor === ANONYMOUS;
  }

  function showPhase(state, progress) {
    phase = state;
    const idle = state === "idle" || state === "paused";
    $("state").textContent = state;
    $("now").classList.toggle("idle", idle);
    $("now").classList.toggle("holding", state === "holding");
    $("progress-fill").style.transform = `scaleX(${Math.max(0, Math.min(1, progress || 0))})`;
    $("skip").disabled = idle;
    if (idle && onAir) showOnAir(null);
    else if (!idle && !onAir) refreshOnAir();
  }

  function showPaused(yes) {
    paused = yes;
    $("pause").textContent = yes ? "Resume" : "Pause";
    $("pause").classList.toggle("primary", yes);
  }

  const refreshOnAir = coalesced(async (gen) => {
    const now = await read("/current");
    if (gen === generation) showOnAir(now);
  });
  const refreshQueue = coalesced(async (gen) => {
    const q = await read("/queue");
    if (gen === generation) setQueue(q.items);
  });
  const refreshHistory = coalesced(async (gen) => {
    const h = await read(`/history?limit=${HISTORY * 3}`);
    if (gen === generation) setHistory(h.items);
  });
  const refreshBans = coalesced(async (gen) => {
    const b = await read("/bans");
    if (gen === generation) setBans(b.items);
  });

  async function resync(gen) {
    const [status, now, q, h, b] = await Promise.all([
      read("/status"),
      read("/current"),
      read("/queue"),
      read(`/history?limit=${HISTORY * 3}`),
      read("/bans"),
    ]);
    if (gen !== generation) return;
    showPaused(status.paused);
    warn(status.journal === "ok" ? "" : `The journal cannot write (${status.journal}): donations are refused until it can.`);
    $("planner").textContent = `planner: ${status.planner}`;
    showOnAir(now);
    showPhase(now.state, now.progress);
    setQueue(q.items);
    setHistory(h.items);
    setBans(b.items);
  }

  // -- events ----------------------------------------------------------------------------------------
  function apply(event) {
    const id = event.item_id;
    const d = event.data || {};
    switch (event.kind) {
      case "queued":
        queued({ ...d, id, status: "queued" });
        break;
      case "verdict":
      case "approved":
        updateItem(id, d);
        break;
      case "planned":
        if (queue.has(id)) preview(id);
        break;
      case "started":
        unqueue(id);
        refreshOnAir();
        break;
      case "finished":
        refreshOnAir();
        refreshHistory();
        break;
      case "skipped":
      case "failed":
      case "denied":
      case "removed":
        unqueue(id);
        if (onAir && onAir.id === id) refreshOnAir();
        refreshHistory();
        break;
      case "cleared":
        refreshQueue();
        refreshHistory();
        break;
      case "paused":
      case "resumed":
        showPaused(event.kind === "paused");
        break;
      case "banned":
      case "unbanned":
        refreshBans();
        break;
      case "planner":
        $("planner").textContent = `planner: ${d.state}`;
        break;
      case "journal_error":
        warn(`The journal cannot write (${d.error}): donations are refused until it can.`);
        break;
      case "journal_ok":
        warn("");
        break;
      default:
        break;
    }
  }

  function listen(gen) {
    const ws = new WebSocket(`${wsBase()}/api/v1/events?kinds=${KINDS.join(",")}`);
    events = ws;
    page.synced = false;
    let backlog = [];
    ws.onopen = () => {
      ws.send(JSON.stringify({ token }));
      page.listening = true;
      link("live", true);
      resync(gen).then(
        () => {
          const waiting = backlog;
          backlog = null;
          waiting.forEach(apply);
          page.synced = true;
          tries.events = 0;
        },
        (err) => {
          if (!(err instanceof SignedOut)) ws.close(4000, "could not read the state");
        },
      );
    };
    ws.onmessage = (m) => {
      const event = JSON.parse(m.data);
      page.seen.push(`${event.kind}${event.item_id ? ` #${event.item_id}` : ""}`);
      if (page.seen.length > 400) page.seen.splice(0, 200);
      if (backlog) backlog.push(event);
      else apply(event);
    };
    ws.onclose = async (e) => {
      if (ws !== events) return;
      events = null;
      page.listening = false;
      page.synced = false;
      page.closed = e.code;
      if (gen !== generation) return;
      link("reconnecting…");
      if (e.code === 1008) {
        // a wrong or rotated token, or a page that fell behind: the API says which
        try {
          await read("/status");
        } catch (err) {
          if (err instanceof SignedOut) return;
        }
      }
      later("events", () => gen === generation && !events && listen(gen));
    };
  }

  function watch(gen) {
    const ws = new WebSocket(`${wsBase()}/overlay/ws`);
    ws.binaryType = "arraybuffer";
    feed = ws;
    feedHeard = Date.now();
    let hud = null;
    ws.onmessage = (m) => {
      feedHeard = Date.now();
      try {
        if (typeof m.data !== "string") {
          painter.paint(m.data);
          return;
        }
        const msg = JSON.parse(m.data);
        if (msg.t === "hello") {
          hud = null;
          tries.feed = 0;
        } else if (msg.t === "hud") {
          // the first HUD message on a socket is whole; later ones carry what changed
          hud = hud ? { ...hud, ...msg } : msg;
          showPhase(hud.phase, hud.progress);
        }
      } catch (_) {
        ws.close(4000, "bad message");
      }
    };
    ws.onclose = () => {
      if (ws !== feed) return;
      feed = null;
      if (gen === generation) later("feed", () => gen === generation && !feed && watch(gen));
    };
  }

  // a phone that slept, or a route that died quietly: the feed pings every 20 s
  setInterval(() => {
    if (feed && feed.readyState === WebSocket.OPEN && Date.now() - feedHeard > 60000) {
      feed.close(4001, "silent");
      if (events) events.close(4001, "silent");
    }
  }, 5000);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState !== "visible" || token === null) return;
    const gen = generation;
    tries.events = tries.feed = 0;
    if (!events) listen(gen);
    if (!feed) watch(gen);
  });

  // -- signing in and out --------------------------------------------------------------------------
  function showLogin(text) {
    say($("signin"), text);
    $("app").hidden = true;
    $("login").hidden = false;
    link("signed out");
  }

  function signOut(state, text) {
    generation++;
    token = null;
    page.state = state;
    page.listening = false;
    ds.forget();
    for (const ws of [events, feed]) if (ws) ws.close(1000, "signed out");
    events = feed = null;
    for (const id of [...queue.keys()]) unqueue(id);
    setHistory([]);
    setBans([]);
    showOnAir(null);
    if ($("sheet").open) $("sheet").close();
    warn("");
    showLogin(text);
  }

  async function begin(given) {
    token = given;
    const gen = ++generation;
    let status;
    try {
      status = await read("/status");
    } catch (err) {
      if (err instanceof SignedOut) return;
      link("offline");
      later("events", () => gen === generation && begin(given));
      return;
    }
    if (gen !== generation) return;
    $("login").hidden = true;
    $("app").hidden = false;
    $("state").textContent = status.state;
    showPaused(status.paused);
    listen(gen);
    watch(gen);
  }

  async function pasted(ev) {
    ev.preventDefault();
    const given = $("token-input").value.trim();
    if (!given) return;
    let r;
    try {
      r = await fetch("/api/v1/status", { headers: { Authorization: `Bearer ${given}` }, cache: "no-store" });
    } catch (err) {
      say($("signin"), `The daemon does not answer: ${err.message}`);
      return;
    }
    if (!r.ok) {
      say($("signin"), r.status === 401 ? "That is not the API token (drawstreamctl token prints it)." : await problem(r));
      return;
    }
    ds.remember(given);
    $("token-input").value = "";
    page.state = "pasted";
    say($("signin"), "");
    begin(given);
  }

  function wire() {
    $("token-form").addEventListener("submit", pasted);
    $("sheet-form").addEventListener("submit", sheetSubmit);
    $("sheet-cancel").addEventListener("click", () => $("sheet").close());
    $("sheet").addEventListener("close", () => {
      sheetRun = null;
    });
    $("skip").addEventListener("click", (ev) => act(ev.currentTarget, $("alert"), "POST", "/skip"));
    $("pause").addEventListener("click", async (ev) => {
      const reply = await act(ev.currentTarget, $("alert"), "POST", paused ? "/resume" : "/pause");
      if (reply) showPaused(reply.paused);
    });
    $("now-ban").addEventListener("click", () => onAir && askBan(onAir.donor));
    $("clear").addEventListener("click", () =>
      confirmIn(
        `Clear the queue? ${queue.size} waiting donation${queue.size === 1 ? " is" : "s are"} dropped, none of them drawn.`,
        "Clear",
        false,
        () => call("POST", "/clear"),
      ),
    );
    $("signout").addEventListener("click", () => signOut("signed-out", "Signed out on this device."));
  }

  async function start() {
    wire();
    const { token: kept, state, message } = await ds.signIn();
    page.state = state;
    if (!kept) {
      showLogin(
        state === "refused"
          ? `Sign-in refused: ${message}. Run drawstreamctl mod-url for a new address, or paste the token.`
          : "Not signed in: open the address drawstreamctl mod-url prints, or paste the token.",
      );
      return;
    }
    // signed in: the "live" mark says so; a spent or wrong code is worth a line
    say($("signin"), state === "refused" ? `That code did not work (${message}); still signed in from before.` : "");
    await begin(kept);
  }

  start();
})();
