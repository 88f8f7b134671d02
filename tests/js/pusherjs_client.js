// A pusher-js (npm, node build) client for the tests: the browser library as the other party.
// Configuration comes from environment variables; every observation is one JSON line on stdout.
//   WS_HOST, WS_PORT, APP_KEY      the server (loopback only)
//   AUTH_ENDPOINT                  channel authorization endpoint (pusher-js's own HTTP flow)
//   USER_AUTH_ENDPOINT             optional: sign in with this endpoint
//   AUTH_HEADERS                   optional JSON object of extra headers for both endpoints
//   CHANNELS                       comma-separated channels to subscribe to
//   EXPECT                         exit 0 after this many events (default 1)
//   TIMEOUT_MS                     exit 1 after this long (default 10000)
"use strict";
const path = require("path");
const Pusher = require(path.join(__dirname, "..", "soketi", "node_modules", "pusher-js"));

const host = process.env.WS_HOST || "127.0.0.1";
if (!/^(127\.|localhost$|::1$)/.test(host)) {
  console.error("refusing a non-loopback host: " + host);
  process.exit(2);
}
const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
const headers = process.env.AUTH_HEADERS ? JSON.parse(process.env.AUTH_HEADERS) : {};
const options = {
  wsHost: host,
  wsPort: Number(process.env.WS_PORT),
  forceTLS: false,
  enabledTransports: ["ws"],
  disableStats: true,
  cluster: "mt1",
  channelAuthorization: { endpoint: process.env.AUTH_ENDPOINT || "/pusher/auth", transport: "ajax", headers },
};
if (process.env.USER_AUTH_ENDPOINT) {
  options.userAuthentication = { endpoint: process.env.USER_AUTH_ENDPOINT, transport: "ajax", headers };
}
const pusher = new Pusher(process.env.APP_KEY, options);
const expect = Number(process.env.EXPECT || 1);
let events = 0;
const done = (code) => {
  const user = pusher.user && pusher.user.user_data;
  if (user) out({ type: "signed_in", user_id: user.id });
  pusher.disconnect();
  setTimeout(() => process.exit(code), 50);
};
setTimeout(() => { out({ type: "timeout", events }); done(1); }, Number(process.env.TIMEOUT_MS || 10000));

pusher.connection.bind("connected", () => {
  out({ type: "connected", socket_id: pusher.connection.socket_id });
  if (process.env.USER_AUTH_ENDPOINT) pusher.signin();
});
pusher.connection.bind("error", (err) => out({ type: "connection_error", error: String(err && err.error && err.error.data && err.error.data.message || err) }));

for (const name of (process.env.CHANNELS || "").split(",").filter(Boolean)) {
  const channel = pusher.subscribe(name);
  channel.bind("pusher:subscription_succeeded", (data) => {
    const members = data && data.members ? Object.keys(data.members) : undefined;
    out({ type: "subscribed", channel: name, members, me: data && data.me ? data.me.id : undefined });
  });
  channel.bind("pusher:subscription_error", (err) => out({ type: "subscription_error", channel: name, status: err.status, error: String(err.error || "") }));
  channel.bind("pusher:member_added", (m) => out({ type: "member_added", channel: name, user_id: m.id, user_info: m.info }));
  channel.bind("pusher:member_removed", (m) => out({ type: "member_removed", channel: name, user_id: m.id }));
  channel.bind_global((event, data) => {
    if (event.startsWith("pusher:") || event.startsWith("pusher_internal:")) return;
    out({ type: "event", channel: name, event, data });
    events += 1;
    if (events >= expect) done(0);
  });
}
