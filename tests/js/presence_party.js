// pusher-js clients (node build) as the other party for presence and signin tests; the official
// npm `pusher` library signs for them, as a Node backend would, unless an auth endpoint is given
// (then pusher-js's own HTTP auth flow is used). Loopback only.
//
//   node tests/js/presence_party.js '{"host": "127.0.0.1", "port": 6001, "appId": "123456",
//     "key": "app-key", "secret": "app-secret", "channel": "presence-x",
//     "clients": [{"userId": "bob", "userInfo": {"name": "Bob"}}], "hold": false}'
//
// clients[i]: userId, userInfo (key absent: channel_data without user_info; null: sent as null),
//   authEndpoint + headers (pusher-js's ajax flow instead of the library),
//   signin: user_data object to sign in with (signed here as is, so {"id": 42} works too),
//   channels: other channels to subscribe to (default none).
// The clients connect one after the other; each observation is one JSON line on stdout:
//   {"type": "subscribed", "client": i, "channel", "me": {id, info}|null, "members": [{id, info}]}
//   {"type": "member_added"|"member_removed", "client": i, "id", "info"}
//   {"type": "event", "client": i, "channel", "event", "data", "user_id"}   (as received)
//   {"type": "message", ...the same}   for events on #server-to-user-*
//   {"type": "signed_in", "client": i, "id"}   (from the server's pusher:signin_success)
//   {"type": "ready"} once every client is subscribed (and signed in)
// A member's info is "<absent>" when the server sent none. With "hold": true the clients stay
// connected until stdin closes; otherwise they disconnect 300 ms after "ready".
"use strict";
const path = require("path");
const crypto = require("crypto");
const modules = path.join(__dirname, "..", "soketi", "node_modules");
const PusherJS = require(path.join(modules, "pusher-js"));
const Pusher = require(path.join(modules, "pusher"));

const cfg = JSON.parse(process.argv[2]);
if (!["127.0.0.1", "::1", "localhost"].includes(cfg.host)) {
  console.error("presence_party.js only talks to loopback, not " + cfg.host);
  process.exit(2);
}
const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
const info = (value) => (value === undefined ? "<absent>" : value);
const withTimeout = (p, ms, what) =>
  Promise.race([p, new Promise((_, rej) => setTimeout(() => rej(new Error("timeout: " + what)), ms))]);

const server = new Pusher({
  appId: cfg.appId,
  key: cfg.key,
  secret: cfg.secret,
  host: cfg.host,
  port: String(cfg.port),
  useTLS: false,
});

function connect(spec, i) {
  const options = {
    wsHost: cfg.host,
    wsPort: cfg.port,
    forceTLS: false,
    enabledTransports: ["ws"],
    disableStats: true,
    cluster: "mt1",
  };
  if (spec.authEndpoint) {
    options.channelAuthorization = { endpoint: spec.authEndpoint, transport: "ajax", headers: spec.headers || {} };
  } else {
    options.channelAuthorization = {
      customHandler: ({ socketId, channelName }, cb) => {
        const member = { user_id: spec.userId };
        if ("userInfo" in spec) member.user_info = spec.userInfo;
        cb(null, server.authorizeChannel(socketId, channelName, channelName.startsWith("presence-") ? member : undefined));
      },
    };
  }
  if (spec.signin) {
    options.userAuthentication = {
      customHandler: ({ socketId }, cb) => {
        // signed here, not by the library: it refuses a numeric id, which PHP backends send
        const userData = JSON.stringify(spec.signin);
        const sig = crypto.createHmac("sha256", cfg.secret).update(`${socketId}::user::${userData}`).digest("hex");
        cb(null, { auth: `${cfg.key}:${sig}`, user_data: userData });
      },
    };
  }
  const pusher = new PusherJS(cfg.key, options);
  let signedIn = null;
  const signedInPromise = new Promise((resolve) => (signedIn = resolve));
  pusher.connection.bind("message", (m) => {
    if (m.event === "pusher:signin_success") {
      let id;
      try {
        id = JSON.parse(m.data.user_data).id;
      } catch (e) {
        id = null;
      }
      out({ type: "signed_in", client: i, id });
      signedIn();
    } else if (typeof m.channel === "string" && !m.event.startsWith("pusher")) {
      // raw frames: a bound callback would not get user_id, and pusher-js drops events to a
      // user whose id is not a string
      const type = m.channel.startsWith("#server-to-user-") ? "message" : "event";
      out({ type, client: i, channel: m.channel, event: m.event, data: m.data, user_id: m.user_id });
    }
  });
  pusher.connection.bind("error", (err) =>
    out({ type: "connection_error", client: i, error: String((err && err.error && err.error.data && err.error.data.message) || err) }),
  );
  if (spec.signin) pusher.signin();
  const subscribe = (name) =>
    withTimeout(
      new Promise((resolve, reject) => {
        const ch = pusher.subscribe(name);
        ch.bind("pusher:subscription_succeeded", (members) => {
          const list = [];
          if (members && typeof members.each === "function") {
            members.each((m) => list.push({ id: m.id, info: info(m.info) }));
          }
          const me = members && members.me ? { id: members.me.id, info: info(members.me.info) } : null;
          out({ type: "subscribed", client: i, channel: name, me, members: list });
          resolve();
        });
        ch.bind("pusher:subscription_error", (err) => reject(new Error(`${name}: ${JSON.stringify(err)}`)));
        ch.bind("pusher:member_added", (m) => out({ type: "member_added", client: i, id: m.id, info: info(m.info) }));
        ch.bind("pusher:member_removed", (m) => out({ type: "member_removed", client: i, id: m.id, info: info(m.info) }));
      }),
      8000,
      "subscribe " + name,
    );
  const channels = [cfg.channel, ...(spec.channels || [])].filter(Boolean);
  const ready = (async () => {
    for (const name of channels) await subscribe(name);
    if (spec.signin) {
      await withTimeout(signedInPromise, 8000, "signin");
      // pusher-js subscribes to #server-to-user-ID after signin: let that settle
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  return { pusher, ready };
}

async function main() {
  const clients = [];
  for (const [i, spec] of (cfg.clients || []).entries()) {
    const c = connect(spec, i);
    clients.push(c);
    await c.ready;
  }
  out({ type: "ready" });
  if (cfg.hold) {
    await new Promise((resolve) => {
      process.stdin.on("end", resolve);
      process.stdin.on("close", resolve);
      process.stdin.resume();
    });
  } else {
    await new Promise((r) => setTimeout(r, 300));
  }
  for (const c of clients) c.pusher.disconnect();
  setTimeout(() => process.exit(0), 50);
}

setTimeout(() => {
  out({ type: "timeout" });
  process.exit(1);
}, Number(cfg.timeoutMs || 20000));

main().catch((e) => {
  out({ type: "error", error: String((e && e.stack) || e) });
  process.exit(1);
});
