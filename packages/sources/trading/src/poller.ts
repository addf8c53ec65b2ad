import type { InterestChange } from '@gw/bus';
import { parseTradingTopic, tradingTopic } from '@gw/topics';
import type { TradingType } from '@gw/topics';
import type { AccountBackend, AccountDeps } from './account.js';
import { AccountRunner, ModeTracker } from './account.js';
import type { Accounts } from './accounts.js';
import type { TradingConfig } from './config.js';
import { createCcxtClient, createCcxtStreamClient, quirksOf } from './exchange.js';
import type { ExchangeClient, StreamClient } from './exchange.js';
import { PaperExchange } from './paper.js';
import { Semaphore } from './semaphore.js';
import { PollWheel } from './wheel.js';

/**
 * The wheel's slot for `config`'s intervals: a fortieth of the shortest one, at most 25 ms. Polls are late by
 * less than a slot; what is due in the same slot runs together.
 */
function wheelSlotMs(config: Pick<TradingConfig, 'balanceIntervalMs' | 'positionsIntervalMs' | 'pnlIntervalMs' | 'ordersIntervalMs'>): number {
  const shortest = Math.min(config.balanceIntervalMs, config.positionsIntervalMs, config.pnlIntervalMs, config.ordersIntervalMs);
  return Math.max(1, Math.min(25, Math.floor(shortest / 40)));
}

/** Simulated accounts kept after nobody watches them, so a reconnecting user sees the same account go on. */
const maxIdlePaperAccounts = 1_000;

/**
 * When the `index`-th of `count` accounts starts its fetches in a resync: `maxConcurrency` accounts at a time
 * (the slots of an exchange), the groups spread evenly over the shortest polling interval. A few accounts are
 * all fetched at once; thousands are never all asked for in the same moment, and every one is fetched within
 * one interval.
 */
export function resyncDelayMs(index: number, count: number, config: Pick<TradingConfig, 'maxConcurrency' | 'balanceIntervalMs' | 'positionsIntervalMs' | 'pnlIntervalMs' | 'ordersIntervalMs'>): number {
  const perGroup = Math.max(1, config.maxConcurrency);
  const groups = Math.ceil(count / perGroup);
  if (groups <= 1) {
    return 0;
  }
  const windowMs = Math.min(config.balanceIntervalMs, config.positionsIntervalMs, config.pnlIntervalMs, config.ordersIntervalMs);
  return Math.floor((Math.floor(index / perGroup) * windowMs) / groups);
}

/**
 * Turns bus interest into polling: an AccountRunner per user with at least one watched type, created when
 * interest in `trading.<user>.<type>` appears anywhere in the cluster and disposed when the user's last type
 * loses it. Exchange clients are kept per account for the life of the source (ccxt instances hold loaded
 * markets and their rate limiter); each exchange has its own concurrency bound, so a slow exchange only
 * queues its own accounts.
 */
export class TradingPoller {
  readonly #deps: AccountDeps & { wheel: PollWheel };
  readonly #accounts: Accounts;
  readonly #defaultAccount: 'paper' | 'none';
  readonly #runners = new Map<string, AccountRunner>();
  readonly #ccxtClients = new Map<string, ExchangeClient>();
  readonly #streamClients = new Map<string, StreamClient | undefined>();
  readonly #modes: ModeTracker;
  readonly #wheel: PollWheel;
  readonly #paperClients = new Map<string, PaperExchange>();
  readonly #limiters = new Map<string, Semaphore>();

  constructor(deps: AccountDeps, accounts: Accounts, defaultAccount: 'paper' | 'none') {
    this.#modes = deps.modes ?? new ModeTracker(deps.metrics);
    this.#wheel = deps.wheel ?? new PollWheel(wheelSlotMs(deps.config));
    this.#deps = { ...deps, modes: this.#modes, wheel: this.#wheel };
    this.#accounts = accounts;
    this.#defaultAccount = defaultAccount;
  }

  /** Users with a runner (watched by someone). */
  get watchedUsers(): string[] {
    return [...this.#runners.keys()];
  }

  /** How a watched user's account data arrives now (undefined: not watched, or no account). */
  modeOf(sub: string): 'stream' | 'poll' | undefined {
    return this.#modes.modeOf(sub);
  }

  /**
   * Applies one interest change (topics that are not trading data topics are ignored). A newly watched type is
   * fetched at once, or after `delayMs` (a resync spreading many accounts).
   */
  onInterest(change: InterestChange, delayMs = 0): void {
    const parsed = parseTradingTopic(change.topic);
    if (parsed === undefined) {
      return;
    }
    const { sub, type } = parsed;
    if (change.interested) {
      let runner = this.#runners.get(sub);
      if (runner === undefined) {
        runner = new AccountRunner(sub, this.#backendFor(sub), this.#deps);
        this.#runners.set(sub, runner);
      }
      runner.watch(type, delayMs);
      return;
    }
    const runner = this.#runners.get(sub);
    if (runner === undefined) {
      return;
    }
    runner.unwatch(type);
    if (runner.idle) {
      runner.release(() => {
        // Still idle and still this user's runner: nobody came back during the stream's linger.
        if (this.#runners.get(sub) === runner && runner.idle) {
          this.#runners.delete(sub);
          void runner.dispose();
        }
      });
    }
  }

  /**
   * Watches every topic of `interestedTopics` (at start, and when the bus came back; undefined: unreadable).
   * Newly watched types are fetched at once; with `republish` (the bus came back, and may have lost the stored
   * latest values) every watched type of every account is fetched at once too and published even if
   * unchanged, without waiting for its schedule. Many accounts are spread (`resyncDelayMs`). Nothing stops
   * here: right after Redis restarted empty the other processes have not declared their interest again yet
   * (see `dropUnwanted`).
   */
  resync(interestedTopics: readonly string[] | undefined, options: { republish: boolean }): void {
    const wanted = interestedTopics === undefined ? undefined : new Set(interestedTopics);
    // Per account, in order: the types it starts watching, and whether it republishes what it watches.
    const work = new Map<string, TradingType[]>();
    if (options.republish) {
      for (const [sub, runner] of this.#runners) {
        if (!runner.idle) {
          work.set(sub, []);
        }
      }
    }
    for (const topic of wanted ?? []) {
      const parsed = parseTradingTopic(topic);
      if (parsed === undefined || this.#runners.get(parsed.sub)?.watchedTypes().includes(parsed.type) === true) {
        continue;
      }
      const types = work.get(parsed.sub) ?? [];
      types.push(parsed.type);
      work.set(parsed.sub, types);
    }
    let index = 0;
    for (const [sub, types] of work) {
      const delayMs = resyncDelayMs(index, work.size, this.#deps.config);
      index += 1;
      if (options.republish) {
        // What it already watched: fetched again. New types (below): fetched for the first time.
        this.#runners.get(sub)?.republish(delayMs);
      }
      for (const type of types) {
        this.onInterest({ topic: tradingTopic(sub, type), interested: true }, delayMs);
      }
    }
  }

  /**
   * Stops polling what is watched but not in `interestedTopics`: the interest of processes that died during a
   * bus outage vanished without a notice.
   */
  dropUnwanted(interestedTopics: readonly string[]): void {
    const wanted = new Set(interestedTopics);
    for (const [sub, runner] of [...this.#runners]) {
      for (const type of runner.watchedTypes()) {
        const topic = tradingTopic(sub, type);
        if (!wanted.has(topic)) {
          this.onInterest({ topic, interested: false });
        }
      }
    }
  }

  /** Stops every runner and closes every stream. */
  async stop(): Promise<void> {
    const runners = [...this.#runners.values()];
    this.#runners.clear();
    await Promise.all(runners.map((runner) => runner.dispose()));
    this.#wheel.clear();
  }

  #limiter(exchangeId: string): Semaphore {
    let limiter = this.#limiters.get(exchangeId);
    if (limiter === undefined) {
      // The paper exchange answers in-process at once: nothing to protect, and queueing thousands of
      // simulated accounts behind a few slots only costs a promise per wait.
      limiter = new Semaphore(exchangeId === 'paper' ? Number.POSITIVE_INFINITY : this.#deps.config.maxConcurrency);
      this.#limiters.set(exchangeId, limiter);
    }
    return limiter;
  }

  #backendFor(sub: string): AccountBackend {
    const spec = this.#accounts.get(sub);
    if (spec?.exchange === 'bybit') {
      let client = this.#ccxtClients.get(sub);
      if (client === undefined) {
        client = createCcxtClient(spec, { timeoutMs: this.#deps.config.requestTimeoutMs });
        this.#ccxtClients.set(sub, client);
      }
      if (!this.#streamClients.has(sub)) {
        this.#streamClients.set(sub, createCcxtStreamClient(spec, { timeoutMs: this.#deps.config.requestTimeoutMs }));
      }
      return { client, quirks: quirksOf(spec.exchange), limiter: this.#limiter(spec.exchange), stream: this.#streamClients.get(sub) };
    }
    // Here `spec` is a paper account or absent.
    if (spec?.exchange === 'paper' || this.#defaultAccount === 'paper') {
      return { client: this.#paper(sub, spec?.startingBalance), quirks: quirksOf('paper'), limiter: this.#limiter('paper') };
    }
    return undefined;
  }

  #paper(sub: string, startingBalance: number | undefined): PaperExchange {
    let client = this.#paperClients.get(sub);
    if (client === undefined) {
      client = new PaperExchange(sub, { tickMs: this.#deps.config.paperTickMs, startingBalance });
    } else {
      this.#paperClients.delete(sub);
    }
    // Most recently used last; the oldest idle simulations are forgotten past the bound.
    this.#paperClients.set(sub, client);
    for (const key of this.#paperClients.keys()) {
      if (this.#paperClients.size <= maxIdlePaperAccounts + this.#runners.size) {
        break;
      }
      if (!this.#runners.has(key)) {
        this.#paperClients.delete(key);
      }
    }
    return client;
  }
}

