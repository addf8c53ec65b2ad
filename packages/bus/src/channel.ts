import type { Bus, Envelope, InterestLease, Subscription } from './types.js';

export interface BusChannelOptions {
  bus: Bus;
  topic: string;
  /** Declare bus interest in the topic while the channel has members (data topics: this is what makes sources poll). */
  declareInterest: boolean;
  /** Deliver the topic's stored latest value first when the channel becomes live (default true). */
  withLatest?: boolean;
  /** Every message of the topic (or pattern) while the channel is live. Must not throw. */
  onMessage: (message: Envelope) => void;
  /** A bus operation failed; the channel retries by itself while it has members. */
  onFailure: (error: unknown) => void;
  /** The channel has no members and holds nothing on the bus any more (the owner may forget it). */
  onIdle?: () => void;
  /**
   * The bus disconnected while the channel was live: messages published from now on may never reach
   * `onMessage`, until `onRestored`. Called once per outage.
   */
  onInterrupted?: () => void;
  /**
   * The subscription is active again after `onInterrupted` (the bus restores its subscriptions before it reports
   * `connected`): messages published in between were not delivered, and may already be followed by live ones.
   * A topic with history can be read from the last id `onMessage` got. Called once per outage.
   */
  onRestored?: () => void;
}

const firstRetryMs = 500;
const maxRetryMs = 10_000;

/**
 * The one way adapters consume the bus. One bus topic (or pattern) shared by the local consumers that want it: subscribed (with the topic's latest value) and,
 * for data topics, declared as interest while at least one member is present; unsubscribed and released when
 * the last member leaves. Subscribe/unsubscribe steps run one at a time in order, so members joining and
 * leaving in any interleaving always converge to the right state. Failed steps (bus down) are retried with
 * capped backoff while members remain.
 */
export class BusChannel {
  readonly topic: string;
  readonly #options: BusChannelOptions;
  readonly #members = new Set<object>();
  #subscription: Subscription | undefined;
  #lease: InterestLease | undefined;
  #work: Promise<void> = Promise.resolve();
  #retryMs = firstRetryMs;
  #retryTimer: NodeJS.Timeout | undefined;
  #closed = false;
  #busWasDown = false;
  #stopWatchingBus: (() => void) | undefined;

  constructor(options: BusChannelOptions) {
    this.topic = options.topic;
    this.#options = options;
  }

  /**
   * While live: the bus restores its subscriptions itself after an outage; what changed meanwhile is the
   * latest value, which the channel reads again and delivers so its consumers are current at once. The
   * owner is told of the outage and of the restore when it asked (`onInterrupted`, `onRestored`).
   */
  #watchBus(): void {
    const { withLatest = true, onInterrupted, onRestored } = this.#options;
    if (this.#stopWatchingBus !== undefined || (!withLatest && onInterrupted === undefined && onRestored === undefined)) {
      return;
    }
    this.#stopWatchingBus = this.#options.bus.onStateChange((state) => {
      if (state !== 'connected') {
        if (!this.#busWasDown) {
          this.#busWasDown = true;
          onInterrupted?.();
        }
      } else if (this.#busWasDown) {
        this.#busWasDown = false;
        if (withLatest) {
          this.#redeliverLatest();
        }
        if (this.#subscription !== undefined && !this.#closed) {
          onRestored?.();
        }
      }
    });
  }

  #unwatchBus(): void {
    this.#stopWatchingBus?.();
    this.#stopWatchingBus = undefined;
  }

  get size(): number {
    return this.#members.size;
  }

  /** True once the bus subscription is active (messages are flowing to `onMessage`). */
  get live(): boolean {
    return this.#subscription !== undefined;
  }

  /** Adds a member; resolves once the channel has tried to become live (it keeps retrying on failure). */
  add(member: object): Promise<void> {
    this.#members.add(member);
    return this.#reconcile();
  }

  /** Removes a member; resolves once the channel has released the bus if it was the last one. */
  remove(member: object): Promise<void> {
    if (!this.#members.delete(member)) {
      return this.#work;
    }
    return this.#reconcile();
  }

  /** Drops every member and releases the bus (adapter shutdown). */
  close(): Promise<void> {
    this.#closed = true;
    this.#members.clear();
    clearTimeout(this.#retryTimer);
    return this.#reconcile();
  }

  #redeliverLatest(): void {
    if (this.#subscription === undefined || this.#closed) {
      return;
    }
    this.#options.bus.latestMany([this.topic]).then(
      ([latest]) => {
        if (latest !== undefined && this.#subscription !== undefined) {
          this.#options.onMessage(latest);
        }
      },
      (error: unknown) => {
        this.#options.onFailure(error);
      },
    );
  }

  #reconcile(): Promise<void> {
    this.#work = this.#work.then(() => this.#step());
    return this.#work;
  }

  async #step(): Promise<void> {
    const wanted = this.#members.size > 0 && !this.#closed;
    try {
      if (wanted) {
        // Subscribe before declaring interest: the first value a source publishes because of that interest
        // must find the subscription already in place.
        this.#subscription ??= await this.#options.bus.subscribe(this.topic, this.#options.onMessage, { withLatest: this.#options.withLatest ?? true });
        if (this.#options.declareInterest) {
          this.#lease ??= await this.#options.bus.declareInterest(this.topic);
        }
        this.#watchBus();
        this.#retryMs = firstRetryMs;
        return;
      }
      this.#unwatchBus();
      const lease = this.#lease;
      const subscription = this.#subscription;
      this.#lease = undefined;
      this.#subscription = undefined;
      await lease?.release();
      await subscription?.unsubscribe();
      if (this.#members.size === 0) {
        this.#options.onIdle?.();
      }
    } catch (error) {
      this.#options.onFailure(error);
      this.#scheduleRetry();
    }
  }

  #scheduleRetry(): void {
    if (this.#retryTimer !== undefined || this.#closed) {
      return;
    }
    const delay = this.#retryMs;
    this.#retryMs = Math.min(this.#retryMs * 2, maxRetryMs);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      void this.#reconcile();
    }, delay);
    this.#retryTimer.unref();
  }
}
