/** A listener; returned functions from `on*` methods remove it. */
export type Listener<T> = (value: T) => void;

/**
 * Typed listener sets, one per event name. A listener that throws does not stop the others nor the client's
 * own bookkeeping: its error is rethrown on a fresh task (as an uncaught error, like a failing DOM event
 * listener), never swallowed.
 */
export class Emitter<Events extends object> {
  readonly #listeners = new Map<keyof Events, Set<Listener<never>>>();

  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    let set = this.#listeners.get(event);
    if (set === undefined) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
    };
  }

  emit<K extends keyof Events>(event: K, value: Events[K]): void {
    const set = this.#listeners.get(event);
    if (set === undefined) {
      return;
    }
    for (const listener of [...set] as Listener<Events[K]>[]) {
      try {
        listener(value);
      } catch (error) {
        setTimeout(() => {
          throw error;
        }, 0);
      }
    }
  }

  clear(): void {
    this.#listeners.clear();
  }
}
