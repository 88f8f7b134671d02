// Third-party conformance: pusher-js (its node build) subscribes, the official npm `pusher`
// library triggers and queries. Run by tests/test_server.py against soketi and `pushcli serve`
// alike; prints one JSON summary on stdout that the test compares.
//
//   node tests/pusherjs_scenario.js '{"host": "127.0.0.1", "port": 6001, "appId": "123456",
//                                     "key": "app-key", "secret": "app-secret"}'
//
// Loopback only: the script refuses any other host.
'use strict';
const path = require('path');
const crypto = require('crypto');
const modules = path.join(__dirname, '..', 'soketi', 'node_modules');
const PusherJS = require(path.join(modules, 'pusher-js'));
const Pusher = require(path.join(modules, 'pusher'));

const cfg = JSON.parse(process.argv[2]);
if (!['127.0.0.1', '::1', 'localhost'].includes(cfg.host)) {
  console.error('loopback only');
  process.exit(2);
}
const MASTER = Buffer.from('0123456789abcdef0123456789abcdef').toString('base64');
const sign = (s) => crypto.createHmac('sha256', cfg.secret).update(s).digest('hex');
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
        if (channelName.startsWith('presence-')) {
          const channelData = JSON.stringify({ user_id: userId, user_info: userInfo });
          return cb(null, {
            auth: `${cfg.key}:${sign(`${socketId}:${channelName}:${channelData}`)}`,
            channel_data: channelData,
          });
        }
        const answer = { auth: `${cfg.key}:${sign(`${socketId}:${channelName}`)}` };
        if (channelName.startsWith('private-encrypted-')) {
          answer.shared_secret = crypto
            .createHash('sha256')
            .update(Buffer.concat([Buffer.from(channelName), Buffer.from(MASTER, 'base64')]))
            .digest('base64');
        }
        cb(null, answer);
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

function subscribed(pusher, name) {
  return withTimeout(
    new Promise((resolve, reject) => {
      const ch = pusher.subscribe(name);
      ch.bind('pusher:subscription_succeeded', (data) => resolve([ch, data]));
      ch.bind('pusher:subscription_error', (err) => reject(new Error(`${name}: ${JSON.stringify(err)}`)));
    }),
    5000,
    'subscribe ' + name,
  );
}

function nextEvent(ch, event) {
  return withTimeout(new Promise((resolve) => ch.bind(event, (data, meta) => resolve([data, meta]))), 5000, event);
}

async function main() {
  const out = {};
  const server = new Pusher({
    appId: cfg.appId,
    key: cfg.key,
    secret: cfg.secret,
    host: cfg.host,
    port: String(cfg.port),
    useTLS: false,
    encryptionMasterKeyBase64: MASTER,
  });

  const alice = client('js-alice', { name: 'Alice' });
  const [pub] = await subscribed(alice, 'js-public');
  const [priv] = await subscribed(alice, 'private-js');
  const [pres, members] = await subscribed(alice, 'presence-js');
  const [enc] = await subscribed(alice, 'private-encrypted-js');
  out.presence_on_join = { count: members.count, me: members.me && members.me.id };

  // events from the npm library, one per channel kind; encrypted is encrypted by the library
  const got = Promise.all([
    nextEvent(pub, 'ev'), nextEvent(priv, 'ev'), nextEvent(pres, 'ev'), nextEvent(enc, 'ev'),
  ]);
  const answers = [];
  for (const name of ['js-public', 'private-js', 'presence-js', 'private-encrypted-js']) {
    const res = await server.trigger(name, 'ev', { on: name });
    answers.push(res.status);
  }
  out.trigger_status = answers;
  out.received = (await got).map(([data]) => data);

  // a batch of 3 from the library, in order
  const batchGot = [];
  const batchDone = withTimeout(new Promise((resolve) => {
    pub.bind('b', (data) => { batchGot.push(data.i); if (batchGot.length === 3) resolve(); });
  }), 5000, 'batch');
  const batchRes = await server.triggerBatch([0, 1, 2].map((i) => ({ channel: 'js-public', name: 'b', data: { i } })));
  await batchDone;
  out.batch = { status: batchRes.status, order: batchGot };

  // a second user joins presence: member_added, info, users, a client event, member_removed
  const added = nextEvent(pres, 'pusher:member_added');
  const bob = client('js-bob', { name: 'Bob' });
  const [bobPres] = await subscribed(bob, 'presence-js');
  const [bobPriv] = await subscribed(bob, 'private-js');
  out.member_added = (await added)[0];
  const info = await (await server.get({ path: '/channels/presence-js', params: { info: 'user_count' } })).json();
  out.presence_info = { occupied: info.occupied, user_count: info.user_count };
  const users = await (await server.get({ path: '/channels/presence-js/users' })).json();
  out.users = users.users.map((u) => u.id).sort();
  const chans = await (await server.get({ path: '/channels', params: { filter_by_prefix: 'presence-js' } })).json();
  out.channels = Object.keys(chans.channels).sort();

  const clientEv = nextEvent(priv, 'client-hello');
  const presClientEv = nextEvent(pres, 'client-wave');
  bobPriv.trigger('client-hello', { from: 'bob' });
  bobPres.trigger('client-wave', { from: 'bob' });
  out.client_event = (await clientEv)[0];
  out.presence_client_event = (await presClientEv)[1];

  const removed = nextEvent(pres, 'pusher:member_removed');
  bob.unsubscribe('presence-js');
  out.member_removed = (await removed)[0];
  bob.disconnect();

  // signin, an event to the user, then terminate the user's connections
  alice.signin();
  await withTimeout(new Promise((resolve) => {
    const check = () => (alice.user.user_data ? resolve() : setTimeout(check, 20));
    check();
  }), 5000, 'signin');
  await new Promise((r) => setTimeout(r, 200)); // the server-to-user subscription settles
  const userEv = withTimeout(new Promise((resolve) => alice.user.bind('notice', resolve)), 5000, 'user event');
  await server.sendToUser('js-alice', 'notice', { hi: 1 });
  out.user_event = await userEv;
  const gone = withTimeout(new Promise((resolve) => {
    alice.connection.bind('state_change', ({ current }) => {
      if (current !== 'connected') resolve(current);
    });
  }), 5000, 'terminate');
  await server.terminateUserConnections('js-alice');
  out.after_terminate = await gone;
  alice.disconnect();
  process.stdout.write(JSON.stringify(out) + '\n');
  process.exit(0);
}

main().catch((e) => {
  process.stdout.write(JSON.stringify({ error: String(e && e.stack || e) }) + '\n');
  process.exit(1);
});
