/**
 * Fan-outs timed to the moment uWS wrote them. `app.publish` only queues a message in uWS's topic tree: uWS
 * writes it to every subscriber's socket when it drains the tree, after the JavaScript that published returns
 * and before Node runs the turn's `setImmediate` callbacks (`written.test.ts` checks both). A latency taken
 * right after `app.publish` would leave out the writes themselves: for thousands of subscribers, tens of
 * milliseconds of system calls. One `setImmediate` per turn serves every fan-out of that turn.
 */
export class AfterPublishWrites {
  readonly #observe: (elapsedMs: number) => void;
  #pending: number[] = [];
  #spare: number[] = [];
  #scheduled = false;

  /** `observe` gets, per fan-out, the milliseconds from its start (never negative) to its writes. */
  constructor(observe: (elapsedMs: number) => void) {
    this.#observe = observe;
  }

  /** A fan-out published this turn, started at `startedAt` (ms since the epoch, as `Date.now()`). */
  add(startedAt: number): void {
    this.#pending.push(startedAt);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#written);
    }
  }

  readonly #written = (): void => {
    this.#scheduled = false;
    const startedAts = this.#pending;
    this.#pending = this.#spare;
    const now = Date.now();
    for (const startedAt of startedAts) {
      this.#observe(Math.max(0, now - startedAt));
    }
    startedAts.length = 0;
    this.#spare = startedAts;
  };
}
