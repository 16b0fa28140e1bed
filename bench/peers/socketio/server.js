'use strict';

// Socket.IO benchmark peer: same work per message as the hub's persisted path
// (one Redis Lua call that assigns a seq and appends to the conversation's
// stream, delivery through the Redis adapter, ack to the sender).

const http = require('http');
const { Server } = require('socket.io');
const { createAdapter } = require('@socket.io/redis-adapter');
const { createClient } = require('redis');

const PORT = Number(process.env.PORT);
const REDIS_URL = process.env.REDIS_URL;
const PREFIX = process.env.PREFIX || 'sio:';

if (!Number.isInteger(PORT) || PORT <= 0 || PORT > 65535) {
  console.error('PORT is required (1-65535)');
  process.exit(2);
}
if (!REDIS_URL) {
  console.error('REDIS_URL is required (e.g. redis://127.0.0.1:6400)');
  process.exit(2);
}

const SCRIPT =
  "local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1); " +
  "redis.call('XADD', KEYS[2], '0-'..seq, 'e', ARGV[1]); " +
  'return seq';

const NAME_RE = /^[vo]\d+$/;

async function main() {
  const pub = createClient({ url: REDIS_URL });
  const sub = pub.duplicate();
  pub.on('error', (err) => console.error('redis pub error:', err.message));
  sub.on('error', (err) => console.error('redis sub error:', err.message));
  await Promise.all([pub.connect(), sub.connect()]);

  const sha = await pub.scriptLoad(SCRIPT);

  const httpServer = http.createServer();
  const io = new Server(httpServer, {
    // Under /ws/ like the hub's sockets, so the same nginx configuration proxies it.
    path: '/ws/socket.io/',
    transports: ['websocket'],
    serveClient: false,
    perMessageDeflate: false,
    adapter: createAdapter(pub, sub),
  });

  io.use((socket, next) => {
    const name = socket.handshake.auth && socket.handshake.auth.name;
    if (typeof name !== 'string' || !NAME_RE.test(name)) {
      return next(new Error('auth.name must match /^[vo]\\d+$/'));
    }
    socket.data.name = name;
    next();
  });

  io.on('connection', (socket) => {
    const me = socket.data.name;
    const isVisitor = me[0] === 'v';
    socket.join(me);

    socket.on('m', (text, ack) => {
      const cb = typeof ack === 'function' ? ack : null;
      if (typeof text !== 'string') {
        if (cb) cb({ error: 'text must be a string' });
        return;
      }
      const sp = text.indexOf(' ');
      const to = sp === -1 ? text : text.slice(0, sp);
      const conv = isVisitor ? me : to;
      const key = PREFIX + 'c:{' + conv + '}';
      pub
        .evalSha(sha, { keys: [key, key + ':ev'], arguments: [text] })
        .then(
          (seq) => {
            io.to(to).emit('m', text);
            if (cb) cb(Number(seq));
          },
          (err) => {
            if (cb) cb({ error: String(err) });
          }
        );
    });
  });

  await new Promise((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(PORT, '127.0.0.1', resolve);
  });
  console.log(`socketio peer listening on 127.0.0.1:${PORT}`);

  let stopping = false;
  const shutdown = () => {
    if (stopping) return;
    stopping = true;
    setTimeout(() => process.exit(0), 2000).unref();
    io.close(() => {
      Promise.allSettled([pub.quit(), sub.quit()]).then(() => process.exit(0));
    });
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

main().catch((err) => {
  console.error('socketio peer failed to start:', err);
  process.exit(1);
});
