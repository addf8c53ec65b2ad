import type { Envelope } from '@gw/bus';
import type { Logger } from '@gw/core';
import type { GatewayMetrics } from '@gw/metrics';
import { buyListSchema, stockMarkets, stockUniverseSchema, strategyNameSchema } from '@gw/topics';
import type { BuyList, StockInfo, StockMarket, StockQuote } from '@gw/topics';
import type { ProtocolStats, WebSocketEndpoint } from '@gw/connections';
import { AfterPublishWrites } from '@gw/uws';
import type { TemplatedApp } from '@gw/uws';
import type { StockAdapterConfig } from './config.js';
import type { StockErrorCode } from './errors.js';
import { strategyTopic, subscriptionKey } from './connection.js';
import type { PendingCodes, StockConnection } from './connection.js';
import type { SubscriptionType } from './schema.js';
import { wireTimestamp } from './time.js';

interface QuoteEntry {
  quote: StockQuote;
  /** When the source published this quote (Envelope.publishedAt), for the delivery-latency metric. */
  publishedAt: number;
  /** The serialized price item, made at most once per quote whatever the number of receivers. */
  fragment: string | undefined;
  /** Hub-wide arrival order of this quote (see `StockConnection.snapshotted`). */
  version: number;
}

interface StrategyState {
  list: BuyList | undefined;
  /** Codes on the list, in list order. */
  codes: string[];
  codeSet: Set<string>;
}

/**
 * A flush under way, in two phases spread over turns of the event loop: the changed codes it took when it
 * started are spread to the connections covering them (`nextCode`), then the connections due are written
 * (`next`), with the frames made so far.
 */
interface FlushInProgress {
  /** Numbers the flushes of a hub. */
  flush: number;
  /** The changed codes this flush spreads (later changes wait for the next flush). */
  codes: string[];
  nextCode: number;
  /** Connections with a snapshot from before this flush: their skip lists end with its spread. */
  snapshotted: StockConnection[];
  /** The connections to write, fixed once the spread is done. */
  due: StockConnection[];
  next: number;
  now: number;
  timestamp: string;
  /**
   * Per code written in this flush, the publish time of the quote its first frame carried (a later step may
   * carry a newer quote). Observed as delivery latency once the flush's last write is done.
   */
  written: Map<string, number>;
}

/** Why a subscription was accepted although nothing may arrive: the `warning` of its `subscribed` reply. */
export interface SubscriptionWarning {
  code: 'no_source';
  message: string;
}

export type TargetCheck =
  | { ok: true; target: string; warning?: SubscriptionWarning }
  | { ok: false; error: StockErrorCode; details: string };

/** The legacy `data.connections` / `data.subscriptions` blocks of `GET /api/websocket/stats`. */
export interface LegacyStats {
  connections: {
    total_connections: number;
    active_connections: number;
    total_subscriptions: number;
    messages_sent: number;
    messages_received: number;
  };
  subscriptions: {
    total_subscriptions: number;
    total_clients: number;
    total_targets: number;
    strategy_targets: number;
    stock_targets: number;
    market_targets: number;
  };
}

export interface HubDeps {
  app: TemplatedApp;
  metrics: GatewayMetrics;
  logger: Logger;
  config: StockAdapterConfig;
}

const MARKETS: ReadonlySet<string> = new Set(stockMarkets);

function addTo<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  let set = map.get(key);
  if (set === undefined) {
    set = new Set();
    map.set(key, set);
  }
  set.add(value);
}

function removeFrom<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  const set = map.get(key);
  if (set !== undefined) {
    set.delete(value);
    if (set.size === 0) {
      map.delete(key);
    }
  }
}

function priceUpdateFrame(fragments: readonly string[], timestamp: string): string {
  return `{"type":"price_update","data":[${fragments.join(',')}],"count":${fragments.length},"timestamp":"${timestamp}"}`;
}

/**
 * The stock protocol's state in one process, independent of sockets' wiring:
 * - one quote cache fed by the bus (`stock.quote.*`); a tick only stores the quote and marks its code dirty;
 * - who watches what: stock → connections, market → connections, strategy → connections, and each strategy's
 *   current buy list (code → strategies);
 * - one flush per interval: dirty codes are spread to the connections covering them (each connection's pending
 *   codes are bounded by its subscriptions), then every pending connection gets ONE price_update with the latest
 *   quote of each of its changed stocks, built from per-stock JSON fragments shared by all connections.
 */
export class StockHub {
  readonly #deps: HubDeps;
  /** STOCK_STRATEGIES: accepted even while no running source announces them. */
  readonly #configured: ReadonlySet<string>;
  /** Strategies some running source announces now (anywhere in the cluster). */
  #announced: ReadonlySet<string> = new Set();
  /** Whether some running source announces stock quotes now. */
  #quotesServed = false;
  readonly quotes = new Map<string, QuoteEntry>();
  readonly #universe = new Map<string, StockInfo>();
  readonly #marketCodes = new Map<StockMarket, string[]>();
  readonly #lists = new Map<string, StrategyState>();
  readonly #codeStrategies = new Map<string, Set<string>>();
  readonly connections = new Set<StockConnection>();
  readonly #stockSubs = new Map<string, Set<StockConnection>>();
  readonly #marketSubs = new Map<string, Set<StockConnection>>();
  readonly #strategySubs = new Map<string, Set<StockConnection>>();
  readonly #dirtyCodes = new Set<string>();
  readonly #dirtyConnections = new Set<StockConnection>();
  /** Connections that got a snapshot since the last flush. */
  readonly #snapshotted = new Set<StockConnection>();
  /** The flush whose writing is still spread over turns of the event loop, if any. */
  #flushing: FlushInProgress | undefined;
  /** A flush came due while `#flushing` was under way: it starts once that one is done. */
  #flushDue = false;
  #version = 0;
  #flushes = 0;
  /** Numbers each changed code's spread to its connections (see `PendingCodes.addSpread`). */
  #spreadMarks = 0;
  /** Called with codes of a new universe that have no quote yet (the feed loads their latest values). */
  onMissingQuotes: (codes: string[]) => void = () => undefined;

  totalSubscriptionsMade = 0;
  activeSubscriptions = 0;
  messagesSent = 0;
  /** The pipeline's counters of this protocol's endpoint (connections, frames received, closes). */
  endpoint: WebSocketEndpoint = { connections: 0, totalConnections: 0, messagesReceived: 0, rateLimitCloses: 0, slowConsumerCloses: 0 };

  /** A manual push's delivery latency runs until uWS has written its publish (see AfterPublishWrites). */
  readonly #manualPushWritten: AfterPublishWrites;

  constructor(deps: HubDeps) {
    this.#deps = deps;
    this.#manualPushWritten = new AfterPublishWrites((elapsedMs) => {
      deps.metrics.deliveryLatency('stock', elapsedMs / 1000);
    });
    this.#configured = new Set(deps.config.strategies);
  }

  /** The strategies clients may subscribe to: the configured ones in their order, then the announced ones, sorted. */
  get strategies(): readonly string[] {
    return [...new Set([...this.#configured, ...[...this.#announced].sort()])];
  }

  hasStrategy(name: string): boolean {
    return this.#announced.has(name) || this.#configured.has(name);
  }

  /**
   * What running sources announce now (from the source directory). Returns the strategies this hub did not
   * know before, whose buy lists the feed starts reading. A strategy whose source went away stays readable
   * (its last buy list, its subscribers) but is no longer offered unless configured.
   */
  setAnnounced(announced: { strategies: readonly string[]; quotes: boolean }): string[] {
    const added = announced.strategies.filter((name) => !this.#lists.has(name));
    this.#announced = new Set(announced.strategies);
    this.#quotesServed = announced.quotes;
    for (const name of added) {
      this.#lists.set(name, { list: undefined, codes: [], codeSet: new Set() });
    }
    return added;
  }

  /** Strategies whose buy lists the feed reads from the start: the configured ones. */
  get configuredStrategies(): readonly string[] {
    for (const name of this.#configured) {
      if (!this.#lists.has(name)) {
        this.#lists.set(name, { list: undefined, codes: [], codeSet: new Set() });
      }
    }
    return [...this.#configured];
  }

  /** The strategy's last published buy list (undefined before its source published one). */
  buyList(strategy: string): BuyList | undefined {
    return this.#lists.get(strategy)?.list;
  }

  stockInfo(code: string): StockInfo | undefined {
    return this.#universe.get(code);
  }

  get universeSize(): number {
    return this.#universe.size;
  }

  // ---- bus input ------------------------------------------------------------------------------------------

  /** A live quote from the bus: store it, mark it dirty. Nothing per connection happens here. */
  readonly onQuote = (envelope: Envelope<StockQuote>): void => {
    const quote = envelope.data;
    if (typeof quote.code !== 'string' || typeof quote.price !== 'number') {
      return;
    }
    const entry = this.quotes.get(quote.code);
    this.#version += 1;
    if (entry === undefined) {
      this.quotes.set(quote.code, { quote, publishedAt: envelope.publishedAt, fragment: undefined, version: this.#version });
    } else {
      entry.quote = quote;
      entry.publishedAt = envelope.publishedAt;
      entry.fragment = undefined;
      entry.version = this.#version;
    }
    this.#dirtyCodes.add(quote.code);
  };

  /** A stored latest value (start-up, reconnect): applied only when newer than what the cache holds. */
  loadQuote(envelope: Envelope<StockQuote>): void {
    const entry = this.quotes.get(envelope.data.code);
    if (entry === undefined || entry.quote.ts < envelope.data.ts) {
      this.onQuote(envelope);
    }
  }

  readonly onUniverse = (envelope: Envelope): void => {
    const parsed = stockUniverseSchema.safeParse(envelope.data);
    if (!parsed.success) {
      this.#deps.metrics.sourceError('stock-adapter', 'invalid_data');
      this.#deps.logger.warn({ issues: parsed.error.issues.slice(0, 3) }, 'ignored an invalid stock universe');
      return;
    }
    this.#universe.clear();
    this.#marketCodes.clear();
    for (const stock of parsed.data.stocks) {
      this.#universe.set(stock.code, stock);
      let codes = this.#marketCodes.get(stock.market);
      if (codes === undefined) {
        codes = [];
        this.#marketCodes.set(stock.market, codes);
      }
      codes.push(stock.code);
    }
    const missing = parsed.data.stocks.map((s) => s.code).filter((code) => !this.quotes.has(code));
    if (missing.length > 0) {
      this.onMissingQuotes(missing);
    }
  };

  /** A strategy's new buy list: stocks that joined are pushed to the strategy's subscribers at the next flush. */
  readonly onBuyList = (envelope: Envelope): void => {
    const parsed = buyListSchema.safeParse(envelope.data);
    if (!parsed.success) {
      this.#deps.metrics.sourceError('stock-adapter', 'invalid_data');
      this.#deps.logger.warn({ issues: parsed.error.issues.slice(0, 3) }, 'ignored an invalid buy list');
      return;
    }
    const list = parsed.data;
    const state = this.#lists.get(list.strategy);
    if (state === undefined) {
      return;
    }
    const codes = list.stocks.map((s) => s.code);
    const next = new Set(codes);
    const added: string[] = [];
    for (const code of state.codeSet) {
      if (!next.has(code)) {
        removeFrom(this.#codeStrategies, code, list.strategy);
      }
    }
    for (const code of codes) {
      if (!state.codeSet.has(code)) {
        addTo(this.#codeStrategies, code, list.strategy);
        added.push(code);
      }
    }
    state.list = list;
    state.codes = codes;
    state.codeSet = next;
    const watchers = this.#strategySubs.get(list.strategy);
    if (watchers !== undefined && added.length > 0) {
      for (const connection of watchers) {
        for (const code of added) {
          if (this.quotes.has(code)) {
            connection.pending.add(code);
          }
        }
        this.#dirtyConnections.add(connection);
      }
    }
  };

  // ---- connections ----------------------------------------------------------------------------------------

  add(connection: StockConnection): void {
    this.connections.add(connection);
  }

  /** Forgets a closed connection everywhere (its subscriptions counted as removed). */
  remove(connection: StockConnection): void {
    const removedByKind = new Map<SubscriptionType, number>();
    for (const sub of connection.subs.values()) {
      this.#unindex(connection, sub.kind, sub.target);
      removedByKind.set(sub.kind, (removedByKind.get(sub.kind) ?? 0) + 1);
    }
    this.activeSubscriptions -= connection.subs.size;
    for (const [kind, count] of removedByKind) {
      this.#deps.metrics.subscriptionRemoved('stock', kind, count);
    }
    connection.subs.clear();
    connection.pending.clear();
    connection.snapshotted = undefined;
    this.#dirtyConnections.delete(connection);
    this.#snapshotted.delete(connection);
    this.connections.delete(connection);
  }

  /**
   * Validates and normalises a target: the code, market or strategy must exist. A target that exists but that
   * no running source serves now is accepted with a warning (prices arrive once a source serves it).
   */
  checkTarget(kind: SubscriptionType, raw: string): TargetCheck {
    const noQuotes = (what: string): SubscriptionWarning => ({
      code: 'no_source',
      message: `no running source publishes stock prices: ${what} arrive once one starts`,
    });
    switch (kind) {
      case 'stock': {
        if (!/^\d{6}$/.test(raw)) {
          return { ok: false, error: 'invalid_target', details: `stock target must be a 6-digit code such as 600519, got ${JSON.stringify(raw)}` };
        }
        // Without a universe (no price source has published one) a code cannot be checked: accept it.
        if (this.#universe.size > 0 && !this.#universe.has(raw)) {
          return { ok: false, error: 'unknown_stock', details: `no stock ${raw} in the market data` };
        }
        return this.#quotesServed ? { ok: true, target: raw } : { ok: true, target: raw, warning: noQuotes(`prices of ${raw}`) };
      }
      case 'market': {
        const market = raw.toUpperCase();
        if (!MARKETS.has(market)) {
          return { ok: false, error: 'invalid_target', details: `market target must be SH, SZ or BJ, got ${JSON.stringify(raw)}` };
        }
        if (!this.#quotesServed) {
          return { ok: true, target: market, warning: noQuotes(`prices of market ${market}`) };
        }
        if (this.#universe.size > 0 && !this.#marketCodes.has(market as StockMarket)) {
          return { ok: true, target: market, warning: { code: 'no_source', message: `the running price sources quote no stock of market ${market}` } };
        }
        return { ok: true, target: market };
      }
      case 'strategy': {
        if (!strategyNameSchema.safeParse(raw).success) {
          return { ok: false, error: 'invalid_target', details: `strategy target must be a strategy name such as volume_wave, got ${JSON.stringify(raw)}` };
        }
        if (!this.hasStrategy(raw)) {
          return { ok: false, error: 'unknown_strategy', details: `no strategy ${raw} (known: ${this.strategies.join(', ') || 'none running'})` };
        }
        if (!this.#announced.has(raw)) {
          return { ok: true, target: raw, warning: { code: 'no_source', message: `no running source publishes strategy ${raw}: its buy list arrives once one starts` } };
        }
        return this.#quotesServed ? { ok: true, target: raw } : { ok: true, target: raw, warning: noQuotes(`prices of ${raw}'s stocks`) };
      }
    }
  }

  /**
   * Adds a checked subscription. Returns false (nothing changed) when the connection is at its limit; true
   * when subscribed (or already was: subscribing twice is harmless and re-sends the snapshot).
   */
  subscribe(connection: StockConnection, kind: SubscriptionType, target: string): boolean {
    const key = subscriptionKey(kind, target);
    if (connection.subs.has(key)) {
      return true;
    }
    if (connection.subs.size >= this.#deps.config.maxSubscriptions) {
      return false;
    }
    connection.subs.set(key, { kind, target });
    switch (kind) {
      case 'stock':
        addTo(this.#stockSubs, target, connection);
        break;
      case 'market':
        addTo(this.#marketSubs, target, connection);
        break;
      case 'strategy':
        addTo(this.#strategySubs, target, connection);
        connection.link.subscribe(strategyTopic(target));
        break;
    }
    this.activeSubscriptions += 1;
    this.totalSubscriptionsMade += 1;
    this.#deps.metrics.subscriptionAdded('stock', kind);
    return true;
  }

  /** Removes a subscription (a no-op when it does not exist); pending changes it alone covered are dropped. */
  unsubscribe(connection: StockConnection, kind: SubscriptionType, target: string): void {
    const key = subscriptionKey(kind, target);
    if (!connection.subs.delete(key)) {
      return;
    }
    this.#unindex(connection, kind, target);
    this.activeSubscriptions -= 1;
    this.#deps.metrics.subscriptionRemoved('stock', kind);
    connection.pending.deleteWhere((code) => !this.#covers(connection, code));
  }

  #unindex(connection: StockConnection, kind: SubscriptionType, target: string): void {
    switch (kind) {
      case 'stock':
        removeFrom(this.#stockSubs, target, connection);
        break;
      case 'market':
        removeFrom(this.#marketSubs, target, connection);
        break;
      case 'strategy':
        removeFrom(this.#strategySubs, target, connection);
        connection.link.unsubscribe(strategyTopic(target));
        break;
    }
  }

  #covers(connection: StockConnection, code: string): boolean {
    if (connection.subs.has(subscriptionKey('stock', code))) {
      return true;
    }
    const market = this.quotes.get(code)?.quote.market ?? this.#universe.get(code)?.market;
    if (market !== undefined && connection.subs.has(subscriptionKey('market', market))) {
      return true;
    }
    for (const strategy of this.#codeStrategies.get(code) ?? []) {
      if (connection.subs.has(subscriptionKey('strategy', strategy))) {
        return true;
      }
    }
    return false;
  }

  /** The codes a target covers now (a strategy's in buy-list order). */
  codesOf(kind: SubscriptionType, target: string): readonly string[] {
    switch (kind) {
      case 'stock':
        return [target];
      case 'market':
        return this.#marketCodes.get(target as StockMarket) ?? [];
      case 'strategy':
        return this.#lists.get(target)?.codes ?? [];
    }
  }

  #fragment(code: string): string | undefined {
    const entry = this.quotes.get(code);
    if (entry === undefined) {
      return undefined;
    }
    if (entry.fragment === undefined) {
      const q = entry.quote;
      entry.fragment = JSON.stringify({
        code: q.code,
        name: q.name,
        price: q.price,
        change: q.change,
        change_percent: q.change_percent,
        volume: q.volume,
        timestamp: q.timestamp,
      });
    }
    return entry.fragment;
  }

  /** A price_update of `codes`' current quotes (codes without a quote left out); undefined when none has one. */
  priceUpdate(codes: Iterable<string>, now: number): { frame: string; count: number } | undefined {
    const fragments: string[] = [];
    for (const code of codes) {
      const fragment = this.#fragment(code);
      if (fragment !== undefined) {
        fragments.push(fragment);
      }
    }
    return fragments.length === 0 ? undefined : { frame: priceUpdateFrame(fragments, wireTimestamp(now)), count: fragments.length };
  }

  /**
   * (a) Right after a subscribe: the target's current prices, at once. Those stocks are now current for this
   * connection, and its next conflated update waits one interval so updates stay at most one per interval.
   */
  sendSnapshot(connection: StockConnection, kind: SubscriptionType, target: string, now: number): void {
    const codes = this.codesOf(kind, target);
    const update = this.priceUpdate(codes, now);
    if (update === undefined) {
      return;
    }
    // Those stocks are current for this connection: a change that arrived before the snapshot but is spread
    // only at the next flush must not be sent again.
    connection.snapshotted ??= new Map();
    const shown = new Set(codes);
    connection.pending.deleteWhere((code) => shown.has(code));
    for (const code of codes) {
      const version = this.quotes.get(code)?.version;
      if (version !== undefined) {
        connection.snapshotted.set(code, version);
      }
    }
    this.#snapshotted.add(connection);
    connection.holdUntil = now + this.#deps.config.pushIntervalMs;
    this.#sendTo(connection, update.frame);
    this.#deps.metrics.messagesSent('stock', 'price_update');
  }

  /**
   * (c) A manual push: the strategy's current prices to every local subscriber of it, serialized once and
   * published through the strategy's uWS topic. `requestedAt` is when the push request arrived (on whichever
   * gateway took it): the push's delivery latency runs from there to uWS's writes of the publish. Returns the number of stocks
   * and receiving connections.
   */
  pushStrategy(strategy: string, now: number, requestedAt: number): { stocks: number; clients: number } {
    const update = this.priceUpdate(this.codesOf('strategy', strategy), now);
    const watchers = this.#strategySubs.get(strategy);
    if (update === undefined || watchers === undefined) {
      return { stocks: update?.count ?? 0, clients: 0 };
    }
    this.#deps.app.publish(strategyTopic(strategy), update.frame, false, false);
    for (const connection of watchers) {
      connection.fanOutSent += 1;
    }
    this.messagesSent += watchers.size;
    this.#deps.metrics.messagesSent('stock', 'price_update', watchers.size);
    this.#manualPushWritten.add(requestedAt);
    return { stocks: update.count, clients: watchers.size };
  }

  /** Subscribers of a strategy on this node. */
  subscribersOf(strategy: string): number {
    return this.#strategySubs.get(strategy)?.size ?? 0;
  }

  /**
   * (b) The interval flush: at most one price_update per connection, each changed stock once, latest price.
   *
   * Both phases, spreading the changed stocks to the connections covering them (a stock on a strategy's list
   * reaches every subscriber of the strategy: thousands of marks per stock) and writing, run in steps of
   * `flushSliceMs`, each on its own turn of the event loop, so that thousands of connections never hold the
   * loop for long. Connections with the same changed stocks (the common case: the same subscriptions) written
   * in the same step share one serialized frame. A connection is written once per flush whatever arrives while
   * the flush is under way (that waits for the next one). A flush due while the previous one is still under way
   * (a busy event loop stretches a flush's steps over more time) starts on the turn after that one ends:
   * skipping it would cost every connection a whole interval's update. At most one waits, so flushes never
   * outnumber the intervals.
   */
  flush(now: number): void {
    if (this.#flushing !== undefined) {
      this.#flushDue = true;
      return;
    }
    const started = performance.now();
    this.#flushes += 1;
    this.#flushing = {
      flush: this.#flushes,
      codes: [...this.#dirtyCodes],
      nextCode: 0,
      snapshotted: [...this.#snapshotted],
      due: [],
      next: 0,
      now,
      timestamp: wireTimestamp(now),
      written: new Map(),
    };
    this.#dirtyCodes.clear();
    this.#snapshotted.clear();
    this.#step(started);
  }

  /**
   * One synchronous step of the flush under way: spreads, then writes, until `flushSliceMs` since `started` is
   * used up, and continues on a later turn. Each step's duration is measured (`stockFlushSlice`).
   */
  #step(started: number): void {
    const flushing = this.#flushing;
    if (flushing === undefined) {
      return;
    }
    const { metrics } = this.#deps;
    const spread = flushing.nextCode < flushing.codes.length || flushing.due.length === 0;
    const done = spread ? this.#spreadSlice(flushing, started) : this.#writeSlice(flushing, started);
    if (done) {
      this.#flushing = undefined;
      // The fan-out is complete only now: a quote's latency runs to the last write of the flush, whichever
      // slice first serialized it (measuring per slice would hide the later slices' wait).
      const writtenAt = Date.now();
      for (const publishedAt of flushing.written.values()) {
        metrics.deliveryLatency('stock', (writtenAt - publishedAt) / 1000);
      }
      if (this.#flushDue) {
        this.#flushDue = false;
        setImmediate(() => {
          this.flush(Date.now());
        });
      }
    } else {
      setImmediate(() => {
        this.#step(performance.now());
      });
    }
    metrics.stockFlushSlice((performance.now() - started) / 1000);
  }

  /**
   * Spreads the flush's changed codes until the slice is used up; once all are spread, goes on writing in the
   * same step. True when the whole flush is done.
   */
  #spreadSlice(flushing: FlushInProgress, started: number): boolean {
    const { codes } = flushing;
    while (flushing.nextCode < codes.length) {
      const code = codes[flushing.nextCode] as string;
      flushing.nextCode += 1;
      const entry = this.quotes.get(code);
      if (entry !== undefined) {
        const { flush } = flushing;
        this.#spreadMarks += 1;
        const mark = this.#spreadMarks;
        this.#markAll(this.#stockSubs.get(code), code, entry.version, flush, mark);
        this.#markAll(this.#marketSubs.get(entry.quote.market), code, entry.version, flush, mark);
        const strategies = this.#codeStrategies.get(code);
        if (strategies !== undefined) {
          for (const strategy of strategies) {
            this.#markAll(this.#strategySubs.get(strategy), code, entry.version, flush, mark);
          }
        }
      }
      if (flushing.nextCode < codes.length && performance.now() - started >= this.#deps.config.flushSliceMs) {
        return false;
      }
    }
    // Every change from before those snapshots has now been spread (and skipped where snapshotted). A connection
    // that took another snapshot during the spread keeps its list for the next flush (entries only ever skip
    // versions it was sent).
    for (const connection of flushing.snapshotted) {
      if (!this.#snapshotted.has(connection)) {
        connection.snapshotted = undefined;
      }
    }
    if (this.#dirtyConnections.size === 0) {
      return true;
    }
    flushing.due = [...this.#dirtyConnections];
    return this.#writeSlice(flushing, started);
  }

  /** Writes the due connections until the slice is used up. True when every due connection was handled. */
  #writeSlice(flushing: FlushInProgress, started: number): boolean {
    const { config, metrics } = this.#deps;
    let sent = 0;
    let held = 0;
    const { due, now } = flushing;
    // Frames are shared within this step only: kept across steps (each a turn of the event loop) they would
    // outlive a young-generation collection and be copied into the old generation, megabytes every second.
    const frames = new Map<string, string>();
    while (flushing.next < due.length) {
      const connection = due[flushing.next] as StockConnection;
      flushing.next += 1;
      if (connection.closed) {
        this.#dirtyConnections.delete(connection);
      } else if (connection.holdUntil > now) {
        // Stays dirty: its update waits one interval after its snapshot.
      } else if (connection.link.bufferedAmount() > config.maxBufferedBytes) {
        // Conflation: the pending list keeps only codes, so a slow client gets the latest prices later (the
        // connection pipeline closes it if it stays over the bound for STOCK_SLOW_CLIENT_TIMEOUT_MS).
        held += 1;
      } else {
        const frame = this.#frameOf(connection.pending, flushing, frames);
        connection.pending.clear();
        this.#dirtyConnections.delete(connection);
        if (frame !== '') {
          this.#sendTo(connection, frame);
          sent += 1;
        }
      }
      if (flushing.next % 32 === 0 && flushing.next < due.length && performance.now() - started >= config.flushSliceMs) {
        break;
      }
    }
    if (sent > 0) {
      metrics.messagesSent('stock', 'price_update', sent);
    }
    if (held > 0) {
      metrics.backpressureDropped('stock', held);
    }
    return flushing.next >= due.length;
  }

  /**
   * The price_update of these changed codes in the flush under way ('' when none has a quote): serialized once
   * per distinct set of codes in the step's `frames` (changes are spread in one order, so equal sets list their
   * codes alike).
   */
  #frameOf(codes: PendingCodes, flushing: FlushInProgress, frames: Map<string, string>): string {
    let key = '';
    for (let i = 0; i < codes.size; i += 1) {
      key += `${codes.at(i)},`;
    }
    let frame = frames.get(key);
    if (frame === undefined) {
      const fragments: string[] = [];
      for (let i = 0; i < codes.size; i += 1) {
        const code = codes.at(i);
        const fragment = this.#fragment(code);
        if (fragment !== undefined) {
          fragments.push(fragment);
          if (!flushing.written.has(code)) {
            flushing.written.set(code, this.quotes.get(code)?.publishedAt ?? flushing.now);
          }
        }
      }
      frame = fragments.length === 0 ? '' : priceUpdateFrame(fragments, flushing.timestamp);
      frames.set(key, frame);
    }
    return frame;
  }

  #markAll(connections: Set<StockConnection> | undefined, code: string, version: number, flush: number, mark: number): void {
    if (connections === undefined) {
      return;
    }
    for (const connection of connections) {
      const sent = connection.snapshotted?.get(code);
      if (sent !== undefined && version <= sent) {
        continue;
      }
      connection.pending.addSpread(code, flush, mark);
      this.#dirtyConnections.add(connection);
    }
  }

  /** Sends one frame to one connection and counts it (metrics by type are the caller's: one call per fan-out). */
  sendFrame(connection: StockConnection, frame: string): void {
    this.#sendTo(connection, frame);
  }

  #sendTo(connection: StockConnection, frame: string): void {
    if (connection.send(frame)) {
      this.messagesSent += 1;
    }
  }

  // ---- stats ----------------------------------------------------------------------------------------------

  stats(): ProtocolStats {
    return {
      connections: this.connections.size,
      total_connections: this.endpoint.totalConnections,
      subscriptions: this.activeSubscriptions,
      messages_sent: this.messagesSent,
      messages_received: this.endpoint.messagesReceived,
      strategy_targets: this.#strategySubs.size,
      stock_targets: this.#stockSubs.size,
      market_targets: this.#marketSubs.size,
      quoted_stocks: this.quotes.size,
      slow_consumer_closes: this.endpoint.slowConsumerCloses,
      rate_limit_closes: this.endpoint.rateLimitCloses,
    };
  }

  legacyStats(): LegacyStats {
    let clientsWithSubscriptions = 0;
    for (const connection of this.connections) {
      if (connection.subs.size > 0) {
        clientsWithSubscriptions += 1;
      }
    }
    return {
      connections: {
        total_connections: this.endpoint.totalConnections,
        active_connections: this.connections.size,
        total_subscriptions: this.totalSubscriptionsMade,
        messages_sent: this.messagesSent,
        messages_received: this.endpoint.messagesReceived,
      },
      subscriptions: {
        total_subscriptions: this.activeSubscriptions,
        total_clients: clientsWithSubscriptions,
        total_targets: this.#strategySubs.size + this.#stockSubs.size + this.#marketSubs.size,
        strategy_targets: this.#strategySubs.size,
        stock_targets: this.#stockSubs.size,
        market_targets: this.#marketSubs.size,
      },
    };
  }
}
