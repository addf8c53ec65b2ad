/** Something the wheel calls back at (or shortly after) the time it was scheduled for. */
export interface WheelEntry {
  /** Slot it waits in (-1: none). Owned by the wheel. */
  wheelSlot: number;
  /** Called with the slot's time (ms, a multiple of the slot length), the time the entry is due at the latest. */
  fire(slotTime: number): void;
}

/**
 * One timer for every scheduled poll of the source, instead of one Node timer per account and type: entries
 * are kept in slots of `slotMs`, due times rounded up to a slot, and each slot's entries are called together.
 *
 * Why: thousands of accounts polled every second made thousands of timers (each a timer list entry, a
 * callback and a microtask checkpoint). With slots, the types of one account that are due together run in
 * the same callback, so their changes are published in the same event-loop turn, and uWS writes one user's
 * pushes of that turn with one send (its pub/sub drains per subscriber once per turn).
 *
 * Cancelling is lazy: an entry moved to another slot stays listed in the old one, where it is skipped
 * (`wheelSlot` no longer names that slot). A slot's list lives until the slot is due.
 */
export class PollWheel {
  readonly slotMs: number;
  readonly #slots = new Map<number, WheelEntry[]>();
  #timer: NodeJS.Timeout | undefined;
  /** The slot the timer is armed for (Infinity: not armed). */
  #armedSlot = Infinity;
  readonly #tick = (): void => {
    this.#timer = undefined;
    this.#armedSlot = Infinity;
    this.#fireDue();
    this.#arm();
  };

  constructor(slotMs: number) {
    this.slotMs = Math.max(1, Math.floor(slotMs));
  }

  /** Entries waiting (stale copies of moved entries included): for tests and stats. */
  get size(): number {
    let size = 0;
    for (const entries of this.#slots.values()) {
      size += entries.length;
    }
    return size;
  }

  /** Calls `entry.fire` in the first slot at or after `at` (ms since the epoch); replaces an earlier schedule. */
  schedule(entry: WheelEntry, at: number): void {
    const slot = Math.ceil(at / this.slotMs);
    if (entry.wheelSlot === slot) {
      return;
    }
    entry.wheelSlot = slot;
    const entries = this.#slots.get(slot);
    if (entries === undefined) {
      this.#slots.set(slot, [entry]);
    } else {
      entries.push(entry);
    }
    if (slot < this.#armedSlot) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#armedSlot = Infinity;
      this.#arm();
    }
  }

  cancel(entry: WheelEntry): void {
    entry.wheelSlot = -1;
  }

  /** Stops the timer and forgets every entry. */
  clear(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedSlot = Infinity;
    for (const entries of this.#slots.values()) {
      for (const entry of entries) {
        entry.wheelSlot = -1;
      }
    }
    this.#slots.clear();
  }

  #fireDue(): void {
    const now = Date.now();
    const current = Math.floor(now / this.slotMs);
    // Slots are few (intervals / slot length): sorting the due ones keeps the order of due times.
    const due: number[] = [];
    for (const slot of this.#slots.keys()) {
      if (slot <= current) {
        due.push(slot);
      }
    }
    if (due.length > 1) {
      due.sort((a, b) => a - b);
    }
    for (const slot of due) {
      const entries = this.#slots.get(slot);
      this.#slots.delete(slot);
      if (entries === undefined) {
        continue;
      }
      const slotTime = slot * this.slotMs;
      for (const entry of entries) {
        if (entry.wheelSlot === slot) {
          entry.wheelSlot = -1;
          entry.fire(slotTime);
        }
      }
    }
  }

  #arm(): void {
    if (this.#timer !== undefined || this.#slots.size === 0) {
      return;
    }
    let next = Infinity;
    for (const slot of this.#slots.keys()) {
      if (slot < next) {
        next = slot;
      }
    }
    this.#armedSlot = next;
    this.#timer = setTimeout(this.#tick, Math.max(0, next * this.slotMs - Date.now()));
    this.#timer.unref();
  }
}
