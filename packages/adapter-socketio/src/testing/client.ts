import { io } from 'socket.io-client';
import type { ManagerOptions, Socket, SocketOptions } from 'socket.io-client';

/** One event as a test client received it. */
export interface ReceivedEvent {
  event: string;
  payload: unknown;
  at: number;
}

/**
 * A real socket.io-client connection that records every event it receives, for protocol tests. Waiting is
 * cursor-based per event name: `next('balance_update')` returns the first such event not returned before,
 * waiting for it if needed, so a test reads a stream of pushes in order without sleeps.
 */
export class TradingClient {
  readonly socket: Socket;
  readonly events: ReceivedEvent[] = [];
  readonly #cursors = new Map<string, number>();
  readonly #waiters = new Set<() => void>();

  constructor(socket: Socket) {
    this.socket = socket;
    socket.onAny((event: string, ...args: unknown[]) => {
      this.events.push({ event, payload: args[0], at: Date.now() });
      for (const wake of [...this.#waiters]) {
        wake();
      }
    });
  }

  /** Every payload of `event` received so far. */
  received(event: string): unknown[] {
    return this.events.filter((e) => e.event === event).map((e) => e.payload);
  }

  /** The next `event` (optionally matching `where`) after the last one returned for that name. */
  next(event: string, timeoutMs = 15_000, where: (payload: unknown) => boolean = () => true): Promise<unknown> {
    const find = (): unknown => {
      const from = this.#cursors.get(event) ?? 0;
      for (let i = from; i < this.events.length; i += 1) {
        const entry = this.events[i]!;
        if (entry.event === event && where(entry.payload)) {
          this.#cursors.set(event, i + 1);
          return { found: entry.payload };
        }
      }
      return undefined;
    };
    const now = find() as { found: unknown } | undefined;
    if (now !== undefined) {
      return Promise.resolve(now.found);
    }
    return new Promise((resolve, reject) => {
      const wake = (): void => {
        const hit = find() as { found: unknown } | undefined;
        if (hit !== undefined) {
          clearTimeout(timer);
          this.#waiters.delete(wake);
          resolve(hit.found);
        }
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(wake);
        const seen = this.events.map((e) => e.event).join(', ') || 'nothing';
        reject(new Error(`no "${event}" within ${timeoutMs} ms (received: ${seen})`));
      }, timeoutMs);
      this.#waiters.add(wake);
    });
  }

  /** Emits with an acknowledgement callback and resolves with what the server acknowledged. */
  request(event: string, payload?: unknown, timeoutMs = 15_000): Promise<unknown> {
    const socket = this.socket.timeout(timeoutMs);
    return payload === undefined ? socket.emitWithAck(event) : socket.emitWithAck(event, payload);
  }

  /** Resolves with the disconnect reason. */
  disconnected(timeoutMs = 15_000): Promise<string> {
    return new Promise((resolve, reject) => {
      if (!this.socket.connected && this.events.some((e) => e.event === 'disconnect')) {
        resolve('already disconnected');
        return;
      }
      const timer = setTimeout(() => {
        reject(new Error(`still connected after ${timeoutMs} ms`));
      }, timeoutMs);
      this.socket.once('disconnect', (reason) => {
        clearTimeout(timer);
        resolve(reason);
      });
    });
  }

  close(): void {
    this.socket.disconnect();
  }
}

export type ClientOptions = Partial<ManagerOptions & SocketOptions>;

function open(url: string, options: ClientOptions): Socket {
  return io(url, { reconnection: false, forceNew: true, timeout: 5_000, ...options, autoConnect: false });
}

/** Connects and resolves once connected; rejects with the `connect_error` if the server refuses. */
export function connectTradingClient(url: string, options: ClientOptions = {}): Promise<TradingClient> {
  const socket = open(url, options);
  const client = new TradingClient(socket);
  return new Promise((resolve, reject) => {
    socket.once('connect', () => {
      socket.off('connect_error');
      resolve(client);
    });
    socket.once('connect_error', (error) => {
      socket.disconnect();
      reject(error);
    });
    socket.connect();
  });
}

/** The `connect_error` of a connection the server is expected to refuse (fails if it connects). */
export async function expectRefused(
  url: string,
  options: ClientOptions = {},
): Promise<Error & { data?: { code?: string; reason?: string } }> {
  try {
    const client = await connectTradingClient(url, options);
    client.close();
  } catch (error) {
    return error as Error & { data?: { code?: string; reason?: string } };
  }
  throw new Error('the server accepted a connection it should have refused');
}
