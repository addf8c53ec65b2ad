/**
 * At most `limit` tasks at once; the others wait in FIFO order. The wait queue is bounded by its callers (each
 * account queues at most one task at a time), so it never grows with time.
 */
export class Semaphore {
  readonly #limit: number;
  #active = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(limit: number) {
    this.#limit = Math.max(1, limit);
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#active >= this.#limit) {
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else {
      this.#active += 1;
    }
    try {
      return await task();
    } finally {
      const next = this.#waiting.shift();
      if (next === undefined) {
        this.#active -= 1;
      } else {
        // The slot passes straight to the next waiter.
        next();
      }
    }
  }
}
