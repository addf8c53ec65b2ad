/** One sample of several series at one moment; a series without a value at that moment is absent. */
export interface Sample {
  readonly atMs: number;
  readonly values: ReadonlyMap<string, number>;
}

/**
 * The last `windowMs` of samples, for the charts: the page's own periodic samples, kept in memory only.
 * Bounded by time and by count, whatever the poll interval.
 */
export class SampleHistory {
  readonly #samples: Sample[] = [];
  readonly windowMs: number;
  readonly #maxSamples: number;

  constructor(windowMs: number, maxSamples: number) {
    this.windowMs = windowMs;
    this.#maxSamples = maxSamples;
  }

  add(sample: Sample): void {
    this.#samples.push(sample);
    const oldest = sample.atMs - this.windowMs;
    while (this.#samples.length > this.#maxSamples || (this.#samples[0]?.atMs ?? oldest) < oldest) {
      this.#samples.shift();
    }
  }

  get samples(): readonly Sample[] {
    return this.#samples;
  }
}
