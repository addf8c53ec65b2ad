// Clients of a reconnect storm, written the way the legacy services tell their users to write them: a signal
// client that reconnects with `?since=<last id>` after a short random wait, and socket.io-client, which
// reconnects by itself. Each records what a test needs to judge the storm: drops, reconnect times, ids.
//
// This file is also the entry point of a storm's client processes (infra/tests/support/storm.ts forks it with
// STORM_CLIENT_PROCESS=1): each process holds a share of the clients and answers the coordinator's requests
// over IPC, so no single event loop carries all of them and the figures measure the gateways, not the clients.
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { mintDevToken } from '@gw/auth';
import { io } from 'socket.io-client';
import type { Socket } from 'socket.io-client';
import WebSocket from 'ws';

/** When a reconnect is tried again after a failed attempt, at most (ms). */
const MAX_BACKOFF_MS = 2000;

export interface SignalClientOptions {
  /** `ws://host:port/ws/signals`, without a query. */
  url: string;
  token: string;
  /** Sent as X-Forwarded-For: the address the gateway resolves through its trusted proxy. */
  forwardedFor: string;
  /** Upper bound of the random wait before the first reconnect attempt after a drop (ms). */
  reconnectJitterMs: number;
}

/**
 * A signal client with a small reconnect loop. Guarantees: after a drop it keeps trying (random first wait,
 * then doubling up to 2 s) until `close()`; every attempt after the first carries `?since=` of the last signal
 * id it received, so the server replays what it missed.
 */
export class SignalStormClient {
  /** Ids of the live and replayed signals, in the order received. */
  readonly ids: string[] = [];
  /** Established connections lost (not counting attempts that never opened). */
  drops = 0;
  /** Recovery frames received after a `since` reconnect (`recovered: false` ones too). */
  readonly recoveries: { recovered: boolean; reason?: string }[] = [];
  /** performance.now() of the last drop and of the last successful open. */
  droppedAt: number | undefined;
  openedAt: number | undefined;
  /** Reconnect attempts that did not open, by what happened (`http 502`, `closed`). */
  readonly failures = new Map<string, number>();
  readonly #options: SignalClientOptions;
  #socket: WebSocket | undefined;
  #closed = false;
  #backoffMs = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: SignalClientOptions) {
    this.#options = options;
  }

  get open(): boolean {
    return this.#socket?.readyState === WebSocket.OPEN;
  }

  get lastId(): string | undefined {
    return this.ids.at(-1);
  }

  /** The first connection; resolves once open, rejects if that first attempt fails. */
  connect(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#attempt(resolve, reject);
    });
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#socket?.terminate();
  }

  #attempt(onOpen?: () => void, onFail?: (error: Error) => void): void {
    const last = this.lastId;
    const query = last === undefined ? '' : `?since=${encodeURIComponent(last)}`;
    const socket = new WebSocket(`${this.#options.url}${query}`, {
      headers: { authorization: `Bearer ${this.#options.token}`, 'x-forwarded-for': this.#options.forwardedFor },
      perMessageDeflate: false,
    });
    this.#socket = socket;
    let opened = false;
    socket.on('error', () => undefined); // always followed by 'close'
    let failure = 'closed before the upgrade';
    socket.once('unexpected-response', (_request, response) => {
      failure = `http ${response.statusCode ?? '?'}`;
      socket.terminate();
      onFail?.(new Error(`upgrade answered ${response.statusCode ?? '?'}`));
    });
    socket.once('open', () => {
      opened = true;
      this.openedAt = performance.now();
      this.#backoffMs = 0;
      onOpen?.();
    });
    socket.on('message', (data: Buffer) => {
      const frame = JSON.parse(data.toString('utf8')) as { type?: string; id?: string; is_test?: boolean; recovered?: boolean; reason?: string };
      if ((frame.type === 'buy' || frame.type === 'sell') && frame.is_test !== true && typeof frame.id === 'string') {
        this.ids.push(frame.id);
      } else if (frame.type === 'recovery') {
        this.recoveries.push(frame.recovered === true ? { recovered: true } : { recovered: false, reason: frame.reason ?? '?' });
      }
    });
    socket.once('close', () => {
      if (this.#socket !== socket || this.#closed) {
        return;
      }
      if (opened) {
        this.drops += 1;
        this.droppedAt = performance.now();
        this.openedAt = undefined;
      } else if (onFail !== undefined) {
        onFail(new Error('connection failed before it opened'));
        return;
      } else {
        this.failures.set(failure, (this.failures.get(failure) ?? 0) + 1);
      }
      this.#scheduleReconnect(opened);
    });
  }

  #scheduleReconnect(afterDrop: boolean): void {
    // Right after a drop every client of the dead node does this at once: the random wait spreads the storm.
    const wait = afterDrop ? Math.random() * this.#options.reconnectJitterMs : this.#backoffMs;
    this.#backoffMs = Math.min(MAX_BACKOFF_MS, Math.max(100, this.#backoffMs * 2));
    this.#timer = setTimeout(() => {
      this.#attempt();
    }, wait);
  }
}

export interface SocketIoClientOptions {
  /** `http://host:port` of the proxy. */
  base: string;
  token: string;
  forwardedFor: string;
  /** socket.io-client's `reconnectionDelay` (ms; the library's default 1000). */
  reconnectionDelayMs?: number;
  /** socket.io-client's `randomizationFactor` (the library's default 0.5). */
  randomizationFactor?: number;
}

/** A socket.io-client with its own reconnection (the library's defaults), recording drops and reconnects. */
export class SocketIoStormClient {
  readonly socket: Socket;
  drops = 0;
  /** `connected` events (the gateway's greeting after each accepted handshake). */
  greetings = 0;
  droppedAt: number | undefined;
  openedAt: number | undefined;
  /** connect_error events by message (a refused or failed reconnect attempt). */
  readonly failures = new Map<string, number>();

  constructor(options: SocketIoClientOptions) {
    this.socket = io(options.base, {
      transports: ['websocket'],
      auth: { token: options.token },
      extraHeaders: { 'x-forwarded-for': options.forwardedFor },
      autoConnect: false,
      timeout: 20_000,
      ...(options.reconnectionDelayMs === undefined ? {} : { reconnectionDelay: options.reconnectionDelayMs }),
      ...(options.randomizationFactor === undefined ? {} : { randomizationFactor: options.randomizationFactor }),
    });
    this.socket.on('connected', () => {
      this.greetings += 1;
      this.openedAt = performance.now();
    });
    this.socket.on('connect_error', (error: Error) => {
      this.failures.set(error.message, (this.failures.get(error.message) ?? 0) + 1);
    });
    this.socket.on('disconnect', () => {
      this.drops += 1;
      this.droppedAt = performance.now();
      this.openedAt = undefined;
    });
  }

  get open(): boolean {
    return this.socket.connected && this.openedAt !== undefined;
  }

  /** Connects and resolves on the gateway's `connected` greeting; rejects on the first connect_error. */
  connect(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (error: Error): void => {
        this.socket.off('connected', onConnected);
        reject(error);
      };
      const onConnected = (): void => {
        this.socket.off('connect_error', onError);
        resolve();
      };
      this.socket.once('connected', onConnected);
      this.socket.once('connect_error', onError);
      this.socket.connect();
    });
  }

  close(): void {
    this.socket.close();
  }
}

/** Runs `start` for every item with at most `concurrency` in flight; rejects with the first failure. */
export async function inBatches<T>(items: readonly T[], concurrency: number, start: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    for (let item = items[next]; item !== undefined; item = items[next]) {
      next += 1;
      await start(item);
    }
  });
  await Promise.all(lanes);
}

/** A distinct private address per client index (10.x.y.z), so per-address admission sees distinct clients. */
export function clientAddress(index: number): string {
  return `10.${(index >> 16) & 255}.${(index >> 8) & 255}.${index & 255}`;
}

/** What the coordinator hands a client process: which clients it holds and how they connect. */
export interface ClientProcessSetup {
  wsUrl: string;
  base: string;
  jwtSecret: string;
  /** Client indexes (0-based over all clients) of this process's signal clients and Socket.IO clients. */
  signalIndexes: number[];
  socketIoIndexes: number[];
  reconnectJitterMs: number;
  socketIoReconnectionDelayMs?: number;
  socketIoRandomizationFactor?: number;
  /** First connections in flight at once in this process. */
  connectConcurrency: number;
}

/** One client's account at the end of a storm; times are epoch milliseconds (performance.timeOrigin based). */
export interface ClientReport {
  index: number;
  drops: number;
  open: boolean;
  openedAt: number | null;
  failures: Record<string, number>;
}

export interface SignalClientReport extends ClientReport {
  /** Ids differ from the published list (lost, duplicated, out of order). */
  wrongSequence: boolean;
  /** What differed, when wrongSequence. */
  example?: string;
  notRecovered: number;
  /** The `reason` of each `recovered: false` frame, counted. */
  notRecoveredReasons: Record<string, number>;
}

/** Requests of the coordinator, answered by a client process. */
export type ClientProcessRequest =
  | { op: 'start'; setup: ClientProcessSetup }
  | { op: 'status'; lastId?: string }
  | { op: 'mark' }
  | { op: 'measure' }
  | { op: 'report'; published: string[]; publishFailures: number }
  | { op: 'close' };

/** A client process's counts, polled by the coordinator while it waits. */
export interface ClientProcessStatus {
  signalsWithId: number;
  /** Clients (both kinds) that lost a connection at least once, and of those, how many are open again. */
  dropped: number;
  droppedOpen: number;
  /** Signal clients whose last id is the `lastId` asked about. */
  signalsAtLastId: number;
}

/** A client process's own load between `mark` and `measure`. */
export interface ClientProcessLoad {
  clients: number;
  /** CPU in cores (user + system over wall time). */
  cores: number;
  /** Longest event-loop delay, ms. */
  loopDelayMaxMs: number;
}

/** Wall-clock milliseconds comparable across processes. */
export function epochNow(): number {
  return performance.timeOrigin + performance.now();
}

function sequenceCheck(client: SignalStormClient, published: readonly string[], known: ReadonlySet<string>, publishFailures: number): string | undefined {
  // Ids of unanswered publishes are unknown: at most that many ids outside the published list are allowed.
  const ids = client.ids.filter((id) => known.has(id));
  const unknown = client.ids.length - ids.length;
  if (unknown > publishFailures || ids.length !== published.length || ids.some((id, k) => id !== published[k])) {
    const have = new Set(client.ids);
    const missing = published.filter((id) => !have.has(id)).length;
    return `${client.ids.length} ids for ${published.length} published, ${missing} missing, drops ${client.drops}`;
  }
  return undefined;
}

/** The client process: holds its share of the clients and answers the coordinator until `close`. */
function runClientProcess(): void {
  const send = process.send?.bind(process);
  if (send === undefined) {
    throw new Error('a storm client process needs an IPC channel (forked by storm.ts)');
  }
  let signals: { index: number; client: SignalStormClient }[] = [];
  let socketIos: { index: number; client: SocketIoStormClient }[] = [];
  let mark: { cpu: NodeJS.CpuUsage; at: number; delay: ReturnType<typeof monitorEventLoopDelay> } | undefined;
  const all = (): (SignalStormClient | SocketIoStormClient)[] => [...signals.map((s) => s.client), ...socketIos.map((s) => s.client)];
  const report = (entry: { index: number; client: SignalStormClient | SocketIoStormClient }): ClientReport => ({
    index: entry.index,
    drops: entry.client.drops,
    open: entry.client.open,
    openedAt: entry.client.openedAt === undefined ? null : performance.timeOrigin + entry.client.openedAt,
    failures: Object.fromEntries(entry.client.failures),
  });

  const handle = async (request: ClientProcessRequest): Promise<unknown> => {
    switch (request.op) {
      case 'start': {
        const { setup } = request;
        const token = (index: number): Promise<string> => mintDevToken({ secret: setup.jwtSecret, sub: index + 1, expiresIn: '1h' });
        // Client i claims address 10.x.y.z of i + 1: distinct clients to the per-address admission.
        signals = await Promise.all(
          setup.signalIndexes.map(async (index) => ({
            index,
            client: new SignalStormClient({ url: setup.wsUrl, token: await token(index), forwardedFor: clientAddress(index + 1), reconnectJitterMs: setup.reconnectJitterMs }),
          })),
        );
        socketIos = await Promise.all(
          setup.socketIoIndexes.map(async (index) => ({
            index,
            client: new SocketIoStormClient({
              base: setup.base,
              token: await token(index),
              forwardedFor: clientAddress(index + 1),
              ...(setup.socketIoReconnectionDelayMs === undefined ? {} : { reconnectionDelayMs: setup.socketIoReconnectionDelayMs }),
              ...(setup.socketIoRandomizationFactor === undefined ? {} : { randomizationFactor: setup.socketIoRandomizationFactor }),
            }),
          })),
        );
        await inBatches(signals, setup.connectConcurrency, (s) => s.client.connect());
        await inBatches(socketIos, setup.connectConcurrency, (s) => s.client.connect());
        return null;
      }
      case 'status': {
        const dropped = all().filter((c) => c.drops > 0);
        const status: ClientProcessStatus = {
          signalsWithId: signals.filter((s) => s.client.ids.length > 0).length,
          dropped: dropped.length,
          droppedOpen: dropped.filter((c) => c.open).length,
          signalsAtLastId: request.lastId === undefined ? 0 : signals.filter((s) => s.client.lastId === request.lastId).length,
        };
        return status;
      }
      case 'mark': {
        const delay = monitorEventLoopDelay({ resolution: 10 });
        delay.enable();
        mark = { cpu: process.cpuUsage(), at: performance.now(), delay };
        return null;
      }
      case 'measure': {
        if (mark === undefined) {
          throw new Error('measure before mark');
        }
        const cpu = process.cpuUsage(mark.cpu);
        mark.delay.disable();
        const load: ClientProcessLoad = {
          clients: signals.length + socketIos.length,
          cores: (cpu.user + cpu.system) / 1000 / (performance.now() - mark.at),
          loopDelayMaxMs: mark.delay.max / 1e6,
        };
        return load;
      }
      case 'report': {
        const known = new Set(request.published);
        return {
          signals: signals.map((entry): SignalClientReport => {
            const example = sequenceCheck(entry.client, request.published, known, request.publishFailures);
            return {
              ...report(entry),
              wrongSequence: example !== undefined,
              ...(example === undefined ? {} : { example: `client ${entry.index}: ${example}` }),
              notRecovered: entry.client.recoveries.filter((r) => !r.recovered).length,
              notRecoveredReasons: entry.client.recoveries.reduce<Record<string, number>>((counts, r) => {
                if (r.reason !== undefined) {
                  counts[r.reason] = (counts[r.reason] ?? 0) + 1;
                }
                return counts;
              }, {}),
            };
          }),
          socketIo: socketIos.map(report),
        };
      }
      case 'close': {
        for (const client of all()) {
          client.close();
        }
        return null;
      }
    }
  };

  process.on('message', (message: { id: number; request: ClientProcessRequest }) => {
    handle(message.request).then(
      (value) => send({ id: message.id, ok: true, value }),
      (error: unknown) => send({ id: message.id, ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
    );
  });
  // The coordinator gone (finished, crashed, killed): nothing is left to report to.
  process.on('disconnect', () => {
    for (const client of all()) {
      client.close();
    }
    process.exit(0);
  });
  send({ id: 0, ok: true, value: 'ready' });
}

if (process.env['STORM_CLIENT_PROCESS'] === '1') {
  runClientProcess();
}
