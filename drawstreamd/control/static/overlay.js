// The drawstreamd browser source. It draws nothing itself: it shows the canvas frames and the
// HUD state the daemon sends over /overlay/ws (see drawstreamd/control/overlay.py).
"use strict";

(() => {
  const params = new URLSearchParams(location.search);
  const $ = (id) => document.getElementById(id);
  const canvas = $("canvas");
  const painter = window.drawstreamd.canvasPainter(canvas);
  const state = {
    connected: false, // hello, a whole frame and the HUD have arrived on the current socket
    connects: 0,
    lastClose: null, // the close code of the last socket that had been open
    attempts: 0, // connection attempts since the last socket that opened
    frames: 0,
    huds: 0,
    bytes: 0,
    hud: null,
  };
  window.overlay = state;

  let labels = {};
  let socket = null;
  let attempts = 0;
  let lastMessage = 0;
  let keepalive = 20;
  let gotFrame = false;
  let gotHud = false;

  // -- layout: the same arithmetic as hud.py's Layout.compute --------------------------------
  function designSize() {
    const wanted = params.get("layout");
    const h = wanted === "720" ? 720 : wanted === "1080" ? 1080 : innerWidth >= 1600 ? 1080 : 720;
    return [h === 1080 ? 1920 : 1280, h];
  }

  function place(el, x, y, w, h) {
    el.style.left = `${x}px`;
    el.style.top = `${y}px`;
    el.style.width = `${w}px`;
    if (h !== undefined) el.style.height = `${h}px`;
  }

  function layout(cw, ch) {
    const [W, H] = designSize();
    const wanted = parseInt(params.get("scale") || "0", 10);
    const auto = Math.max(1, Math.min(Math.floor((H - Math.floor(H / 6)) / ch), Math.floor(Math.floor(W / 2) / cw)));
    const scale = wanted >= 1 && wanted <= 64 ? wanted : auto;
    const u = Math.max(10, Math.floor(H / 40));
    const bannerH = u * 4;
    const size = [cw * scale, ch * scale];
    const cx = Math.floor((W - size[0]) / 2);
    const cy = Math.max(u, Math.floor((H - bannerH - size[1]) / 2));
    const pad = u * 2;
    document.body.style.setProperty("--u", `${u}px`);
    place($("stage"), 0, 0, W, H);
    place(canvas, cx, cy, size[0], size[1]);
    place($("left"), pad, cy, Math.max(u * 8, cx - 2 * pad), size[1]);
    const rightX = cx + size[0] + pad;
    place($("right"), rightX, cy, Math.max(u * 8, W - (cx + size[0]) - 2 * pad), size[1]);
    $("info").style.bottom = `${u * 4}px`;
    $("bar").style.height = `${u * 4}px`;
    $("note").style.top = `${Math.round(u * 1.1 * 1.21)}px`;
    $("next").style.top = `${u * 3}px`;
    $("banner").style.height = `${bannerH}px`;
    $("banner").style.fontSize = `${u * 2.4}px`;
  }

  // -- canvas frames (frames.js) -----------------------------------------------------------------
  function frame(buf) {
    if (painter.paint(buf)) gotFrame = true;
    state.frames++;
  }

  // -- HUD ----------------------------------------------------------------------------------------
  function show(el, visible) {
    el.style.display = visible ? "" : "none";
  }

  function hud(h) {
    state.hud = h;
    const idle = h.phase === "idle" || h.phase === "paused" || !h.donor;
    $("idle").textContent = labels[h.phase === "paused" ? "paused" : "idle"] || "";
    show($("idle"), idle);
    $("donor").textContent = h.donor;
    $("amount").textContent = h.amount;
    $("message").textContent = h.message;
    show($("donor"), !idle);
    show($("amount"), !idle && h.amount !== "");
    show($("message"), !idle);
    clampMessage();

    const bar = $("bar");
    const active = h.phase === "drawing" || h.phase === "holding" || h.phase === "planning";
    bar.classList.toggle("hidden", !active);
    bar.classList.toggle("holding", h.phase === "holding");
    const key = h.thinking || h.phase === "planning" ? "thinking" : h.phase;
    $("bar-label").textContent = labels[key] || "";
    $("bar-fill").style.width = `${Math.max(0, Math.min(1, h.progress)) * 100}%`;

    $("stats").textContent = `${labels.queue}: ${h.queue} · ${h.fps} ${labels.fps}`;
    $("note").textContent = h.note;
    $("next-title").textContent = labels.next || "";
    $("empty").textContent = labels.empty || "";
    show($("empty"), h.upcoming.length === 0);
    const list = $("upcoming");
    list.replaceChildren(
      ...h.upcoming.map((u) => {
        const li = document.createElement("li");
        const head = document.createElement("div");
        head.className = "head";
        const who = document.createElement("span");
        who.className = "who text ellipsis";
        who.textContent = `${u.donor} · ${u.amount}`;
        const eta = document.createElement("span");
        eta.className = "eta small dim";
        eta.textContent = u.eta;
        head.append(who, eta);
        const msg = document.createElement("div");
        msg.className = "msg small dim ellipsis";
        msg.textContent = u.message;
        li.append(head, msg);
        return li;
      }),
    );
    gotHud = true;
    state.huds++;
  }

  function clampMessage() {
    const msg = $("message");
    msg.style.display = msg.style.display === "none" ? "none" : "-webkit-box";
    msg.style.webkitBoxOrient = "vertical";
    const room = $("info").clientHeight - msg.offsetTop;
    const line = parseFloat(getComputedStyle(msg).lineHeight) || 1;
    msg.style.webkitLineClamp = String(Math.max(1, Math.floor(room / line)));
  }

  // -- the socket -------------------------------------------------------------------------------
  function setConnected(yes) {
    state.connected = yes;
    document.body.classList.toggle("offline", !yes);
  }

  function connect() {
    gotFrame = gotHud = false;
    const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/overlay/ws`;
    const ws = new WebSocket(url);
    ws.binaryType = "arraybuffer";
    let opened = false;
    ws.onopen = () => {
      opened = true;
    };
    socket = ws;
    state.attempts++;
    lastMessage = Date.now();
    ws.onmessage = (ev) => {
      if (ws !== socket) return;
      lastMessage = Date.now();
      try {
        if (typeof ev.data === "string") {
          state.bytes += ev.data.length;
          const msg = JSON.parse(ev.data);
          if (msg.t === "hello") {
            labels = msg.labels;
            keepalive = msg.keepalive;
            $("caption").textContent = msg.caption;
            layout(msg.w, msg.h);
            attempts = 0;
          } else if (msg.t === "hud") {
            // the first HUD message on a socket is whole; later ones carry what changed
            hud(gotHud ? { ...state.hud, ...msg } : msg);
          }
        } else {
          state.bytes += ev.data.byteLength;
          frame(ev.data);
        }
      } catch (err) {
        console.error("overlay: bad message, reconnecting", err);
        ws.close(4000, "bad message");
        return;
      }
      if (gotFrame && gotHud && !state.connected) {
        state.connects++;
        setConnected(true);
      }
    };
    ws.onclose = (ev) => {
      if (ws !== socket) return;
      if (opened) {
        state.lastClose = ev.code;
        state.attempts = 0;
      }
      socket = null;
      setConnected(false);
      const delay = Math.min(5000, 250 * 2 ** attempts) * (0.5 + Math.random() / 2);
      attempts = Math.min(attempts + 1, 10);
      setTimeout(connect, delay);
    };
  }

  // a socket that went quiet (sleeping laptop, dead route) is replaced
  setInterval(() => {
    if (socket && socket.readyState === WebSocket.OPEN && Date.now() - lastMessage > keepalive * 3000) {
      socket.close(4001, "silent");
    }
  }, 5000);

  addEventListener("resize", () => painter.image && layout(painter.image.width, painter.image.height));
  connect();
})();
