// A long-lived pusher-js (npm, node build) subscriber that reports every event it receives,
// duplicates included, so tests can count deliveries with a party that is not pushcli.
//
//   node event_counter.js '{"host": "127.0.0.1", "port": 6001, "appId": "1", "key": "k",
//                           "secret": "s", "channels": ["a", "b"]}'
//
// It signs in (user authentication, signed by the official `pusher` library with the app
// secret), because soketi with user authentication enabled closes connections that do not
// within 30 s. One JSON line per observation on stdout: {"type": "connected" | "signed_in" |
// "subscribed" | "event" | "error" | "state", ...}. It exits when stdin closes, or after
// cfg.maxSeconds (default 600).
"use strict";
const path = require("path");
const modules = path.join(__dirname, "..", "soketi", "node_modules");
const Pusher = require(path.join(modules, "pusher"));
const PusherJS = require(path.join(modules, "pusher-js"));

const cfg = JSON.parse(process.argv[2]);
if (!["127.0.0.1", "localhost", "::1"].includes(cfg.host)) {
  console.error(`event_counter.js only talks to loopback, not ${cfg.host}`);
  process.exit(2);
}
const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
const server = new Pusher({
  appId: cfg.appId,
  key: cfg.key,
  secret: cfg.secret,
  host: cfg.host,
  port: String(cfg.port),
  useTLS: false,
});
const client = new PusherJS(cfg.key, {
  cluster: "mt1",
  wsHost: cfg.host,
  wsPort: cfg.port,
  forceTLS: false,
  enabledTransports: ["ws"],
  disableStats: true,
  userAuthentication: {
    customHandler: (params, callback) =>
      callback(null, server.authenticateUser(params.socketId, { id: "event-counter" })),
  },
});
client.connection.bind("connected", () =>
  out({ type: "connected", socket_id: client.connection.socket_id }),
);
client.connection.bind("state_change", (s) => out({ type: "state", ...s }));
client.connection.bind("error", (err) => out({ type: "error", error: JSON.stringify(err) }));
client.connection.bind("message", (m) => {
  if (m.event === "pusher:signin_success") out({ type: "signed_in" });
});
client.signin(); // pusher-js signs in again after every reconnect
for (const name of cfg.channels) {
  const channel = client.subscribe(name);
  channel.bind("pusher:subscription_succeeded", () => out({ type: "subscribed", channel: name }));
  channel.bind("pusher:subscription_error", (e) =>
    out({ type: "error", channel: name, error: JSON.stringify(e) }),
  );
  channel.bind_global((event, data) => {
    if (event.startsWith("pusher:") || event.startsWith("pusher_internal:")) return;
    out({ type: "event", channel: name, event, data });
  });
}
const stop = () => {
  client.disconnect();
  setTimeout(() => process.exit(0), 50);
};
process.stdin.on("end", stop);
process.stdin.resume();
setTimeout(stop, 1000 * (cfg.maxSeconds || 600));
