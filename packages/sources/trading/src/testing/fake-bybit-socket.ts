import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';

/**
 * A local fake of Bybit's v5 WebSocket API (both the private stream `/v5/private` and the public streams
 * `/v5/public/{spot,linear,inverse,option}`), for driving ccxt's REAL `pro.bybit` class with its
 * `urls.api.ws` pointed here. The operations and answers are those of Bybit's v5 WebSocket documentation and of
 * what ccxt's `pro/bybit.js` sends and parses:
 *
 * - `{"op":"auth","args":[apiKey, expires, signature]}` on the private path: signature = hex HMAC-SHA256 of
 *   `GET/realtime{expires}` with the key's secret, `expires` a future time in ms. Success answers
 *   `{"success":true,"ret_msg":"","op":"auth","conn_id":…}`; a bad signature, an unknown key or an expired
 *   `expires` answers `{"success":false,"ret_msg":"Request not authorized","op":"auth","conn_id":…}` (the
 *   connection stays open, as on Bybit).
 * - `{"op":"subscribe","req_id":…,"args":[topics]}` → `{"success":true,"ret_msg":"","conn_id":…,"req_id":…,
 *   "op":"subscribe"}`; private topics before a successful auth are refused (`success: false`).
 * - `{"op":"ping","req_id":…}` → private: `{"req_id":…,"op":"pong","args":["<ms>"],"conn_id":…}`; public:
 *   `{"success":true,"ret_msg":"pong","conn_id":…,"req_id":…,"op":"ping"}`.
 * - anything else (not JSON, an unknown op) → `{"success":false,"ret_msg":"error:invalid op",…}`.
 *
 * Tests push topic messages with `publish` (only connections subscribed to the topic, and on the private
 * path only those authenticated with the given key, receive them), drop connections, and refuse new ones.
 * 127.0.0.1 only, port chosen by the kernel.
 */

export const PRIVATE_PATH = '/v5/private';

export interface FakeSocketOp {
  path: string;
  /** The key the connection authenticated with (private path), if any. */
  apiKey: string | undefined;
  op: string;
  args: unknown[];
  at: number;
}

export interface FakeBybitSocketOptions {
  /** The secret of an API key (undefined: the key is unknown and refused). */
  secretOf(apiKey: string): string | undefined;
}

export interface FakeBybitSocket {
  /** `ws://127.0.0.1:PORT`: the base of every stream URL (paths as on Bybit). */
  readonly url: string;
  /** Every operation received, in order. */
  readonly ops: FakeSocketOp[];
  /**
   * Sends `message` to the connections on `path` subscribed to `topic` (on the private path: only those
   * authenticated with `apiKey`). Returns how many received it.
   */
  publish(path: string, topic: string, message: unknown, apiKey?: string): number;
  /** Open connections on `path` subscribed to `topic` (authenticated with `apiKey` on the private path). */
  subscribers(path: string, topic: string, apiKey?: string): number;
  /** Open connections authenticated with `apiKey`. */
  authenticated(apiKey: string): number;
  /** Open connections (of every path). */
  connections(): number;
  /** Closes (abruptly, as a network failure) the connections authenticated with `apiKey`, or all of them. */
  drop(apiKey?: string): void;
  /** While true, new connections are answered HTTP 503 and never upgraded. */
  refuseConnections(refuse: boolean): void;
  close(): Promise<void>;
}

interface Connection {
  socket: WebSocket;
  path: string;
  id: string;
  apiKey: string | undefined;
  topics: Set<string>;
}

function isPrivateTopic(topic: string): boolean {
  const base = topic.split('.')[0] ?? '';
  return ['wallet', 'position', 'order', 'execution', 'greeks', 'dcp'].includes(base);
}

/** Checks a v5 auth request as Bybit does: known key, future expiry, exact signature. */
function signatureValid(secret: string, expires: unknown, signature: unknown): boolean {
  const expiresText = typeof expires === 'number' ? String(expires) : typeof expires === 'string' ? expires : undefined;
  if (expiresText === undefined || !/^\d+$/.test(expiresText) || Number(expiresText) <= Date.now() || typeof signature !== 'string') {
    return false;
  }
  const expected = Buffer.from(createHmac('sha256', secret).update(`GET/realtime${expiresText}`).digest('hex'));
  const given = Buffer.from(signature);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Starts the fake on 127.0.0.1 (kernel-chosen port). */
export async function startFakeBybitSocket(options: FakeBybitSocketOptions): Promise<FakeBybitSocket> {
  const connections = new Set<Connection>();
  const sockets = new Set<Socket>();
  const ops: FakeSocketOp[] = [];
  let refusing = false;

  const server = createServer((_req, res) => {
    res.writeHead(404).end();
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    const known = path === PRIVATE_PATH || /^\/v5\/public\/(spot|linear|inverse|option)$/.test(path);
    if (refusing || !known) {
      socket.end(`HTTP/1.1 ${refusing ? '503 Service Unavailable' : '404 Not Found'}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      accept(ws, path);
    });
  });

  const send = (connection: Connection, message: unknown): void => {
    connection.socket.send(JSON.stringify(message));
  };

  const accept = (socket: WebSocket, path: string): void => {
    const connection: Connection = { socket, path, id: `${randomUUID()}-fake`, apiKey: undefined, topics: new Set() };
    connections.add(connection);
    socket.on('close', () => connections.delete(connection));
    socket.on('error', () => connections.delete(connection));
    const isPrivate = path === PRIVATE_PATH;
    socket.on('message', (raw) => {
      let request: { op?: unknown; args?: unknown; req_id?: unknown };
      try {
        request = JSON.parse(Buffer.isBuffer(raw) ? raw.toString('utf8') : Buffer.concat(Array.isArray(raw) ? raw : [Buffer.from(raw)]).toString('utf8')) as typeof request;
      } catch {
        send(connection, { success: false, ret_msg: 'error:invalid op', conn_id: connection.id });
        return;
      }
      const op = typeof request.op === 'string' ? request.op : '';
      const args = Array.isArray(request.args) ? (request.args as unknown[]) : [];
      const reqId = typeof request.req_id === 'string' || typeof request.req_id === 'number' ? String(request.req_id) : undefined;
      ops.push({ path, apiKey: connection.apiKey, op, args, at: Date.now() });
      const answer = (success: boolean, retMsg: string): void => {
        send(connection, { success, ret_msg: retMsg, conn_id: connection.id, ...(reqId === undefined ? {} : { req_id: reqId }), op });
      };
      switch (op) {
        case 'ping':
          if (isPrivate) {
            send(connection, { ...(reqId === undefined ? {} : { req_id: reqId }), op: 'pong', args: [String(Date.now())], conn_id: connection.id });
          } else {
            send(connection, { success: true, ret_msg: 'pong', conn_id: connection.id, ...(reqId === undefined ? {} : { req_id: reqId }), op: 'ping' });
          }
          return;
        case 'auth': {
          const [apiKey, expires, signature] = args;
          const secret = isPrivate && typeof apiKey === 'string' ? options.secretOf(apiKey) : undefined;
          if (secret !== undefined && typeof apiKey === 'string' && signatureValid(secret, expires, signature)) {
            connection.apiKey = apiKey;
            answer(true, '');
          } else {
            answer(false, 'Request not authorized');
          }
          return;
        }
        case 'subscribe': {
          const topics = args.filter((topic): topic is string => typeof topic === 'string' && topic.length > 0);
          if (topics.length === 0 || topics.length !== args.length) {
            answer(false, `error:param error:args is empty or malformed`);
            return;
          }
          if (topics.some((topic) => isPrivateTopic(topic) !== isPrivate) || (isPrivate && connection.apiKey === undefined)) {
            answer(false, isPrivate ? 'Request not authorized' : `error:handler not found,topic:${topics.join(',')}`);
            return;
          }
          for (const topic of topics) {
            connection.topics.add(topic);
          }
          answer(true, '');
          return;
        }
        case 'unsubscribe':
          for (const topic of args) {
            if (typeof topic === 'string') {
              connection.topics.delete(topic);
            }
          }
          answer(true, '');
          return;
        default:
          answer(false, 'error:invalid op');
      }
    });
  };

  const matching = (path: string, topic: string, apiKey: string | undefined): Connection[] =>
    [...connections].filter(
      (c) => c.path === path && c.topics.has(topic) && (path !== PRIVATE_PATH || (c.apiKey !== undefined && c.apiKey === apiKey)),
    );

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `ws://127.0.0.1:${String(port)}`,
    ops,
    publish(path, topic, message, apiKey) {
      const targets = matching(path, topic, apiKey);
      for (const connection of targets) {
        send(connection, message);
      }
      return targets.length;
    },
    subscribers: (path, topic, apiKey) => matching(path, topic, apiKey).length,
    authenticated: (apiKey) => [...connections].filter((c) => c.apiKey === apiKey).length,
    connections: () => connections.size,
    drop(apiKey) {
      for (const connection of [...connections]) {
        if (apiKey === undefined || connection.apiKey === apiKey) {
          connection.socket.terminate();
          connections.delete(connection);
        }
      }
    },
    refuseConnections(refuse) {
      refusing = refuse;
    },
    async close() {
      for (const connection of connections) {
        connection.socket.terminate();
      }
      connections.clear();
      for (const socket of sockets) {
        socket.destroy();
      }
      await new Promise<void>((resolve) => {
        wss.close(() => {
          server.close(() => {
            resolve();
          });
        });
      });
    },
  };
}
