import { assertNativeUws, describeUwsBuild, uWS } from '@gw/uws';
import type { TemplatedApp } from '@gw/uws';
import { addMixRoutes } from './mix-reference.js';
import type { MixOptions } from './mix-reference.js';

/**
 * The minimal uWebSockets.js broadcast app (after shared/bench/uws-reference/server.js): WebSocket subscribers
 * on `/ws` join the topic `all`; `POST /pub` publishes its body to them with one `app.publish`, then hands it
 * to `onPublish` (a multi-loop reference relays it to the other loops there); anything else is 404. No auth,
 * no JSON, no metrics. Refuses uWS's slow JS fallback, which would make the reference meaningless.
 * `mix`: also the mixed scenario's trading and stock traffic (`addMixRoutes` with these options).
 */
export function referenceApp(onPublish: (body: Buffer) => void = () => undefined, options: { mix?: MixOptions } = {}): TemplatedApp {
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
        const body = Buffer.concat(parts);
        app.publish('all', body, false);
        onPublish(body);
        if (!aborted) {
          res.end('ok');
        }
      }
    });
  });
  if (options.mix !== undefined) {
    addMixRoutes(app, options.mix);
  }
  app.any('/*', (res) => {
    res.writeStatus('404 Not Found').end();
  });
  return app;
}
