// The gallery's one action: replay a drawing through the HTTP API with the operator's token.
// The token is asked for once and kept in this browser's localStorage; viewers without it
// cannot change anything.
"use strict";

(() => {
  const KEY = "drawstreamd.api_token";
  const hint = document.getElementById("token-state");

  function showTokenState() {
    hint.textContent = localStorage.getItem(KEY)
      ? "Replay is on: this browser holds the API token."
      : "Replay needs the API token (drawstreamctl token prints it).";
  }

  async function replay(button) {
    let token = localStorage.getItem(KEY);
    if (!token) {
      token = (prompt("API token (drawstreamctl token prints it):") || "").trim();
      if (!token) return;
    }
    button.disabled = true;
    try {
      const r = await fetch(`/api/v1/replay/${button.dataset.id}`, {
        method: "POST",
        headers: { Authorization: `Bearer ${token}` },
      });
      if (r.status === 401) {
        localStorage.removeItem(KEY);
        button.textContent = "Wrong token";
      } else if (r.ok) {
        localStorage.setItem(KEY, token);
        const item = await r.json();
        button.textContent = `Queued #${item.id}`;
        return;
      } else {
        let text = `HTTP ${r.status}`;
        try {
          text = (await r.json()).message || text;
        } catch (_) {
          // not JSON: keep the status
        }
        button.textContent = "Failed";
        button.title = text;
      }
    } catch (err) {
      button.textContent = "Offline";
      button.title = String(err);
    } finally {
      showTokenState();
    }
    button.disabled = false;
  }

  for (const t of document.querySelectorAll("time[datetime]")) {
    const d = new Date(t.getAttribute("datetime"));
    if (!Number.isNaN(d.getTime())) t.textContent = d.toLocaleString();
  }
  for (const b of document.querySelectorAll("button.replay")) {
    b.addEventListener("click", () => replay(b));
  }
  showTokenState();
})();
