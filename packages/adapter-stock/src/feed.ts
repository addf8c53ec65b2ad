import type { Bus, Subscription } from '@gw/bus';
import type { Logger } from '@gw/core';
import { pricePushRequestSchema, stockTopics } from '@gw/topics';
import type { StockQuote } from '@gw/topics';
import type { StockHub } from './hub.js';

const LATEST_BATCH = 500;

/**
 * The adapter's bus side: the quote pattern subscription, the universe and buy lists (latest values), and the
 * cluster-wide manual push channel. Survives a bus that is not connected yet at start and bus outages: it
 * (re)subscribes when the bus connects and then re-reads every latest value, so nothing missed stays stale.
 */
export class StockFeed {
  readonly #bus: Bus;
  readonly #hub: StockHub;
  readonly #logger: Logger;
  readonly #onPush: (strategy: string) => void;
  #subscriptions: Subscription[] = [];
  #subscribing: Promise<void> | undefined;
  #stopState: (() => void) | undefined;
  #stopped = false;

  constructor(options: { bus: Bus; hub: StockHub; logger: Logger; onPush: (strategy: string) => void }) {
    this.#bus = options.bus;
    this.#hub = options.hub;
    this.#logger = options.logger;
    this.#onPush = options.onPush;
    this.#hub.onMissingQuotes = (codes) => {
      this.#loadQuotes(codes).catch((error: unknown) => {
        this.#logger.warn({ err: error }, 'loading stock quotes failed');
      });
    };
  }

  /** Subscribes now if the bus is connected; in any case again (with a full refresh) whenever it reconnects. */
  async start(): Promise<void> {
    this.#stopState = this.#bus.onStateChange((state) => {
      if (state === 'connected') {
        this.#refresh().catch((error: unknown) => {
          this.#logger.warn({ err: error }, 'refreshing the stock feed after a reconnect failed');
        });
      }
    });
    if (this.#bus.state === 'connected') {
      try {
        await this.#subscribeAll();
      } catch (error) {
        this.#logger.warn({ err: error }, 'stock feed not subscribed yet; retrying when the bus connects');
      }
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#stopState?.();
    await this.#subscribing?.catch(() => undefined);
    await Promise.allSettled(this.#subscriptions.map((s) => s.unsubscribe()));
    this.#subscriptions = [];
  }

  /** Subscribes everything once (all or nothing); concurrent calls share one attempt. */
  #subscribeAll(): Promise<void> {
    if (this.#subscriptions.length > 0 || this.#stopped) {
      return Promise.resolve();
    }
    this.#subscribing ??= (async () => {
      const made: Subscription[] = [];
      try {
        made.push(await this.#bus.subscribe<StockQuote>(stockTopics.quotePattern, this.#hub.onQuote));
        made.push(await this.#bus.subscribe(stockTopics.universe, this.#hub.onUniverse, { withLatest: true }));
        for (const strategy of this.#hub.strategies) {
          made.push(await this.#bus.subscribe(stockTopics.buyList(strategy), this.#hub.onBuyList, { withLatest: true }));
        }
        made.push(
          await this.#bus.subscribe(stockTopics.push, (message) => {
            const request = pricePushRequestSchema.safeParse(message.data);
            if (request.success) {
              this.#onPush(request.data.strategy);
            }
          }),
        );
        this.#subscriptions = made;
      } catch (error) {
        await Promise.allSettled(made.map((s) => s.unsubscribe()));
        throw error;
      } finally {
        this.#subscribing = undefined;
      }
    })();
    return this.#subscribing;
  }

  /** After a (re)connect: subscriptions in place, then every latest value read again. */
  async #refresh(): Promise<void> {
    if (this.#stopped) {
      return;
    }
    await this.#subscribeAll();
    const [universe, ...lists] = await this.#bus.latestMany([
      stockTopics.universe,
      ...this.#hub.strategies.map((s) => stockTopics.buyList(s)),
    ]);
    if (universe !== undefined) {
      this.#hub.onUniverse(universe);
    }
    for (const list of lists) {
      if (list !== undefined) {
        this.#hub.onBuyList(list);
      }
    }
    if (universe !== undefined) {
      const codes = (universe.data as { stocks?: { code: string }[] }).stocks?.map((s) => s.code) ?? [];
      await this.#loadQuotes(codes);
    }
  }

  async #loadQuotes(codes: readonly string[]): Promise<void> {
    for (let i = 0; i < codes.length; i += LATEST_BATCH) {
      const batch = codes.slice(i, i + LATEST_BATCH);
      const envelopes = await this.#bus.latestMany<StockQuote>(batch.map((code) => stockTopics.quote(code)));
      for (const envelope of envelopes) {
        if (envelope !== undefined && typeof envelope.data.code === 'string') {
          this.#hub.loadQuote(envelope);
        }
      }
    }
  }
}
