import { BusChannel } from '@gw/bus';
import type { Bus, Envelope } from '@gw/bus';
import type { Logger } from '@gw/core';
import { pricePushRequestSchema, stockTopics } from '@gw/topics';
import type { StockQuote } from '@gw/topics';
import type { StockHub } from './hub.js';

const LATEST_BATCH = 500;

/**
 * The adapter's bus side, consumed through bus channels (retried with backoff, latest values delivered
 * again after an outage): the quote pattern, the universe and buy lists (latest values; the configured
 * strategies' from the start, each announced strategy's once it is announced: `watchStrategy`), and the
 * cluster-wide manual push topic. Quotes arrive on a pattern, which has no stored latest value to deliver:
 * after the bus returns, every quote of the universe is read again so nothing missed stays stale.
 */
export class StockFeed {
  readonly #bus: Bus;
  readonly #hub: StockHub;
  readonly #logger: Logger;
  readonly #channels: BusChannel[];
  readonly #channel: (topic: string, withLatest: boolean, onMessage: (message: Envelope) => void) => BusChannel;
  readonly #member = {};
  #started = false;
  #stopped = false;
  #stopState: (() => void) | undefined;
  #busWasDown = false;

  constructor(options: { bus: Bus; hub: StockHub; logger: Logger; onPush: (strategy: string, requestedAt: number) => void }) {
    this.#bus = options.bus;
    this.#hub = options.hub;
    this.#logger = options.logger;
    const channel = (this.#channel = (topic: string, withLatest: boolean, onMessage: (message: Envelope) => void): BusChannel =>
      new BusChannel({
        bus: options.bus,
        topic,
        declareInterest: false,
        withLatest,
        onMessage,
        onFailure: (error) => {
          this.#logger.warn({ err: error, topic }, 'stock feed: bus operation failed; retrying');
        },
      }));
    this.#channels = [
      channel(stockTopics.quotePattern, false, (message) => {
        this.#hub.onQuote(message as Envelope<StockQuote>);
      }),
      channel(stockTopics.universe, true, this.#hub.onUniverse),
      ...this.#hub.configuredStrategies.map((strategy) => channel(stockTopics.buyList(strategy), true, this.#hub.onBuyList)),
      channel(stockTopics.push, false, (message) => {
        const request = pricePushRequestSchema.safeParse(message.data);
        if (request.success) {
          options.onPush(request.data.strategy, request.data.requested_ms);
        }
      }),
    ];
    this.#hub.onMissingQuotes = (codes) => {
      this.#loadQuotes(codes).catch((error: unknown) => {
        this.#logger.warn({ err: error }, 'loading stock quotes failed');
      });
    };
  }

  /** Joins every channel (each becomes live as soon as the bus lets it). */
  async start(): Promise<void> {
    this.#stopState = this.#bus.onStateChange((state) => {
      if (state !== 'connected') {
        this.#busWasDown = true;
      } else if (this.#busWasDown) {
        this.#busWasDown = false;
        this.#reloadQuotes().catch((error: unknown) => {
          this.#logger.warn({ err: error }, 'reloading stock quotes after a reconnect failed');
        });
      }
    });
    this.#started = true;
    await Promise.all(this.#channels.map((c) => c.add(this.#member)));
  }

  /** Starts reading a strategy's buy list (a strategy a source announced); its latest value first. */
  async watchStrategy(strategy: string): Promise<void> {
    const topic = stockTopics.buyList(strategy);
    if (this.#stopped || this.#channels.some((c) => c.topic === topic)) {
      return;
    }
    const channel = this.#channel(topic, true, this.#hub.onBuyList);
    this.#channels.push(channel);
    if (this.#started) {
      await channel.add(this.#member);
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#stopState?.();
    await Promise.allSettled(this.#channels.map((c) => c.close()));
  }

  async #reloadQuotes(): Promise<void> {
    const universe = await this.#bus.latestMany<{ stocks?: { code: string }[] }>([stockTopics.universe]);
    await this.#loadQuotes(universe[0]?.data.stocks?.map((s) => s.code) ?? []);
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
