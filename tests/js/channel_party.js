// pusher-js clients (node build) that join and leave channels on command, so tests can watch
// channel counts and presence members change with a third party doing the joining. The
// official npm `pusher` library signs private and presence subscriptions, as a Node backend
// would. Loopback only.
//
//   node tests/js/channel_party.js '{"host": "127.0.0.1", "port": 6001, "appId": "123456",
//     "key": "app-key", "secret": "app-secret"}'
//
// Then one JSON command per line on stdin:
//   {"client": "a", "join": "presence-x", "userId": "bob", "userInfo": {"name": "Bob"}}
//       connects client "a" (a pusher-js connection of its own) if it is not connected yet, and
//       subscribes; userId/userInfo (default: the client's name, {"name": client}) are what the
//       client's presence subscriptions from then on are signed with
//   {"client": "a", "leave": "presence-x"}     unsubscribes
//   {"client": "a", "disconnect": true}        closes that client's connection
//   {"quit": true}                              disconnects every client and exits
// Each observation is one JSON line on stdout:
//   {"type": "joined", "client", "channel", "members": [ids]?}   on subscription_succeeded
//   {"type": "left", "client", "channel"}                         once the unsubscribe is sent
//   {"type": "disconnected", "client"}
//   {"type": "error", "client"?, "error"}
// It exits when stdin closes, on quit, or after cfg.maxSeconds (default 60).
"use strict";
const path = require("path");
const readline = require("readline");
const modules = path.join(__dirname, "..", "soketi", "node_modules");
const PusherJS = require(path.join(modules, "pusher-js"));
const Pusher = require(path.join(modules, "pusher"));

const cfg = JSON.parse(process.argv[2]);
if (!["127.0.0.1", "::1", "localhost"].includes(cfg.host)) {
  console.error("channel_party.js only talks to loopback, not " + cfg.host);
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
const clients = new Map();

const members = new Map(); // client -> the member it subscribes to presence channels as

function client(name, spec) {
  const member = members.get(name) || { user_id: name, user_info: { name } };
  if (spec.userId) member.user_id = String(spec.userId);
  if (spec.userInfo) member.user_info = spec.userInfo;
  members.set(name, member);
  let c = clients.get(name);
  if (c) return c;
  c = new PusherJS(cfg.key, {
    cluster: "mt1",
    wsHost: cfg.host,
    wsPort: cfg.port,
    forceTLS: false,
    enabledTransports: ["ws"],
    disableStats: true,
    channelAuthorization: {
      customHandler: ({ socketId, channelName }, cb) =>
        cb(null, server.authorizeChannel(socketId, channelName, channelName.startsWith("presence-") ? member : undefined)),
    },
  });
  c.connection.bind("error", (err) => out({ type: "error", client: name, error: JSON.stringify(err) }));
  clients.set(name, c);
  return c;
}

function handle(cmd) {
  if (cmd.quit) return stop();
  const name = String(cmd.client || "a");
  if (cmd.join) {
    const ch = client(name, cmd).subscribe(cmd.join);
    ch.bind("pusher:subscription_succeeded", (members) => {
      const obs = { type: "joined", client: name, channel: cmd.join };
      if (members && typeof members.each === "function") {
        obs.members = [];
        members.each((m) => obs.members.push(m.id));
      }
      out(obs);
    });
    ch.bind("pusher:subscription_error", (e) => out({ type: "error", client: name, error: JSON.stringify(e) }));
  } else if (cmd.leave) {
    const c = clients.get(name);
    if (c) c.unsubscribe(cmd.leave);
    out({ type: "left", client: name, channel: cmd.leave });
  } else if (cmd.disconnect) {
    const c = clients.get(name);
    if (c) c.disconnect();
    clients.delete(name);
    out({ type: "disconnected", client: name });
  }
}

function stop() {
  for (const c of clients.values()) c.disconnect();
  setTimeout(() => process.exit(0), 100);
}

const rl = readline.createInterface({ input: process.stdin });
rl.on("line", (line) => {
  if (!line.trim()) return;
  try {
    handle(JSON.parse(line));
  } catch (e) {
    out({ type: "error", error: String(e) });
  }
});
rl.on("close", stop);
setTimeout(stop, 1000 * (cfg.maxSeconds || 60));
