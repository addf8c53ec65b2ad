import { createSignalsAdapter, signalsAdapterConfig } from '@gw/adapter-signals';
import { createSocketIoAdapter, socketioConfig } from '@gw/adapter-socketio';
import { createStockAdapter, stockAdapterConfig } from '@gw/adapter-stock';
import { whenConnected } from '@gw/bus';
import type { ReconnectOptions } from '@gw/client';
import { loadConfig } from '@gw/config';
import { tradingSource } from '@gw/source-trading';
import type { ConnectedClient } from '@gw/connections';
import { startTestGateway } from '../testing/gateway.js';
import type { TestGateway } from '../testing/gateway.js';
import { ADMIN_TOKEN } from '../protocols/signals/fixture.js';
import { fastTrading } from '../protocols/socketio/harness.js';

/** Reconnect quickly in tests (the defaults, 1 s to 30 s, are for people); jitter stays on. */
export const fastReconnect: ReconnectOptions = { initialDelayMs: 50, maxDelayMs: 250 };

/**
 * A gateway with all three protocols (signals, stock prices, trading with its source embedded), as `pnpm start`
 * wires them, configured from `env` (so `REDIS_URL`, `PORT` and every protocol's settings apply).
 */
export async function startAllProtocols(env: Record<string, string>): Promise<TestGateway> {
  const fullEnv = { ADMIN_TOKEN, ...fastTrading, ...env };
  const config = loadConfig(fullEnv, { signals: signalsAdapterConfig, stock: stockAdapterConfig, socketio: socketioConfig });
  const gateway = await startTestGateway({
    env: fullEnv,
    adapters: [createSignalsAdapter(config.signals), createStockAdapter(config.stock), createSocketIoAdapter(config.socketio)],
    sources: [tradingSource],
  });
  await whenConnected(gateway.bus, 10_000);
  return gateway;
}

/** Closes every connection of `protocol` from the server side (as a drain does: 1001 / transport close). */
export function closeFromServer(gateway: TestGateway, protocol: ConnectedClient['protocol']): number {
  const clients = [...gateway.clients.all()].filter((client) => client.protocol === protocol);
  for (const client of clients) {
    client.close('shutdown');
  }
  return clients.length;
}

/** The server's view of the connections of `protocol`: subscriptions of each. */
export function serverSubscriptions(gateway: TestGateway, protocol: ConnectedClient['protocol']): string[][] {
  return [...gateway.clients.all()].filter((client) => client.protocol === protocol).map((client) => client.subscriptions().sort());
}

/**
 * A `getToken` hook that counts its calls, mints with `mint(call)` and can be held: while held, calls wait,
 * so a test decides exactly when a client reconnects (and what happens while it is away).
 */
export class TokenHook {
  calls = 0;
  readonly #mint: (call: number) => Promise<string>;
  #held: Promise<void> | undefined;
  #release: (() => void) | undefined;

  constructor(mint: (call: number) => Promise<string>) {
    this.#mint = mint;
  }

  readonly getToken = async (): Promise<string> => {
    this.calls += 1;
    const call = this.calls;
    await this.#held;
    return this.#mint(call);
  };

  hold(): void {
    this.#held ??= new Promise((resolve) => {
      this.#release = resolve;
    });
  }

  release(): void {
    this.#release?.();
    this.#held = undefined;
    this.#release = undefined;
  }
}

/**
 * Values a listener receives, kept in order, with cursor-based waits: `next()` returns the first value not
 * returned before (matching `where`), waiting for it if needed — streams are read in order without sleeps.
 */
export class Inbox<T> {
  readonly values: T[] = [];
  #cursor = 0;
  readonly #waiters = new Set<() => void>();

  /** The listener to register (`client.onSignal(inbox.push)`). */
  readonly push = (value: T): void => {
    this.values.push(value);
    for (const wake of [...this.#waiters]) {
      wake();
    }
  };

  async next(where: (value: T) => boolean = () => true, timeoutMs = 30_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (this.#cursor < this.values.length) {
        const value = this.values[this.#cursor] as T;
        this.#cursor += 1;
        if (where(value)) {
          return value;
        }
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`nothing matching within ${timeoutMs} ms; last values: ${JSON.stringify(this.values.slice(-3))}`);
      }
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          clearTimeout(timer);
          this.#waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, left);
        this.#waiters.add(wake);
      });
    }
  }

  /** Marks everything received so far as read. */
  skipAll(): void {
    this.#cursor = this.values.length;
  }
}


export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
