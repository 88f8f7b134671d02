// The official npm `pusher` library ends every connection of a user (terminateUserConnections)
// on a loopback server; used by tests/test_help_errors.py against soketi and `pushcli serve`.
// (pusher-http-python 3.3 posts to /users/ID/terminate_connections without /apps/ID: 404.)
//
//   node tests/js/terminate_user.js '{"host": "127.0.0.1", "port": 6001, "appId": "123456",
//                                     "key": "app-key", "secret": "app-secret", "user": "u1"}'
//
// Prints the server's answer as JSON; exits 1 on an error. Loopback only.
'use strict';
const path = require('path');
const Pusher = require(path.join(__dirname, '..', 'soketi', 'node_modules', 'pusher'));

const cfg = JSON.parse(process.argv[2]);
if (!['127.0.0.1', '::1', 'localhost'].includes(cfg.host)) {
  console.error('loopback only');
  process.exit(2);
}
const server = new Pusher({
  appId: cfg.appId,
  key: cfg.key,
  secret: cfg.secret,
  host: cfg.host,
  port: String(cfg.port),
  useTLS: false,
  timeout: 5000,
});
server
  .terminateUserConnections(cfg.user)
  .then(async (res) => {
    process.stdout.write(JSON.stringify({ status: res.status, body: await res.text() }) + '\n');
  })
  .catch((e) => {
    process.stdout.write(JSON.stringify({ error: String((e && e.stack) || e) }) + '\n');
    process.exit(1);
  });
