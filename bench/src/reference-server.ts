/**
 * The reference row: the minimal uWebSockets.js broadcast server (after shared/bench/uws-reference/server.js),
 * run on the workspace's own uWebSockets.js build. WebSocket subscribers on `/ws` join the topic `all`;
 * `POST /pub` publishes its body to them with one `app.publish`. Nothing else: no auth, no JSON, no metrics —
 * the fastest this machine fans out, which the gateway is measured against.
 *
 * Run by the bench as its own process: `PORT=18083 node --import tsx bench/src/reference-server.ts`.
 */
import { assertNativeUws, describeUwsBuild, uWS } from '@gw/uws';

const port = Number(process.env['PORT'] ?? '18083');
// The package silently falls back to a slow JS implementation when the native addon does not load, which
// would make this reference meaningless: refuse instead.
assertNativeUws(describeUwsBuild(), false);

const app = uWS.App();
app.ws('/ws', {
  compression: uWS.DISABLED,
  maxPayloadLength: 64 * 1024,
  maxBackpressure: 1024 * 1024,
  idleTimeout: 120,
  open: (ws) => {
    ws.subscribe('all');
  },
});
app.post('/pub', (res) => {
  const parts: Buffer[] = [];
  let aborted = false;
  res.onAborted(() => {
    aborted = true;
  });
  res.onData((chunk, isLast) => {
    // The chunk is only valid during this callback: copy it.
    parts.push(Buffer.from(chunk.slice(0)));
    if (isLast) {
      app.publish('all', Buffer.concat(parts), false);
      if (!aborted) {
        res.end('ok');
      }
    }
  });
});
app.any('/*', (res) => {
  res.writeStatus('404 Not Found').end();
});
app.listen('127.0.0.1', port, (token) => {
  if (token === false) {
    console.error(`uws-reference: cannot listen on 127.0.0.1:${port}`);
    process.exit(1);
  }
  console.log(`uws-reference listening on 127.0.0.1:${port}`);
});
process.on('SIGTERM', () => {
  process.exit(0);
});
