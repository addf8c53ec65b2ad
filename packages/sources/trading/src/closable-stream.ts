import type * as Ccxt from 'ccxt';

type WsClient = ReturnType<Ccxt.Exchange['client']>;

/** A ccxt pro exchange class (TypeScript's mixin pattern requires exactly this constructor signature). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type ProExchangeClass = new (...args: any[]) => Ccxt.Exchange;

/** What {@link closableByOwner} adds to a ccxt pro exchange. */
export interface ClosableByOwner {
  /** Allows connections again after `close()`, which refuses every later one. */
  reopen(): void;
}

/**
 * A ccxt pro exchange class that stays closed once its owner closed it, for sources that open and close an
 * exchange's streams as their watchers come and go.
 *
 * A ccxt watch call may do work before it touches the connection (Bybit's private streams first ask REST
 * whether the account is unified, queued behind ccxt's rate limiter) and only then asks for the connection,
 * creating it when there is none. `close()` closes the connections that exist at that moment, so a watch call
 * still in that preamble would open a new one afterwards, subscribe, and stay connected with nobody reading it.
 * Here, after `close()`, asking for a connection fails (the watch call rejects with ccxt's
 * ExchangeClosedByUser) until the owner `reopen`s.
 *
 * ccxt also sends a subscription queued behind its WebSocket rate limiter without handling the failure of that
 * send: when the connection closes meanwhile, the rejection would go unhandled (and end a Node process). The
 * connection's failure reaches every pending watch call through its close anyway, so such a send's failure is
 * marked handled here.
 */
export function closableByOwner<Base extends ProExchangeClass>(base: Base, closedError: typeof Ccxt.ExchangeClosedByUser) {
  return class extends base implements ClosableByOwner {
    #closedByOwner = false;
    readonly #guarded = new WeakSet<WsClient>();

    override client(url: string): WsClient {
      if (this.#closedByOwner) {
        throw new closedError(`${this.id} stream closed`);
      }
      const client = super.client(url);
      if (!this.#guarded.has(client)) {
        this.#guarded.add(client);
        const send = client.send.bind(client);
        client.send = (message: unknown): Promise<unknown> => {
          const sent = send(message as Parameters<typeof send>[0]);
          sent.catch(() => undefined);
          return sent;
        };
      }
      return client;
    }

    override async close(): Promise<void> {
      this.#closedByOwner = true;
      await super.close();
    }

    reopen(): void {
      this.#closedByOwner = false;
    }
  };
}
