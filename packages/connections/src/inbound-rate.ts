export type RateVerdict = 'ok' | 'limited' | 'abusive';

export interface InboundRateOptions {
  /** Refill: messages per second a connection may send on average. */
  messagesPerSecond: number;
  /** Bucket size: messages a connection may send at once (a watchlist subscribing to 200 targets). */
  messageBurst: number;
}

/**
 * The inbound message limit of one connection, shared by every protocol: a token bucket (`messageBurst`
 * messages at once, refilled at `messagesPerSecond`), so a client that opens a large watchlist in one go is
 * served in full while a steady flood is not. A message with no token left is `limited` (answered with an
 * error and dropped). Refused messages are remembered as a debt that is forgiven at half the refill rate;
 * when the debt exceeds the burst the client is `abusive` (closed): a flood is closed within about one burst
 * of refused messages, and a client that keeps sending at twice the rate within about `burst / rate * 2` s.
 * Four numbers per connection, no timers.
 */
export class InboundRateLimit {
  readonly #perMs: number;
  readonly #burst: number;
  #tokens: number;
  #debt = 0;
  #at: number;
  #lastAnswered = -Infinity;

  constructor(options: InboundRateOptions, now: number = Date.now()) {
    this.#perMs = options.messagesPerSecond / 1000;
    this.#burst = options.messageBurst;
    this.#tokens = options.messageBurst;
    this.#at = now;
  }

  take(now: number = Date.now()): RateVerdict {
    const elapsed = Math.max(0, now - this.#at);
    this.#at = now;
    this.#tokens = Math.min(this.#burst, this.#tokens + elapsed * this.#perMs);
    this.#debt = Math.max(0, this.#debt - (elapsed * this.#perMs) / 2);
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return 'ok';
    }
    this.#debt += 1;
    return this.#debt > this.#burst ? 'abusive' : 'limited';
  }

  /**
   * Whether a `limited` message should be answered: at most one error per second, so answering a flood never
   * multiplies it.
   */
  shouldAnswer(now: number = Date.now()): boolean {
    if (now - this.#lastAnswered < 1000) {
      return false;
    }
    this.#lastAnswered = now;
    return true;
  }
}
