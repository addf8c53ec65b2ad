export type RateVerdict = 'ok' | 'limited' | 'abusive';

/**
 * Per-connection inbound message limit, shared by every protocol: a one-second window counter (two numbers
 * per connection, no timers). Over the limit a message is `limited` (answer with an error, drop it); a
 * client that stays over it for `abusiveWindows` consecutive seconds, or sends `burstFactor` times the limit
 * in one second, is `abusive` (close it).
 */
export class MessageRateLimiter {
  readonly #limit: number;
  readonly #abusiveWindows: number;
  readonly #burstLimit: number;
  #windowStart = 0;
  #count = 0;
  #overWindows = 0;

  constructor(limitPerSecond: number, options: { abusiveWindows?: number; burstFactor?: number } = {}) {
    this.#limit = limitPerSecond;
    this.#abusiveWindows = options.abusiveWindows ?? 3;
    this.#burstLimit = limitPerSecond * (options.burstFactor ?? 10);
  }

  hit(now: number = Date.now()): RateVerdict {
    if (now - this.#windowStart >= 1_000) {
      if (this.#count <= this.#limit) {
        this.#overWindows = 0;
      }
      this.#windowStart = now;
      this.#count = 0;
    }
    this.#count += 1;
    if (this.#count <= this.#limit) {
      return 'ok';
    }
    if (this.#count === this.#limit + 1) {
      this.#overWindows += 1;
    }
    return this.#overWindows >= this.#abusiveWindows || this.#count > this.#burstLimit ? 'abusive' : 'limited';
  }
}
