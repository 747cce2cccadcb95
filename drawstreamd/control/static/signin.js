// Moderator sign-in, for any page the daemon serves: trade the one-time code in the page's
// address (/mod#code=…, printed by `drawstreamctl mod-url`) for the API token, and keep the
// token in this browser's localStorage (the key the gallery's replay button uses too).
//
//   const { token, state, message } = await drawstreamd.signIn();
//   state: "signed-in" (the code was good), "kept" (a token from an earlier sign-in),
//          "refused" (wrong, used or expired code; message says why), "none" (no token yet)
//
// The code travels in the fragment, which browsers never send to the server or in a
// Referer; it is spent by this call either way and removed from the address bar.
"use strict";

(() => {
  const KEY = "drawstreamd.api_token";

  async function signIn(location = window.location) {
    const code = new URLSearchParams(location.hash.slice(1)).get("code");
    if (!code) {
      const kept = localStorage.getItem(KEY);
      return kept ? { token: kept, state: "kept" } : { token: null, state: "none" };
    }
    history.replaceState(null, "", location.pathname + location.search);
    let message;
    try {
      const r = await fetch("/api/v1/signin", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ code }),
        cache: "no-store",
      });
      if (r.ok) {
        const { token } = await r.json();
        localStorage.setItem(KEY, token);
        return { token, state: "signed-in" };
      }
      message = `HTTP ${r.status}`;
      try {
        message = (await r.json()).message || message;
      } catch (_) {
        // not JSON: keep the status
      }
    } catch (err) {
      message = String(err);
    }
    return { token: localStorage.getItem(KEY), state: "refused", message };
  }

  function forget() {
    localStorage.removeItem(KEY);
  }

  window.drawstreamd = Object.assign(window.drawstreamd || {}, { signIn, forget, tokenKey: KEY });
})();
