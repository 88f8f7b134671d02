// Another party for pushcli's listen tests, using the official Node libraries (loopback only).
//
//   node party.js '{"mode": "trigger", "host": "127.0.0.1", "port": 6001, ...}'
//
// modes:
//   trigger       the `pusher` server library triggers cfg.event on cfg.channel with cfg.data
//                 (encrypted channels use cfg.masterKey, as a Node backend would)
//   client-event  a pusher-js client subscribes to cfg.channel (authorized by the server
//                 library, presence user cfg.userId/cfg.userInfo), sends cfg.event, disconnects
"use strict";

const Pusher = require("pusher");
const PusherJS = require("pusher-js");

const cfg = JSON.parse(process.argv[2]);
if (!["127.0.0.1", "localhost", "::1"].includes(cfg.host)) {
  console.error(`party.js only talks to loopback, not ${cfg.host}`);
  process.exit(2);
}

const server = new Pusher({
  appId: cfg.appId,
  key: cfg.key,
  secret: cfg.secret,
  host: cfg.host,
  port: String(cfg.port),
  useTLS: false,
  encryptionMasterKeyBase64: cfg.masterKey,
});

function withTimeout(promise, ms, what) {
  return Promise.race([
    promise,
    new Promise((_, reject) => setTimeout(() => reject(new Error(`timeout: ${what}`)), ms)),
  ]);
}

async function trigger() {
  await server.trigger(cfg.channel, cfg.event, cfg.data);
}

async function clientEvent() {
  const client = new PusherJS(cfg.key, {
    cluster: "mt1",
    wsHost: cfg.host,
    wsPort: cfg.port,
    forceTLS: false,
    enabledTransports: ["ws"],
    disableStats: true,
    channelAuthorization: {
      customHandler: (params, callback) => {
        const member = cfg.channel.startsWith("presence-")
          ? { user_id: cfg.userId, user_info: cfg.userInfo }
          : undefined;
        callback(null, server.authorizeChannel(params.socketId, params.channelName, member));
      },
    },
  });
  try {
    const channel = client.subscribe(cfg.channel);
    await withTimeout(
      new Promise((resolve, reject) => {
        channel.bind("pusher:subscription_succeeded", resolve);
        channel.bind("pusher:subscription_error", (e) => reject(new Error(JSON.stringify(e))));
      }),
      5000,
      "subscription",
    );
    if (!channel.trigger(cfg.event, cfg.data)) throw new Error("client event not sent");
    await new Promise((resolve) => setTimeout(resolve, 300));
  } finally {
    client.disconnect();
  }
}

const modes = { trigger, "client-event": clientEvent };
modes[cfg.mode]().then(
  () => process.exit(0),
  (e) => {
    console.error(e && e.stack ? e.stack : e);
    process.exit(1);
  },
);
