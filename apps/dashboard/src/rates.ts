/**
 * Turns the gateway's ever-growing counters (`messages_sent`, `messages_received`) into per-second rates, one
 * series per key. The first sample of a key, or a counter that went down (the gateway restarted), gives no rate
 * rather than a wrong one. Holds one sample per key.
 */
export class RateMeter {
  readonly #last = new Map<string, { value: number; atMs: number }>();

  /** Records `value` at `atMs` and returns the rate per second since the key's previous sample, if any. */
  sample(key: string, value: number, atMs: number): number | undefined {
    const previous = this.#last.get(key);
    this.#last.set(key, { value, atMs });
    if (previous === undefined || value < previous.value || atMs <= previous.atMs) {
      return undefined;
    }
    return ((value - previous.value) * 1_000) / (atMs - previous.atMs);
  }
}
