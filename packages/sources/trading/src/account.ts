import type { Bus } from '@gw/bus';
import { GatewayError } from '@gw/core';
import type { Logger } from '@gw/core';
import type { GatewayMetrics } from '@gw/metrics';
import { tradingStatusTopic, tradingTopic } from '@gw/topics';
import type { TradingData, TradingStatus, TradingType } from '@gw/topics';
import type { TradingConfig } from './config.js';
import { startOfDay } from './day.js';
import { classifyFailure } from './errors.js';
import { ensureMarkets } from './exchange.js';
import type { ExchangeClient, ExchangeQuirks, StreamClient } from './exchange.js';
import { assertPositions, computePnl, mapBalance, mapOrders, mapPositions } from './mapping.js';
import { sameData } from './normalize.js';
import type { Semaphore } from './semaphore.js';
import { AccountStream } from './stream.js';
import type { PollWheel, WheelEntry } from './wheel.js';

export const SOURCE_NAME = 'trading';

export interface AccountDeps {
  bus: Bus;
  logger: Logger;
  metrics: GatewayMetrics;
  config: TradingConfig;
  /** Told each account's mode (undefined: the account is gone), for the per-mode gauge. */
  modes?: ModeTracker;
  /** The source's poll timer, shared by its accounts (the poller makes one when it is not given). */
  wheel?: PollWheel;
}

/** How an account's data arrives now: pushed by the exchange's private stream, or polled at the intervals. */
export type AccountMode = 'stream' | 'poll';

/**
 * Counts accounts by mode and keeps the source's gauge in line. The stream count is kept as accounts change
 * (not recounted): thousands of accounts watched or released at once (a mass connect or disconnect) cost one
 * step each.
 */
export class ModeTracker {
  readonly #modes = new Map<string, AccountMode>();
  readonly #metrics: GatewayMetrics;
  #streaming = 0;

  constructor(metrics: GatewayMetrics) {
    this.#metrics = metrics;
    this.#report();
  }

  set(sub: string, mode: AccountMode | undefined): void {
    const before = this.#modes.get(sub);
    if (mode === undefined) {
      this.#modes.delete(sub);
    } else {
      this.#modes.set(sub, mode);
    }
    this.#streaming += (mode === 'stream' ? 1 : 0) - (before === 'stream' ? 1 : 0);
    this.#report();
  }

  modeOf(sub: string): AccountMode | undefined {
    return this.#modes.get(sub);
  }

  #report(): void {
    this.#metrics.sourceModeCount(SOURCE_NAME, 'stream', this.#streaming);
    this.#metrics.sourceModeCount(SOURCE_NAME, 'poll', this.#modes.size - this.#streaming);
  }
}

/**
 * The exchange behind an account, or none (production without an account: the user is told `no_account`).
 * `stream`: the account's private stream client, when the exchange has one and the account may use it.
 */
export type AccountBackend =
  | { client: ExchangeClient; quirks: ExchangeQuirks; limiter: Semaphore; stream?: StreamClient | undefined }
  | undefined;

/** Account data kept from REST answers and stream pushes (ccxt's unified structures), replaced or patched. */
type StateKind = 'balance' | 'positions' | 'orders' | 'history';

/** pnl is recomputed from pushed positions at most this often per account. */
const PNL_MIN_INTERVAL_MS = 1_000;

function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
}

/** A time in ms from an exchange field (Bybit writes them as strings); undefined when absent or not a time. */
function timeOf(value: unknown): number | undefined {
  const time = typeof value === 'string' ? Number(value) : value;
  return typeof time === 'number' && Number.isFinite(time) && time > 0 ? time : undefined;
}

/** One position per symbol and position index (one-way mode: 0; hedge mode: 1 long, 2 short). */
function positionKey(position: unknown): string {
  const p = record(position);
  const info = record(p['info']);
  const index = info['positionIdx'] ?? p['side'];
  return `${String(p['symbol'])}|${typeof index === 'number' || typeof index === 'string' ? String(index) : ''}`;
}

function isFlat(position: unknown): boolean {
  const p = record(position);
  return (p['side'] ?? undefined) === undefined || !(Number(p['contracts'] ?? 0) > 0);
}

interface Job extends WheelEntry {
  readonly type: TradingType;
  /** `trading.<user>.<type>` (made once per job, not per publish). */
  readonly topic: string;
  /** False once the type is unwatched: a queued or scheduled fetch of this job is dropped. */
  active: boolean;
  /** The fetch of the type as a limiter task, made at the first poll (a poll then allocates no closure for it). */
  fetchTask: (() => Promise<TradingData[TradingType]>) | undefined;
  /**
   * The value last published (or found stored) for this type, compared with each new one by `sameData` (never
   * mutated: every fetch maps a fresh value); `hasLast` false before the first.
   */
  last: unknown;
  hasLast: boolean;
  /**
   * The stored latest value was consulted (once per job, so a restart does not re-push unchanged data), or must
   * not be (after `republish`: whatever the bus holds, the next value is published).
   */
  seeded: boolean;
}

/**
 * One user's account while someone watches it: a schedule per watched type (on the source's shared wheel), and one queue of fetches that runs
 * them one at a time (an account never has two requests in flight; an exchange's slots are shared through
 * its semaphore). Each fetch maps the exchange's answer to the legacy trading service's payload and publishes it as the topic's
 * latest value only when it differs from the last one (canonical comparison).
 *
 * Streams first: when the account has a stream client, it is opened at the first watcher. Once every topic is
 * subscribed the account is in `stream` mode: every watched type is fetched once over REST (the snapshot the
 * pushes then patch; pushes that arrive while a snapshot is in flight are applied again on top of it), pushes
 * are published as they arrive, pnl is recomputed from pushed positions (at most once a second, the closed-pnl
 * history refetched after a closing fill), and REST only re-checks each type at the slow safety interval. A
 * failed stream is reopened after a doubling wait; after `streamMaxFailures` failures in a row, or at once
 * when the exchange refuses the stream's auth, the account polls at the normal intervals until the stream is
 * live again (logged once per change, counted in the per-mode gauge).
 *
 * Failures never escape: authentication errors pause the account (doubling pause) and publish its status as
 * `exchange_auth_failed`; network, rate-limit and other errors back it off (doubling, capped) and keep the last
 * good values. Everything is counted (source polls by result, source errors by kind). A publish that fails
 * because the bus is down is not the exchange's fault: the account is neither backed off nor counted as
 * failing, and `republish` (called when the bus is back) fetches and publishes every watched type again.
 */
export class AccountRunner {
  readonly sub: string;
  readonly #backend: AccountBackend;
  readonly #deps: AccountDeps;
  readonly #wheel: PollWheel;
  /** The origin of the account's polling grid (see `#onGrid`). */
  readonly #anchor = Date.now();
  readonly #logger: Logger;
  readonly #jobs = new Map<TradingType, Job>();
  /** Jobs whose fetch is due, in order; each at most once. */
  readonly #queue: Job[] = [];
  #draining = false;
  #blockedUntil = 0;
  #retryMs: number;
  #authPauseMs: number;
  #status: TradingStatus = { state: 'ok' };
  /** The last status publish failed (bus down): `republish` sends the status again even when it is ok. */
  #statusUnsent = false;
  #disposed = false;

  readonly #stream: AccountStream | undefined;
  #mode: AccountMode = 'poll';
  #streamFailures = 0;
  #streamRetryMs: number;
  #streamTimer: NodeJS.Timeout | undefined;
  #lingerTimer: NodeJS.Timeout | undefined;
  #everLive = false;
  #starting = false;

  /** The account as last known (REST snapshot patched by pushes), in ccxt's unified structures. */
  #balance: unknown;
  readonly #positions = new Map<string, unknown>();
  readonly #orders = new Map<string, unknown>();
  #history: unknown;
  #historyStale = false;
  /** State kinds whose REST snapshot is in flight, and the pushes to apply again once it landed. */
  readonly #replay = new Map<StateKind, (() => void)[]>();
  readonly #publishing = new Map<TradingType, Promise<unknown>>();
  /** The positions answer the kept positions were last rebuilt from (see `#snapshotPositions`). */
  #positionsAnswer: unknown;
  /** The last open-orders answer and the payload made from it (see `#fetchOrders`). */
  #ordersMemo: { answer: unknown; payload: TradingData['orders'] } | undefined;
  #pnlTimer: NodeJS.Timeout | undefined;
  #lastPnlAt = 0;

  constructor(sub: string, backend: AccountBackend, deps: AccountDeps & { wheel: PollWheel }) {
    this.sub = sub;
    this.#backend = backend;
    this.#deps = deps;
    this.#wheel = deps.wheel;
    this.#logger = deps.logger.child({ user_id: sub, exchange: backend?.client.id ?? 'none' });
    this.#retryMs = deps.config.retryMinMs;
    this.#authPauseMs = deps.config.authPauseMs;
    this.#streamRetryMs = deps.config.streamRetryMinMs;
    const streamClient = deps.config.stream === 'on' ? backend?.stream : undefined;
    this.#stream = streamClient === undefined ? undefined : new AccountStream(streamClient);
    if (backend !== undefined) {
      deps.modes?.set(sub, 'poll');
    }
  }

  get idle(): boolean {
    return this.#jobs.size === 0;
  }

  /** How the account's data arrives now. */
  get mode(): AccountMode {
    return this.#mode;
  }

  /**
   * Starts polling `type`: its first fetch now (or after `delayMs`: a resync spreading many accounts), then at
   * its interval. Idempotent.
   */
  watch(type: TradingType, delayMs = 0): void {
    if (this.#disposed || this.#jobs.has(type)) {
      return;
    }
    clearTimeout(this.#lingerTimer);
    this.#lingerTimer = undefined;
    const job: Job = {
      type,
      topic: tradingTopic(this.sub, type),
      active: true,
      fetchTask: undefined,
      wheelSlot: -1,
      fire: () => {
        this.#enqueueJob(job);
      },
      last: undefined,
      hasLast: false,
      seeded: false,
    };
    this.#jobs.set(type, job);
    if (this.#backend === undefined) {
      this.#setStatus({ state: 'error', code: 'no_account', message: `no trading account is configured for user ${this.sub}` }, true);
      return;
    }
    if (this.#status.state === 'error') {
      // A new watcher must learn that the account is paused, without waiting for the next attempt.
      this.#setStatus(this.#status, true);
    }
    this.#fetchAfter(type, delayMs);
    this.#startStream();
  }

  /** The types being polled. */
  watchedTypes(): TradingType[] {
    return [...this.#jobs.keys()];
  }

  /**
   * The bus is back and may have lost its stored values (a Redis restart): every watched type is fetched now
   * (or after `delayMs`, when a resync spreads many accounts) instead of at its next scheduled time, and
   * published even if unchanged; in stream mode this is a REST snapshot. An error status, or a status whose
   * publish failed, is published again. An exchange backoff or auth pause still holds (the fetch waits for it).
   */
  republish(delayMs = 0): void {
    if (this.#disposed) {
      return;
    }
    for (const job of this.#jobs.values()) {
      // Nothing counts as published any more: the next value of each type is published whatever it is.
      job.seeded = true;
      job.last = undefined;
      job.hasLast = false;
    }
    if (this.#status.state === 'error' || this.#statusUnsent) {
      this.#setStatus(this.#status, true);
    }
    if (this.#backend === undefined) {
      return;
    }
    for (const type of this.#jobs.keys()) {
      this.#fetchAfter(type, delayMs);
    }
  }

  /** Stops polling `type`; a queued fetch of it is dropped. */
  unwatch(type: TradingType): void {
    const job = this.#jobs.get(type);
    if (job !== undefined) {
      job.active = false;
      this.#wheel.cancel(job);
      this.#jobs.delete(type);
    }
  }

  /**
   * Called when nobody watches the account any more: `done` runs at once, or after the stream linger when the
   * stream is open (a watcher coming back within it finds the stream still live). Not called again by `watch`.
   */
  release(done: () => void): void {
    if (this.#stream?.isOpen !== true || this.#deps.config.streamLingerMs === 0) {
      done();
      return;
    }
    clearTimeout(this.#lingerTimer);
    this.#lingerTimer = setTimeout(done, this.#deps.config.streamLingerMs);
    this.#lingerTimer.unref();
  }

  /** Stops everything; a status error published for this account is cleared (nobody watches it any more). */
  async dispose(): Promise<void> {
    this.#disposed = true;
    for (const type of [...this.#jobs.keys()]) {
      this.unwatch(type);
    }
    this.#queue.length = 0;
    clearTimeout(this.#streamTimer);
    clearTimeout(this.#lingerTimer);
    clearTimeout(this.#pnlTimer);
    if (this.#backend !== undefined) {
      this.#deps.modes?.set(this.sub, undefined);
    }
    if (this.#status.state === 'error') {
      this.#setStatus({ state: 'ok' }, true);
    }
    await this.#stream?.close();
  }

  #intervalOf(type: TradingType): number {
    const config = this.#deps.config;
    const interval = ((): number => {
      switch (type) {
        case 'balance':
          return config.balanceIntervalMs;
        case 'positions':
          return config.positionsIntervalMs;
        case 'pnl':
          return config.pnlIntervalMs;
        case 'orders':
          return config.ordersIntervalMs;
      }
    })();
    return this.#mode === 'stream' ? Math.max(interval, config.streamSafetyPollMs) : interval;
  }

  // ---- the stream ----

  #startStream(): void {
    const stream = this.#stream;
    const backend = this.#backend;
    if (stream === undefined || backend === undefined || stream.isOpen || this.#starting || this.#streamTimer !== undefined || this.#disposed) {
      return;
    }
    this.#starting = true;
    // The stream client parses with the same markets as the REST client: loaded once, shared.
    void backend.limiter
      .run(() => ensureMarkets(backend.client))
      .then(
        async () => {
          const client = backend.stream;
          if (client !== undefined && client.markets === undefined && backend.client.markets !== undefined) {
            client.setMarkets(backend.client.markets);
          }
          await client?.loadHttpProxyAgent();
        },
        () => undefined,
      )
      .finally(() => {
        this.#starting = false;
        if (this.#disposed || this.idle) {
          return;
        }
        stream.open({
          live: () => {
            this.#onStreamLive();
          },
          balance: (balance, eventTime) => {
            this.#onPush('balance', () => {
              this.#balance = balance;
            });
            this.#publishState('balance', eventTime);
          },
          positions: (positions) => {
            this.#onPush('positions', () => {
              this.#patchPositions(positions);
            });
            this.#publishState('positions', Math.max(0, ...positions.map((p) => timeOf(record(record(p)['info'])['updatedTime']) ?? 0)));
            this.#schedulePnl();
          },
          orders: (orders) => {
            this.#onPush('orders', () => {
              this.#patchOrders(orders);
            });
            this.#publishState('orders', Math.max(0, ...orders.map((o) => timeOf(record(o)['lastUpdateTimestamp']) ?? timeOf(record(record(o)['info'])['updatedTime']) ?? 0)));
          },
          executions: (trades) => {
            if (trades.some((t) => Number(record(record(t)['info'])['closedSize'] ?? 0) > 0)) {
              this.#historyStale = true;
              this.#schedulePnl();
            }
          },
          failed: (error) => {
            this.#onStreamFailed(error);
          },
        });
      });
  }

  #onStreamLive(): void {
    if (this.#everLive) {
      this.#deps.metrics.sourceStreamReconnected(SOURCE_NAME);
    }
    this.#everLive = true;
    this.#streamFailures = 0;
    this.#streamRetryMs = this.#deps.config.streamRetryMinMs;
    this.#setMode('stream', undefined);
    // The snapshot: every watched type once over REST, now that no push can be missed any more.
    for (const type of this.#jobs.keys()) {
      this.#enqueue(type);
    }
  }

  #onStreamFailed(error: unknown): void {
    if (this.#disposed) {
      return;
    }
    const kind = classifyFailure(error);
    this.#deps.metrics.sourceError(SOURCE_NAME, kind);
    this.#streamFailures += 1;
    const message = error instanceof Error ? error.message : String(error);
    const refused = kind === 'auth' || !this.#everLive;
    if (refused || this.#streamFailures >= this.#deps.config.streamMaxFailures) {
      this.#setMode('poll', refused ? `the exchange refused the stream (${message})` : `the stream failed ${String(this.#streamFailures)} times in a row (${message})`);
    } else {
      this.#logger.debug({ kind, err: message, failures: this.#streamFailures }, 'stream dropped: reconnecting');
    }
    const wait = this.#streamRetryMs;
    this.#streamRetryMs = Math.min(wait * 2, this.#deps.config.streamRetryMaxMs);
    this.#streamTimer = setTimeout(() => {
      this.#streamTimer = undefined;
      if (!this.idle) {
        this.#startStream();
      }
    }, wait);
    this.#streamTimer.unref();
  }

  #setMode(mode: AccountMode, reason: string | undefined): void {
    if (mode === this.#mode) {
      return;
    }
    this.#mode = mode;
    this.#deps.modes?.set(this.sub, mode);
    if (mode === 'stream') {
      this.#logger.info('account data now pushed by the exchange stream; polling only as a safety check');
      return;
    }
    this.#logger.warn({ reason }, 'exchange stream unavailable: polling the account until it is back');
    // Polling resumes at the normal intervals, starting now: the data may be stale since the stream failed.
    for (const type of this.#jobs.keys()) {
      this.#enqueue(type);
    }
  }

  /** Applies a push now, and again after a REST snapshot of the same kind that is in flight lands. */
  #onPush(kind: StateKind, apply: () => void): void {
    apply();
    this.#replay.get(kind)?.push(apply);
  }

  #patchPositions(positions: readonly unknown[]): void {
    for (const position of positions) {
      const symbol = String(record(position)['symbol']);
      if (isFlat(position)) {
        // A closed position arrives without a side: every entry of its symbol (and index) is gone.
        const index = record(record(position)['info'])['positionIdx'];
        for (const key of [...this.#positions.keys()]) {
          if (key.startsWith(`${symbol}|`) && (index === undefined || key === positionKey(position) || Number(index) === 0)) {
            this.#positions.delete(key);
          }
        }
      } else {
        this.#positions.set(positionKey(position), position);
      }
    }
  }

  #patchOrders(orders: readonly unknown[]): void {
    for (const order of orders) {
      const o = record(order);
      const id = String(o['id']);
      if (o['status'] === 'open') {
        this.#orders.set(id, order);
      } else {
        this.#orders.delete(id);
      }
    }
  }

  #schedulePnl(): void {
    if (!this.#jobs.has('pnl') || this.#pnlTimer !== undefined || this.#disposed) {
      return;
    }
    const wait = Math.max(0, this.#lastPnlAt + PNL_MIN_INTERVAL_MS - Date.now());
    this.#pnlTimer = setTimeout(() => {
      this.#pnlTimer = undefined;
      this.#lastPnlAt = Date.now();
      if (this.#historyStale || this.#history === undefined) {
        // A closing fill: the realized side changed; the closed-pnl list is fetched again with the positions.
        this.#enqueue('pnl');
        return;
      }
      this.#publishState('pnl', undefined);
    }, wait);
    this.#pnlTimer.unref();
  }

  /** Publishes a type from the kept state (a push), serialized per type. */
  #publishState(type: TradingType, eventTime: number | undefined): void {
    const job = this.#jobs.get(type);
    if (job === undefined || this.#disposed) {
      return;
    }
    let data: unknown;
    try {
      data = this.#fromState(type);
    } catch (error) {
      this.#deps.metrics.sourceError(SOURCE_NAME, classifyFailure(error));
      this.#logger.warn({ type, err: error instanceof Error ? error.message : String(error) }, 'pushed data did not fit; keeping the last value');
      return;
    }
    if (data === undefined) {
      return;
    }
    const previous = this.#publishing.get(type) ?? Promise.resolve();
    const next = previous.then(async () => {
      const changed = await this.#publishIfChanged(job, data);
      if (changed && eventTime !== undefined && eventTime > 0) {
        this.#deps.metrics.sourceEventLatency(SOURCE_NAME, (Date.now() - eventTime) / 1000);
      }
    }).catch((error: unknown) => {
      if (this.#busDown(error)) {
        this.#logger.debug({ type, err: error }, 'bus unavailable: pushed change not published, republished when the bus is back');
        return;
      }
      this.#logger.warn({ type, err: error }, 'publishing a pushed change failed; the next push or poll publishes again');
    });
    this.#publishing.set(type, next);
  }

  /** A type's payload from the kept state; undefined while its snapshot has not arrived. */
  #fromState(type: TradingType): TradingData[TradingType] | undefined {
    const coin = this.#deps.config.settleCoin;
    switch (type) {
      case 'balance':
        return this.#balance === undefined ? undefined : mapBalance(walletBalance(this.#balance, coin), coin);
      case 'positions':
        return mapPositions([...this.#positions.values()]);
      case 'orders':
        return mapOrders([...this.#orders.values()]);
      case 'pnl':
        if (this.#history === undefined) {
          return undefined;
        }
        return computePnl([...this.#positions.values()], this.#history, startOfDay(Date.now(), this.#deps.config.pnlTimeZone));
    }
  }

  // ---- polling ----

  /** Fetches `type` now, or after `delayMs` (replacing its scheduled fetch). */
  #fetchAfter(type: TradingType, delayMs: number): void {
    if (delayMs > 0) {
      this.#schedule(type, Date.now() + delayMs);
    } else {
      this.#enqueue(type);
    }
  }

  /**
   * The point of the account's grid for `interval` (its start plus whole intervals) nearest to `at`: the
   * account's types are then due at the same moments (those with the same interval always, the others at
   * their common multiples), whatever delays their first fetches had, so the wheel runs them together and
   * their changes leave in one write per socket. Polls are still `interval` apart once on the grid; the first
   * gap after an off-grid fetch is between half and one and a half intervals.
   */
  #onGrid(at: number, interval: number): number {
    return this.#anchor + Math.round((at - this.#anchor) / interval) * interval;
  }

  #schedule(type: TradingType, at: number): void {
    const job = this.#jobs.get(type);
    if (job !== undefined) {
      this.#scheduleJob(job, at);
    }
  }

  #scheduleJob(job: Job, at: number): void {
    if (job.active && !this.#disposed) {
      this.#wheel.schedule(job, at);
    }
  }

  #enqueue(type: TradingType): void {
    const job = this.#jobs.get(type);
    if (job !== undefined) {
      this.#enqueueJob(job);
    }
  }

  #enqueueJob(job: Job): void {
    // At most one queued fetch per job: the queue is bounded by the four types.
    if (!this.#queue.includes(job)) {
      this.#queue.push(job);
    }
    if (!this.#draining) {
      void this.#drain();
    }
  }

  async #drain(): Promise<void> {
    this.#draining = true;
    try {
      for (let job = this.#queue.shift(); job !== undefined; job = this.#queue.shift()) {
        if (!job.active || this.#disposed) {
          continue;
        }
        if (Date.now() < this.#blockedUntil) {
          this.#scheduleJob(job, this.#blockedUntil);
          continue;
        }
        const startedAt = Date.now();
        await this.#poll(job.type, job);
        const interval = this.#intervalOf(job.type);
        this.#scheduleJob(job, Math.max(this.#onGrid(startedAt + interval, interval), this.#blockedUntil));
      }
    } finally {
      this.#draining = false;
    }
  }

  async #poll(type: TradingType, job: Job): Promise<void> {
    const backend = this.#backend;
    if (backend === undefined) {
      return;
    }
    const started = performance.now();
    let data: TradingData[TradingType];
    try {
      data = await backend.limiter.run(this.#fetchTask(backend, job));
    } catch (error) {
      this.#deps.metrics.sourcePoll(SOURCE_NAME, 'error', secondsSince(started));
      this.#onFailure(type, error);
      return;
    }
    try {
      let changed: boolean;
      if (this.#stream === undefined) {
        // Without a stream every publish of a type comes from a poll, and the polls of an account run one at
        // a time: nothing to serialize with.
        changed = await this.#publishIfChanged(job, data);
      } else {
        // Serialized with the publishes of pushes (`#publishState`).
        const previous = this.#publishing.get(type) ?? Promise.resolve();
        const publish = previous.then(() => this.#publishIfChanged(job, data));
        this.#publishing.set(type, publish.catch(() => undefined));
        changed = await publish;
      }
      this.#deps.metrics.sourcePoll(SOURCE_NAME, changed ? 'changed' : 'unchanged', secondsSince(started));
      this.#onSuccess();
    } catch (error) {
      this.#deps.metrics.sourcePoll(SOURCE_NAME, 'error', secondsSince(started));
      if (!this.#busDown(error)) {
        this.#onFailure(type, error);
        return;
      }
      // The exchange answered; only the bus failed. No backoff and no exchange error: the value is published
      // again (with every other) when the bus is back.
      this.#onSuccess();
      this.#logger.debug({ type, err: error instanceof Error ? error.message : String(error) }, 'bus unavailable: value not published, republished when the bus is back');
    }
  }

  /** Whether a failed publish is the bus's outage (`bus_unavailable`, or the bus not connected). */
  #busDown(error: unknown): boolean {
    return (error instanceof GatewayError && error.code === 'bus_unavailable') || this.#deps.bus.state !== 'connected';
  }

  /*
   * A REST snapshot of one kind of state: from its start, pushes of that kind are also kept, to be applied
   * again on top of the answer once it is stored (the answer may predate them). Only an account with a stream
   * gets pushes; the others keep nothing. The fetches of an account run one at a time, so one snapshot of a
   * kind is in flight at most.
   */

  #snapshotStart(kind: StateKind): void {
    if (this.#stream !== undefined) {
      this.#replay.set(kind, []);
    }
  }

  /** The request or its answer failed: the kept pushes are dropped (the state already has them). */
  #snapshotFailed(kind: StateKind, error: unknown): never {
    this.#replay.delete(kind);
    throw error;
  }

  /** The answer is stored: applies the pushes kept since the start; true when there were some. */
  #snapshotEnd(kind: StateKind): boolean {
    const kept = this.#replay.get(kind);
    if (kept === undefined) {
      return false;
    }
    for (const apply of kept) {
      apply();
    }
    this.#replay.delete(kind);
    return kept.length > 0;
  }

  /** The fetch of `job`'s type as a limiter task, kept on the job (see `Job.fetchTask`). */
  #fetchTask(backend: NonNullable<AccountBackend>, job: Job): () => Promise<TradingData[TradingType]> {
    const type = job.type;
    job.fetchTask ??= () => this.#fetch(backend, type);
    return job.fetchTask;
  }


  /** Fetches `type`, the markets loaded first when the client needs them (once). */
  #fetch(backend: NonNullable<AccountBackend>, type: TradingType): Promise<TradingData[TradingType]> {
    const { client } = backend;
    if (client.loadMarkets !== undefined && client.markets === undefined) {
      return ensureMarkets(client).then(() => this.#fetchLoaded(backend, type));
    }
    // Not async itself: one promise less per poll; what it calls are async functions, so nothing throws here.
    return this.#fetchLoaded(backend, type);
  }

  #fetchLoaded(backend: NonNullable<AccountBackend>, type: TradingType): Promise<TradingData[TradingType]> {
    switch (type) {
      case 'balance':
        return this.#fetchBalance(backend.client);
      case 'positions':
        return this.#fetchPositions(backend);
      case 'orders':
        return this.#fetchOrders(backend);
      case 'pnl':
        return this.#fetchPnl(backend);
    }
  }

  async #fetchPositions(backend: NonNullable<AccountBackend>): Promise<TradingData['positions']> {
    await this.#snapshotPositions(backend);
    return mapPositions([...this.#positions.values()]);
  }

  async #fetchPnl(backend: NonNullable<AccountBackend>): Promise<TradingData['pnl']> {
    const now = Date.now();
    const since = now - this.#deps.config.pnlHistoryDays * 86_400_000 + 60_000;
    const coin = this.#deps.config.settleCoin;
    this.#historyStale = false;
    await this.#snapshotPositions(backend);
    const history = await backend.client.fetchPositionsHistory(undefined, since, backend.quirks.historyLimit, backend.quirks.history(coin));
    const pnl = computePnl([...this.#positions.values()], history, startOfDay(now, this.#deps.config.pnlTimeZone));
    this.#history = history;
    return pnl;
  }

  async #fetchBalance(client: ExchangeClient): Promise<TradingData['balance']> {
    const coin = this.#deps.config.settleCoin;
    let mapped: TradingData['balance'];
    this.#snapshotStart('balance');
    try {
      const balance = await client.fetchBalance();
      // Validated before it replaces anything: a bad answer keeps the last state.
      mapped = mapBalance(walletBalance(balance, coin), coin);
      this.#balance = balance;
    } catch (error) {
      this.#snapshotFailed('balance', error);
    }
    // Pushes applied on top of the answer: its mapping is not the value any more.
    return this.#snapshotEnd('balance') ? mapBalance(walletBalance(this.#balance, coin), coin) : mapped;
  }

  async #snapshotPositions(backend: NonNullable<AccountBackend>): Promise<void> {
    this.#snapshotStart('positions');
    try {
      const positions = await backend.client.fetchPositions(undefined, backend.quirks.positions(this.#deps.config.settleCoin));
      if (positions === this.#positionsAnswer && this.#stream === undefined) {
        // The very answer already stored (the paper exchange answers the positions and the pnl polls of one
        // step alike), and without a stream nothing else changes the kept positions: nothing to redo.
        return;
      }
      assertPositions(positions);
      this.#positions.clear();
      this.#patchPositions(positions as unknown[]);
      this.#positionsAnswer = positions;
    } catch (error) {
      this.#snapshotFailed('positions', error);
    }
    this.#snapshotEnd('positions');
  }

  async #fetchOrders(backend: NonNullable<AccountBackend>): Promise<TradingData['orders']> {
    let lastAnswer: unknown;
    this.#snapshotStart('orders');
    try {
      const orders = await backend.client.fetchOpenOrders(undefined, undefined, undefined, backend.quirks.openOrders(this.#deps.config.settleCoin));
      const memo = this.#ordersMemo;
      if (memo !== undefined && memo.answer === orders && this.#stream === undefined) {
        // The very answer of the last time (the paper exchange keeps its answer until an order changes), and
        // nothing but answers changes the kept orders without a stream: the same payload as the last time.
        return memo.payload;
      }
      mapOrders(orders);
      lastAnswer = orders;
      this.#orders.clear();
      // A REST answer lists open orders only, whatever status the exchange writes.
      this.#patchOrders((orders as unknown[]).map((o) => (record(o)['status'] === 'open' ? o : { ...record(o), status: 'open' })));
    } catch (error) {
      this.#snapshotFailed('orders', error);
    }
    this.#snapshotEnd('orders');
    const payload = mapOrders([...this.#orders.values()]);
    this.#ordersMemo = { answer: lastAnswer, payload };
    return payload;
  }

  /**
   * Publishes `data` as the topic's latest value unless it equals the last one; true when published. Not an
   * async function: most calls (every poll of every watched type) settle without awaiting anything but the
   * publish itself.
   */
  #publishIfChanged(job: Job, data: unknown): Promise<boolean> {
    // A fetch that finishes after the source stopped (or nobody watches) touches the bus no more.
    if (this.#disposed) {
      return notPublished;
    }
    return job.seeded ? this.#publishUnlessSame(job, data) : this.#seedThenPublish(job, data);
  }

  async #seedThenPublish(job: Job, data: unknown): Promise<boolean> {
    job.seeded = true;
    const stored = await this.#deps.bus.latest(job.topic);
    job.hasLast = stored !== undefined;
    job.last = stored?.data;
    return this.#publishUnlessSame(job, data);
  }

  #publishUnlessSame(job: Job, data: unknown): Promise<boolean> {
    // A fetch that finished after nobody watches any more must not overwrite what a newer runner published.
    if ((job.hasLast && sameData(data, job.last)) || this.#disposed) {
      return notPublished;
    }
    return this.#deps.bus.publishLatest(job.topic, data).then(() => {
      job.last = data;
      job.hasLast = true;
      return true;
    });
  }

  #onSuccess(): void {
    this.#retryMs = this.#deps.config.retryMinMs;
    this.#authPauseMs = this.#deps.config.authPauseMs;
    if (this.#status.state === 'error') {
      this.#logger.info('account works again');
      this.#setStatus({ state: 'ok' }, false);
    }
  }

  #onFailure(type: TradingType, error: unknown): void {
    const kind = classifyFailure(error);
    const config = this.#deps.config;
    this.#deps.metrics.sourceError(SOURCE_NAME, kind);
    const message = error instanceof Error ? error.message : String(error);
    if (kind === 'auth') {
      const pause = this.#authPauseMs;
      this.#authPauseMs = Math.min(pause * 2, config.authPauseMaxMs);
      this.#blockedUntil = Date.now() + pause;
      this.#logger.warn({ type, kind, pauseMs: pause }, 'exchange rejected the API key: account paused');
      this.#setStatus(
        {
          state: 'error',
          code: 'exchange_auth_failed',
          message: `the exchange (${this.#backend?.client.id ?? 'exchange'}) rejected this account's API key; trading data is paused and retried in ${Math.round(pause / 1000)} s`,
          retryAt: this.#blockedUntil,
        },
        true,
      );
      return;
    }
    if (kind === 'invalid_data') {
      // One bad answer: counted and logged, the next interval tries again; the account is not backed off.
      this.#logger.warn({ type, kind, err: message }, 'exchange answer did not fit; keeping the last value');
      return;
    }
    const delay = this.#retryMs;
    this.#retryMs = Math.min(delay * 2, config.retryMaxMs);
    this.#blockedUntil = Math.max(this.#blockedUntil, Date.now() + delay);
    this.#logger.warn({ type, kind, retryInMs: delay, err: message }, 'exchange request failed: backing off, keeping the last values');
  }

  /** Publishes the account status (always when `force`, otherwise only on a change). Never throws. */
  #setStatus(status: TradingStatus, force: boolean): void {
    const changed = !sameData(status, this.#status);
    this.#status = status;
    if (!changed && !force) {
      return;
    }
    this.#statusUnsent = false;
    this.#deps.bus.publishLatest(tradingStatusTopic(this.sub), status).catch((error: unknown) => {
      // Sent again by `republish` when the bus is back, unless a newer status was sent meanwhile.
      if (this.#status === status) {
        this.#statusUnsent = true;
      }
      this.#logger.warn({ err: error }, 'publishing the account status failed');
    });
  }
}

/** The answer of a publish that was not needed. */
const notPublished: Promise<boolean> = Promise.resolve(false);

/** Seconds since `started` (a `performance.now()` reading). */
function secondsSince(started: number): number {
  return (performance.now() - started) / 1000;
}

/**
 * The settlement coin's wallet amounts as the REST answer gives them, whether `balance` came from REST or from a
 * `wallet` push: ccxt's pro class takes the equity (with unrealized pnl) as the pushed total while its REST
 * parser takes the wallet balance, so the pushed rows (`info`) are read the REST way, or the two would
 * disagree at every safety poll.
 */
function walletBalance(balance: unknown, coin: string): unknown {
  const info = record(balance)['info'];
  if (!Array.isArray(info)) {
    return balance;
  }
  for (const row of info as unknown[]) {
    for (const entry of (record(row)['coin'] as unknown[] | undefined) ?? []) {
      const c = record(entry);
      if (c['coin'] === coin) {
        const total = Number(c['walletBalance']);
        const free = Number(c['availableToWithdraw']);
        return { [coin]: { total, free, used: total - free } };
      }
    }
  }
  return { [coin]: { total: 0, free: 0, used: 0 } };
}
