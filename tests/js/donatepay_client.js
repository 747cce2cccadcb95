// Drives the official Centrifugo v2 client (centrifuge-js 2.8.5, the version DonatePay
// integrations pin) against a DonatePay API: the connection token from POST
// /v2/socket/token, the private channel $public:<user id> through onPrivateSubscribe (the
// same endpoint with ?access_token and {client, channels}), then prints one JSON line per
// event on stdout for the Python test to read.
//
// usage: node donatepay_client.js WS_URL API_URL API_KEY EXPECTED_PUBLICATIONS
"use strict";

const Centrifuge = require("centrifuge");
const WebSocket = require("ws");

const [wsUrl, apiUrl, apiKey, expectedText] = process.argv.slice(2);
const expected = Number(expectedText);

function say(event, data) {
  process.stdout.write(JSON.stringify({ event, ...data }) + "\n");
}

setTimeout(() => {
  say("timeout", {});
  process.exit(2);
}, 20000);

async function post(path, body) {
  const resp = await fetch(`${apiUrl}${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: resp.status, data: await resp.json() };
}

async function main() {
  const user = (await (await fetch(`${apiUrl}/v1/user?access_token=${apiKey}`)).json()).data;
  const connection = await post("/v2/socket/token", { access_token: apiKey });
  const centrifuge = new Centrifuge(wsUrl, {
    websocket: WebSocket,
    minRetry: 200,
    maxRetry: 1000,
    onPrivateSubscribe(ctx, callback) {
      say("private_subscribe", { client: ctx.data.client, channels: ctx.data.channels });
      post(`/v2/socket/token?access_token=${apiKey}`, ctx.data)
        .then(callback)
        .catch(() => callback({ status: 0 }));
    },
  });
  centrifuge.setToken(connection.data.token);
  let received = 0;
  centrifuge.on("connect", (ctx) => say("connected", { client: ctx.client }));
  centrifuge.on("disconnect", (ctx) => say("disconnected", { reason: ctx.reason, reconnect: ctx.reconnect }));
  centrifuge.subscribe(`$public:${user.id}`, {
    subscribe: (ctx) => say("subscribed", { channel: ctx.channel, recovered: ctx.recovered }),
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
