import type { Bus } from '@gw/bus';
import type { Logger } from '@gw/core';
import type { GatewayMetrics } from '@gw/metrics';
import { tradingStatusTopic, tradingTopic } from '@gw/topics';
import type { TradingData, TradingStatus, TradingType } from '@gw/topics';
import type { TradingConfig } from './config.js';
import { startOfDay } from './day.js';
import { classifyFailure } from './errors.js';
import { ensureMarkets } from './exchange.js';
import type { ExchangeClient, ExchangeQuirks } from './exchange.js';
import { computePnl, mapBalance, mapOrders, mapPositions } from './mapping.js';
import { canonical } from './normalize.js';
import type { Semaphore } from './semaphore.js';

export const SOURCE_NAME = 'trading';

export interface AccountDeps {
  bus: Bus;
  logger: Logger;
  metrics: GatewayMetrics;
  config: TradingConfig;
}

/** The exchange behind an account, or none (production without an account: the user is told `no_account`). */
export type AccountBackend = { client: ExchangeClient; quirks: ExchangeQuirks; limiter: Semaphore } | undefined;

interface Job {
  timer: NodeJS.Timeout | undefined;
  /** Canonical text of the value last published (or found stored) for this type; undefined before the first. */
  last: string | undefined;
  /** The stored latest value was consulted (once per job, so a restart does not re-push unchanged data). */
  seeded: boolean;
}

/**
 * One user's account while someone watches it: a timer per watched type, and one queue of fetches that runs
 * them one at a time (an account never has two requests in flight; an exchange's slots are shared through
 * its semaphore). Each fetch maps the exchange's answer to seed 001's payload and publishes it as the topic's
 * latest value only when it differs from the last one (canonical comparison).
 *
 * Failures never escape: authentication errors pause the account (doubling pause) and publish its status as
 * `exchange_auth_failed`; network, rate-limit and other errors back it off (doubling, capped) and keep the last
 * good values. Everything is counted (source polls by result, source errors by kind).
 */
export class AccountRunner {
  readonly sub: string;
  readonly #backend: AccountBackend;
  readonly #deps: AccountDeps;
  readonly #logger: Logger;
  readonly #jobs = new Map<TradingType, Job>();
  readonly #queue: TradingType[] = [];
  #draining = false;
  #blockedUntil = 0;
  #retryMs: number;
  #authPauseMs: number;
  #status: TradingStatus = { state: 'ok' };
  #disposed = false;

  constructor(sub: string, backend: AccountBackend, deps: AccountDeps) {
    this.sub = sub;
    this.#backend = backend;
    this.#deps = deps;
    this.#logger = deps.logger.child({ user_id: sub, exchange: backend?.client.id ?? 'none' });
    this.#retryMs = deps.config.retryMinMs;
    this.#authPauseMs = deps.config.authPauseMs;
  }

  get idle(): boolean {
    return this.#jobs.size === 0;
  }

  /** Starts polling `type` now and then at its interval (idempotent). */
  watch(type: TradingType): void {
    if (this.#disposed || this.#jobs.has(type)) {
      return;
    }
    this.#jobs.set(type, { timer: undefined, last: undefined, seeded: false });
    if (this.#backend === undefined) {
      this.#setStatus({ state: 'error', code: 'no_account', message: `no trading account is configured for user ${this.sub}` }, true);
      return;
    }
    if (this.#status.state === 'error') {
      // A new watcher must learn that the account is paused, without waiting for the next attempt.
      this.#setStatus(this.#status, true);
    }
    this.#enqueue(type);
  }

  /** The types being polled. */
  watchedTypes(): TradingType[] {
    return [...this.#jobs.keys()];
  }

  /**
   * Forgets what was last published, so the next fetch of each type publishes again even if unchanged: after the
   * bus lost its stored values (a Redis restart), subscribers must get the current state back.
   */
  reseed(): void {
    for (const job of this.#jobs.values()) {
      job.seeded = false;
      job.last = undefined;
    }
    if (this.#status.state === 'error') {
      this.#setStatus(this.#status, true);
    }
  }

  /** Stops polling `type`; a queued fetch of it is dropped. */
  unwatch(type: TradingType): void {
    const job = this.#jobs.get(type);
    if (job !== undefined) {
      clearTimeout(job.timer);
      this.#jobs.delete(type);
    }
  }

  /** Stops everything; a status error published for this account is cleared (nobody watches it any more). */
  dispose(): void {
    this.#disposed = true;
    for (const type of [...this.#jobs.keys()]) {
      this.unwatch(type);
    }
    this.#queue.length = 0;
    if (this.#status.state === 'error') {
      this.#setStatus({ state: 'ok' }, true);
    }
  }

  #intervalOf(type: TradingType): number {
    const config = this.#deps.config;
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
  }

  #schedule(type: TradingType, at: number): void {
    const job = this.#jobs.get(type);
    if (job === undefined || this.#disposed) {
      return;
    }
    clearTimeout(job.timer);
    job.timer = setTimeout(
      () => {
        job.timer = undefined;
        this.#enqueue(type);
      },
      Math.max(0, at - Date.now()),
    );
    job.timer.unref();
  }

  #enqueue(type: TradingType): void {
    // At most one queued fetch per type: the queue is bounded by the four types.
    if (!this.#queue.includes(type)) {
      this.#queue.push(type);
    }
    if (!this.#draining) {
      void this.#drain();
    }
  }

  async #drain(): Promise<void> {
    this.#draining = true;
    try {
      for (let type = this.#queue.shift(); type !== undefined; type = this.#queue.shift()) {
        const job = this.#jobs.get(type);
        if (job === undefined || this.#disposed) {
          continue;
        }
        if (Date.now() < this.#blockedUntil) {
          this.#schedule(type, this.#blockedUntil);
          continue;
        }
        const startedAt = Date.now();
        await this.#poll(type, job);
        this.#schedule(type, Math.max(startedAt + this.#intervalOf(type), this.#blockedUntil));
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
    const seconds = (): number => (performance.now() - started) / 1000;
    try {
      const data = await backend.limiter.run(() => this.#fetch(backend, type));
      const changed = await this.#publishIfChanged(type, job, data);
      this.#deps.metrics.sourcePoll(SOURCE_NAME, changed ? 'changed' : 'unchanged', seconds());
      this.#onSuccess();
    } catch (error) {
      this.#deps.metrics.sourcePoll(SOURCE_NAME, 'error', seconds());
      this.#onFailure(type, error);
    }
  }

  async #fetch(backend: NonNullable<AccountBackend>, type: TradingType): Promise<TradingData[TradingType]> {
    const { client, quirks } = backend;
    const coin = this.#deps.config.settleCoin;
    await ensureMarkets(client);
    switch (type) {
      case 'balance':
        return mapBalance(await client.fetchBalance(), coin);
      case 'positions':
        return mapPositions(await client.fetchPositions(undefined, quirks.positions(coin)));
      case 'orders':
        return mapOrders(await client.fetchOpenOrders(undefined, undefined, undefined, quirks.openOrders(coin)));
      case 'pnl': {
        const now = Date.now();
        const positions = await client.fetchPositions(undefined, quirks.positions(coin));
        const since = now - this.#deps.config.pnlHistoryDays * 86_400_000 + 60_000;
        const history = await client.fetchPositionsHistory(undefined, since, quirks.historyLimit, quirks.history(coin));
        return computePnl(positions, history, startOfDay(now, this.#deps.config.pnlTimeZone));
      }
    }
  }

  /** A method, not the field: TypeScript would keep `#disposed` narrowed across the awaits below. */
  #isDisposed(): boolean {
    return this.#disposed;
  }

  /** Publishes `data` as the topic's latest value unless it equals the last one; true when published. */
  async #publishIfChanged(type: TradingType, job: Job, data: unknown): Promise<boolean> {
    // A fetch that finishes after the source stopped (or nobody watches) touches the bus no more.
    if (this.#isDisposed()) {
      return false;
    }
    const topic = tradingTopic(this.sub, type);
    if (!job.seeded) {
      job.seeded = true;
      const stored = await this.#deps.bus.latest(topic);
      job.last = stored === undefined ? undefined : canonical(stored.data);
    }
    const text = canonical(data);
    // A fetch that finished after nobody watches any more must not overwrite what a newer runner published.
    if (text === job.last || this.#isDisposed()) {
      return false;
    }
    await this.#deps.bus.publishLatest(topic, data);
    job.last = text;
    return true;
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
    const changed = canonical(status) !== canonical(this.#status);
    this.#status = status;
    if (!changed && !force) {
      return;
    }
    this.#deps.bus.publishLatest(tradingStatusTopic(this.sub), status).catch((error: unknown) => {
      this.#logger.warn({ err: error }, 'publishing the account status failed');
    });
  }
}
