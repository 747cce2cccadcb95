// The moderator page, first part: sign in (signin.js), then follow the daemon live over the
// events WebSocket, which a browser authenticates with its first message.
"use strict";

(async () => {
  const say = (id, text) => {
    document.getElementById(id).textContent = text;
  };
  const page = (window.drawstreamdMod = {
    state: "starting",
    listening: false,
    seen: [],
    closed: null,
  });
  const { token, state, message } = await window.drawstreamd.signIn();
  page.state = state;
  if (!token) {
    say("signin", state === "refused"
      ? `Sign-in refused: ${message}. Run drawstreamctl mod-url for a new address.`
      : "Not signed in: open the address drawstreamctl mod-url prints.");
    return;
  }
  say("signin", state === "refused"
    ? `That code did not work (${message}); still signed in from before.`
    : "Signed in on this device.");

  const r = await fetch("/api/v1/status", { headers: { Authorization: `Bearer ${token}` } });
  if (r.status === 401) {
    window.drawstreamd.forget();
    page.state = "forgotten";
    say("signin", "The token was changed: run drawstreamctl mod-url and open its address.");
    return;
  }
  say("state", (await r.json()).state);

  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${scheme}//${location.host}/api/v1/events`);
  ws.onopen = () => {
    ws.send(JSON.stringify({ token }));
    page.listening = true;
  };
  ws.onmessage = (m) => {
    const event = JSON.parse(m.data);
    const text = `${event.kind}${event.item_id ? ` #${event.item_id}` : ""}`;
    page.seen.push(text);
    say("event", text);
  };
  ws.onclose = (e) => {
    page.closed = e.code;
    say("event", `disconnected (${e.code} ${e.reason})`);
  };
})();
