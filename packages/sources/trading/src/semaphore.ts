/**
 * At most `limit` tasks at once; the others wait in FIFO order. The wait queue is bounded by its callers (each
 * account queues at most one task at a time), so it never grows with time.
 */
export class Semaphore {
  readonly #limit: number;
  #active = 0;
  readonly #waiting: (() => void)[] = [];
  // Made once: a task that gets a slot at once costs one promise (its own, followed once), not an async
  // function's promises and microtasks (every poll of every account runs through here).
  readonly #done = (value: unknown): unknown => {
    this.#release();
    return value;
  };
  readonly #failed = (error: unknown): never => {
    this.#release();
    throw error;
  };

  constructor(limit: number) {
    this.#limit = Math.max(1, limit);
  }

  run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#limit === Number.POSITIVE_INFINITY) {
      // Nothing to count or wait for (the paper exchange's limiter): the task's own promise, no follower.
      return this.#call(task);
    }
    if (this.#active < this.#limit) {
      this.#active += 1;
      return this.#start(task);
    }
    return new Promise<void>((resolve) => this.#waiting.push(resolve)).then(() => this.#start(task));
  }

  /** Runs `task` in a slot already taken; the slot is released when it settles (or throws). */
  #start<T>(task: () => Promise<T>): Promise<T> {
    let result: Promise<T>;
    try {
      result = task();
    } catch (error) {
      this.#release();
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    return result.then(this.#done, this.#failed) as Promise<T>;
  }

  /** Calls `task`; a synchronous throw becomes a rejection. */
  #call<T>(task: () => Promise<T>): Promise<T> {
    try {
      return task();
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  #release(): void {
    const next = this.#waiting.shift();
    if (next === undefined) {
      this.#active -= 1;
    } else {
      // The slot passes straight to the next waiter.
      next();
    }
  }
}
