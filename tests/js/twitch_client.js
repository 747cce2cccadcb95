// Drives twurple (the widely used Twitch client for Node; Twitch has no official one) against a
// Twitch API: EventSubWsListener over the EventSub WebSocket, subscriptions through Helix,
// the token checked at id.twitch.tv. twurple has the Twitch hosts built in, so this points
// them at the given addresses by rewriting fetch's URLs. One JSON line per event on stdout.
//
// usage: node twitch_client.js WS_URL API_URL AUTH_URL CLIENT_ID ACCESS_TOKEN USER_ID EXPECTED
"use strict";

const { ApiClient } = require("@twurple/api");
const { StaticAuthProvider } = require("@twurple/auth");
const { EventSubWsListener } = require("@twurple/eventsub-ws");

const [wsUrl, apiUrl, authUrl, clientId, accessToken, userId, expectedText] = process.argv.slice(2);
const expected = Number(expectedText);

function say(event, data) {
  process.stdout.write(JSON.stringify({ event, ...data }) + "\n");
}

setTimeout(() => {
  say("timeout", {});
  process.exit(2);
}, 40000);

const realFetch = globalThis.fetch;
globalThis.fetch = (url, options) => {
  const target = String(url)
    .replace("https://api.twitch.tv/helix", apiUrl)
    .replace("https://id.twitch.tv/oauth2", authUrl);
  return realFetch(target, options);
};

const authProvider = new StaticAuthProvider(clientId, accessToken, [
  "channel:manage:redemptions",
  "bits:read",
]);
const apiClient = new ApiClient({ authProvider });
const listener = new EventSubWsListener({ apiClient, url: wsUrl });
let received = 0;

function counted() {
  received += 1;
  if (received === expected) {
    say("done", {});
    listener.stop();
    process.exit(0);
  }
}

listener.onUserSocketConnect((user) => say("connected", { user }));
listener.onUserSocketReady((user, session) => say("ready", { user, session }));
listener.onUserSocketDisconnect((user, error) => say("disconnected", { user, error: String(error ?? "") }));
listener.onChannelRedemptionAdd(userId, (e) => {
  say("redemption", { id: e.id, user: e.userDisplayName, input: e.input, cost: e.rewardCost });
  counted();
});
listener.onChannelCheer(userId, (e) => {
  say("cheer", { user: e.userDisplayName, anonymous: e.isAnonymous, message: e.message, bits: e.bits });
  counted();
});
listener.onSubscriptionCreateSuccess((sub) => say("subscribed", { id: sub.id }));
listener.onSubscriptionCreateFailure((sub, error) => say("failed", { id: sub.id, error: String(error) }));
listener.start();
