// pusher-js (node build) clients for tests/test_serve_log.py: the browser library does what a
// page does, so `pushcli serve --log` records it. Two clients:
//   alice  signs in, subscribes to a public, a private and a presence channel, and to a private
//          channel with a wrong signature (a subscription_error);
//   bob    subscribes to the private and presence channels, sends a client event on each, and
//          one on the public channel (refused: pusher:error 4301).
// Then it prints {"ready": true, "alice": socket id, "bob": socket id} and waits until alice has
// received the events the test triggers (cfg.expect: names on cfg.publicChannel / private), and
// the event "done" on the public channel; it disconnects both and prints {"received": [...]}.
//
//   node serve_log_party.js '{"host": "127.0.0.1", "port": 6001, "key": ..., "secret": ...,
//                             "channels": {"public": .., "private": .., "presence": .., "bad": ..}}'
'use strict';
const path = require('path');
const crypto = require('crypto');
const PusherJS = require(path.join(__dirname, '..', 'soketi', 'node_modules', 'pusher-js'));

const cfg = JSON.parse(process.argv[2]);
if (!['127.0.0.1', '::1', 'localhost'].includes(cfg.host)) {
  console.error('loopback only');
  process.exit(2);
}
const ch = cfg.channels;
const sign = (s) => crypto.createHmac('sha256', cfg.secret).update(s).digest('hex');
const out = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');
const withTimeout = (p, ms, what) =>
  Promise.race([p, new Promise((_, rej) => setTimeout(() => rej(new Error('timeout: ' + what)), ms))]);

function client(userId, userInfo) {
  return new PusherJS(cfg.key, {
    wsHost: cfg.host,
    wsPort: cfg.port,
    forceTLS: false,
    enabledTransports: ['ws'],
    disableStats: true,
    cluster: 'mt1',
    channelAuthorization: {
      customHandler: ({ socketId, channelName }, cb) => {
        if (channelName === ch.bad) return cb(null, { auth: `${cfg.key}:${'0'.repeat(64)}` });
        if (channelName.startsWith('presence-')) {
          const channelData = JSON.stringify({ user_id: userId, user_info: userInfo });
          return cb(null, {
            auth: `${cfg.key}:${sign(`${socketId}:${channelName}:${channelData}`)}`,
            channel_data: channelData,
          });
        }
        cb(null, { auth: `${cfg.key}:${sign(`${socketId}:${channelName}`)}` });
      },
    },
    userAuthentication: {
      customHandler: ({ socketId }, cb) => {
        const userData = JSON.stringify({ id: userId });
        cb(null, { auth: `${cfg.key}:${sign(`${socketId}::user::${userData}`)}`, user_data: userData });
      },
    },
  });
}

function subscribed(pusher, name, { expectError = false } = {}) {
  return withTimeout(
    new Promise((resolve, reject) => {
      const c = pusher.subscribe(name);
      c.bind('pusher:subscription_succeeded', () => (expectError ? reject(new Error(name + ' succeeded')) : resolve(c)));
      c.bind('pusher:subscription_error', (err) => (expectError ? resolve(err) : reject(new Error(JSON.stringify(err)))));
    }),
    5000,
    'subscribe ' + name,
  );
}

function next(c, event) {
  return withTimeout(new Promise((resolve) => c.bind(event, resolve)), 8000, event);
}

async function main() {
  const alice = client('js-alice', { name: 'Alice' });
  alice.signin();
  const pub = await subscribed(alice, ch.public);
  const priv = await subscribed(alice, ch.private);
  const pres = await subscribed(alice, ch.presence);
  await subscribed(alice, ch.bad, { expectError: true });

  const bob = client('js-bob', { name: 'Bob' });
  const bobPriv = await subscribed(bob, ch.private);
  const bobPres = await subscribed(bob, ch.presence);
  const bobPub = await subscribed(bob, ch.public);
  const hello = next(priv, 'client-hello');
  const wave = next(pres, 'client-wave');
  bobPriv.trigger('client-hello', { from: 'bob' });
  bobPres.trigger('client-wave', { from: 'bob' });
  await Promise.all([hello, wave]);
  const refused = withTimeout(new Promise((resolve) => bob.connection.bind('error', resolve)), 5000, 'pusher:error');
  bobPub.trigger('client-nope', { on: 'a public channel' });
  await refused;

  const received = [];
  for (const name of cfg.expect || []) {
    pub.bind(name, (data) => received.push([ch.public, name, data]));
    priv.bind(name, (data) => received.push([ch.private, name, data]));
  }
  const done = next(pub, 'done');
  out({ ready: true, alice: alice.connection.socket_id, bob: bob.connection.socket_id });
  await done;
  bob.disconnect();
  await new Promise((r) => setTimeout(r, 200));
  alice.disconnect();
  await new Promise((r) => setTimeout(r, 200));
  out({ received });
  process.exit(0);
}

main().catch((e) => {
  out({ error: String((e && e.stack) || e) });
  process.exit(1);
});
