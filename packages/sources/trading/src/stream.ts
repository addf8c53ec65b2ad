import type { StreamClient } from './exchange.js';

/** What an open stream reports, each as ccxt parsed it. */
export interface StreamHandlers {
  /** Every topic is subscribed (the exchange acknowledged them): from now on no change is missed. */
  live(): void;
  /** `eventTime`: the exchange's own time of the oldest push this balance includes (ms), when it gave one. */
  balance(balance: unknown, eventTime: number | undefined): void;
  /** Positions that changed (a closed one has no side and size 0). */
  positions(positions: readonly unknown[]): void;
  /** Orders that changed, whatever their new status. */
  orders(orders: readonly unknown[]): void;
  /** The account's executions (fills). */
  executions(trades: readonly unknown[]): void;
  /** The stream failed (once per `open`); it is closed already. */
  failed(error: unknown): void;
}

/** The topics one account stream subscribes: wallet, position, order, execution (one ccxt watch loop each). */
const TOPIC_COUNT = 4;

/**
 * One account's private stream over a ccxt pro client: four watch loops (`watchBalance`, `watchPositions`,
 * `watchOrders`, `watchMyTrades`) sharing ccxt's one WebSocket connection. ccxt resolves a watch call with the
 * changes since the previous call; a connection failure rejects every pending call, which ends this stream
 * (`failed`, once) and closes the client: the owner decides when to open it again (ccxt then connects and
 * authenticates afresh).
 */
export class AccountStream {
  readonly #client: StreamClient;
  #generation = 0;
  #open = false;

  constructor(client: StreamClient) {
    this.#client = client;
  }

  get isOpen(): boolean {
    return this.#open;
  }

  open(handlers: StreamHandlers): void {
    if (this.#open) {
      return;
    }
    this.#open = true;
    this.#client.reopen();
    const generation = ++this.#generation;
    const current = (): boolean => this.#open && this.#generation === generation;
    let acknowledged = 0;
    this.#client.onSubscribed = (message) => {
      if (!current() || message['success'] !== true) {
        return;
      }
      acknowledged += 1;
      if (acknowledged === TOPIC_COUNT) {
        handlers.live();
      }
    };
    const fail = (error: unknown): void => {
      if (!current()) {
        return;
      }
      void this.close().then(() => {
        handlers.failed(error);
      });
    };
    const loop = async <T>(watch: () => Promise<T>, deliver: (value: T) => void): Promise<void> => {
      while (current()) {
        let value: T;
        try {
          value = await watch();
        } catch (error) {
          fail(error);
          return;
        }
        if (current()) {
          deliver(value);
        }
      }
    };
    const client = this.#client;
    void loop(() => client.watchBalance(), (balance) => {
      handlers.balance(balance, client.takeBalanceEventTime());
    });
    void loop(() => client.watchPositions(), (positions) => {
      handlers.positions(positions);
    });
    void loop(() => client.watchOrders(), (orders) => {
      handlers.orders(orders);
    });
    void loop(() => client.watchMyTrades(), (trades) => {
      handlers.executions(trades);
    });
  }

  /** Closes the connection; pending watch calls end without reporting a failure. */
  async close(): Promise<void> {
    if (!this.#open) {
      return;
    }
    this.#open = false;
    this.#client.onSubscribed = undefined;
    await this.#client.close().catch(() => undefined);
  }
}
