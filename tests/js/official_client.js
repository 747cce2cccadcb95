// Drives the official Centrifugo v2 client (centrifuge-js 2.8.5) against a Donation Alerts
// API: /user/oauth for the socket token, the private-channel POST through onPrivateSubscribe,
// then prints one JSON line per event on stdout for the Python test to read.
//
// usage: node official_client.js WS_URL API_URL ACCESS_TOKEN EXPECTED_PUBLICATIONS
"use strict";

const Centrifuge = require("centrifuge");
const WebSocket = require("ws");

const [wsUrl, apiUrl, accessToken, expectedText] = process.argv.slice(2);
const expected = Number(expectedText);
const auth = { Authorization: `Bearer ${accessToken}` };

function say(event, data) {
  process.stdout.write(JSON.stringify({ event, ...data }) + "\n");
}

setTimeout(() => {
  say("timeout", {});
  process.exit(2);
}, 20000);

async function main() {
  const userResp = await fetch(`${apiUrl}/user/oauth`, { headers: auth });
  const user = (await userResp.json()).data;
  const centrifuge = new Centrifuge(wsUrl, {
    websocket: WebSocket,
    minRetry: 200,
    maxRetry: 1000,
    onPrivateSubscribe(ctx, callback) {
      say("private_subscribe", { client: ctx.data.client, channels: ctx.data.channels });
      fetch(`${apiUrl}/centrifuge/subscribe`, {
        method: "POST",
        headers: { ...auth, "Content-Type": "application/json" },
        body: JSON.stringify(ctx.data),
      })
        .then(async (resp) => callback({ status: resp.status, data: await resp.json() }))
        .catch(() => callback({ status: 0 }));
    },
  });
  centrifuge.setToken(user.socket_connection_token);
  let received = 0;
  centrifuge.on("connect", (ctx) => say("connected", { client: ctx.client }));
  centrifuge.on("disconnect", (ctx) => say("disconnected", { reason: ctx.reason, reconnect: ctx.reconnect }));
  centrifuge.subscribe(`$alerts:donation_${user.id}`, {
    subscribe: (ctx) => say("subscribed", { channel: ctx.channel, recovered: ctx.recovered }),
    join: (ctx) => say("join", { client: ctx.info.client }),
    error: (ctx) => say("subscribe_error", { error: ctx.error }),
    publish: (ctx) => {
      say("publication", { data: ctx.data });
      received += 1;
      if (received === expected) {
        centrifuge.disconnect();
        say("done", {});
        process.exit(0);
      }
    },
  });
  centrifuge.connect();
}

main().catch((err) => {
  say("failed", { error: String(err) });
  process.exit(1);
});
