import { connect } from 'node:net';
import type { Socket } from 'node:net';
import type { HttpRequest, HttpResponse, TemplatedApp, WebSocket, WebSocketBehavior, us_listen_socket } from 'uWebSockets.js';
import { appView } from './app-view.js';
import { describeUwsBuild, uWS } from './load-uws.js';

/**
 * Where an upgrade that completes later (after a token check) must run.
 *
 * Defect of this uWS build (fixed upstream as "cork() closing a WebSocket that was upgraded asynchronously"):
 * `res.cork(() => res.upgrade(...))` called outside uWS's own callbacks can close the new WebSocket right
 * after its `open` — the client sees 1006 before its first frame is answered. After the callback, `cork()`
 * reads the HTTP response's state from memory that the upgrade has just turned into a WebSocket (the socket is
 * reallocated in place), and some bit patterns there mean "close the connection". It happens rarely and more
 * often under load, after other connections closed. Calling `res.upgrade` without a cork avoids it but makes
 * uWS print a warning for every upgrade.
 *
 * The way around both: run the upgrade while *another* socket of the event loop is corked. `res.cork` then
 * calls its callback as a plain call (no state is read after it; the 101 and the first frames are written
 * straight to the socket), and uWS counts the writes as corked. That other socket is the anchor: a WebSocket
 * this process keeps open to itself, on a private uWS app whose loopback port is closed once the anchor is in.
 * One anchor per process (uWS has one loop per thread); gateways in one process share it (`acquire`/`release`).
 */
export interface UpgradeCork {
  /** Runs `upgrade` (which calls `res.cork(() => res.upgrade(...))`) with the anchor corked. */
  run(upgrade: () => void): void;
}

interface Anchor {
  ws: WebSocket<unknown> | undefined;
  client: Socket;
}

let anchor: Anchor | undefined;
let opening: Promise<void> | undefined;
let users = 0;

/** Opens the process's anchor (once; later calls share it). Resolves when it is in place. */
export async function acquireUpgradeCork(): Promise<UpgradeCork> {
  if (!describeUwsBuild().native) {
    // The defect is the native build's; the JS fallback (development only) upgrades under its own cork.
    return upgradeCork;
  }
  users += 1;
  opening ??= openAnchor().then((opened) => {
    anchor = opened;
  });
  try {
    await opening;
  } catch (error) {
    users -= 1;
    opening = undefined;
    throw error;
  }
  return upgradeCork;
}

/** One user fewer; the last one closes the anchor. */
export function releaseUpgradeCork(): void {
  users = Math.max(0, users - 1);
  if (users > 0 || anchor === undefined) {
    return;
  }
  const closing = anchor;
  anchor = undefined;
  opening = undefined;
  closing.client.destroy();
  closing.ws?.close();
}

/**
 * The shared runner. Without an anchor (none acquired, or it was lost), the upgrade runs as uWS documents it,
 * under its own cork.
 */
export const upgradeCork: UpgradeCork = {
  run(upgrade) {
    const ws = anchor?.ws;
    if (ws === undefined) {
      upgrade();
      return;
    }
    ws.cork(upgrade);
  },
};

async function openAnchor(): Promise<Anchor> {
  const opened: Anchor = { ws: undefined, client: undefined as unknown as Socket };
  let listenSocket: us_listen_socket | undefined;
  let whenOpen: (() => void) | undefined;
  let failed: ((error: Error) => void) | undefined;
  const open = new Promise<void>((resolve, reject) => {
    whenOpen = resolve;
    failed = reject;
  });
  const app = uWS.App().ws('/*', {
    // Never pinged, never timed out: it carries no traffic.
    idleTimeout: 0,
    sendPingsAutomatically: false,
    maxPayloadLength: 16,
    open: (ws) => {
      if (opened.ws !== undefined) {
        ws.close();
        return;
      }
      opened.ws = ws;
      if (listenSocket !== undefined) {
        uWS.us_listen_socket_close(listenSocket);
        listenSocket = undefined;
      }
      whenOpen?.();
    },
    close: (ws) => {
      if (opened.ws === ws) {
        opened.ws = undefined;
      }
    },
  });
  const port = await new Promise<number>((resolve, reject) => {
    app.listen('127.0.0.1', 0, (socket) => {
      if (socket === false) {
        reject(new Error('upgrade cork: cannot listen on a loopback port'));
        return;
      }
      listenSocket = socket;
      resolve(uWS.us_socket_local_port(socket));
    });
  });
  await new Promise<void>((resolve, reject) => {
    const client = connect(port, '127.0.0.1', () => {
      client.write(
        'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          'Sec-WebSocket-Key: dXB3Z3JhZGUtY29yay0xNg==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      );
      resolve();
    });
    client.once('error', reject);
    // Read and dropped (the 101); the socket must not keep the process alive.
    client.on('data', () => undefined);
    client.unref();
    opened.client = client;
  });
  opened.client.on('error', () => undefined);
  opened.client.once('close', () => {
    failed?.(new Error('upgrade cork: the loopback connection closed before it was upgraded'));
  });
  await open;
  return opened;
}

/**
 * uWS marks a request whose `Connection` header is five characters long (`close`) to be closed once answered;
 * an upgrade of such a request completed under the anchor is built on the socket uWS has just closed (memory
 * use after free: the process dies). It is not a WebSocket handshake anyway (RFC 6455: `Connection: Upgrade`),
 * so every upgrade handler refuses it before any work. HTTP/1.0 requests, marked the same way, never reach an
 * upgrade handler.
 */
export function closesAfterResponse(req: HttpRequest): boolean {
  return req.getHeader('connection').length === 5;
}

/**
 * The app as a library that upgrades asynchronously by itself (engine.io: `res.cork(() => res.upgrade(...))`
 * after its handshake) should see it: the responses its WebSocket routes' `upgrade` handlers receive run
 * their `cork` under `upgradeCork`. Everything else is the app itself.
 */
export function withUpgradeCork(app: TemplatedApp): TemplatedApp {
  return appView(app, {
    ws: (target, pattern, behavior) => {
      const upgrade = behavior.upgrade;
      const guarded: WebSocketBehavior<unknown>['upgrade'] = (res, req, context) => {
        if (closesAfterResponse(req)) {
          // engine.io's own answer to a bad request.
          res.writeStatus('400 Bad Request').writeHeader('Content-Type', 'application/json').end('{"code":3,"message":"Bad request"}');
          return;
        }
        void upgrade?.(corkedUnderAnchor(res), req, context);
      };
      target.ws(pattern, upgrade === undefined ? behavior : { ...behavior, upgrade: guarded });
    },
  });
}

/** `res` whose `cork` runs under `upgradeCork`; its other methods are the native ones, called on `res`. */
function corkedUnderAnchor(res: HttpResponse): HttpResponse {
  return new Proxy(res, {
    get(target, property) {
      if (property === 'cork') {
        return (callback: () => void): HttpResponse => {
          upgradeCork.run(() => {
            target.cork(callback);
          });
          return target;
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
