/** A live signal as the adapter received it from the bus, already serialized for the wire. */
export interface LiveSignal {
  epoch: string;
  seq: number;
  symbol: string;
  /** Its producer (the signal's `source`): what `?sources=` selects. */
  source: string;
  type: 'buy' | 'sell';
  /**
   * The envelope's `publishedAt`. With the id it tells this signal from another one given the same id after a
   * Redis failover lost it (see `ReadSinceOptions`).
   */
  publishedAt: number;
  frame: string;
}

/**
 * The last `capacity` live signals in arrival (= id) order. Recovery needs it for the signals that arrived
 * live while a client's history read was in flight: they are after the history's position but were already
 * published to the uWS topics before the client subscribed to them.
 */
export class RecentSignals {
  readonly #ring: (LiveSignal | undefined)[];
  #next = 0;
  #size = 0;

  constructor(capacity: number) {
    this.#ring = new Array<LiveSignal | undefined>(capacity).fill(undefined);
  }

  push(signal: LiveSignal): void {
    this.#ring[this.#next] = signal;
    this.#next = (this.#next + 1) % this.#ring.length;
    this.#size = Math.min(this.#size + 1, this.#ring.length);
  }

  last(): LiveSignal | undefined {
    return this.#size === 0 ? undefined : this.#ring[(this.#next - 1 + this.#ring.length) % this.#ring.length];
  }

  /**
   * The live signals of `epoch` after `seq`, oldest first; undefined when the ring no longer reaches back to
   * `seq + 1` (the caller must read history again instead of leaving a gap).
   */
  after(epoch: string, seq: number): LiveSignal[] | undefined {
    const out: LiveSignal[] = [];
    for (let i = 0; i < this.#size; i += 1) {
      const signal = this.#ring[(this.#next - 1 - i + 2 * this.#ring.length) % this.#ring.length];
      if (signal === undefined || signal.epoch !== epoch || signal.seq <= seq) {
        break;
      }
      out.push(signal);
    }
    out.reverse();
    const oldest = out[0];
    if (oldest !== undefined && oldest.seq !== seq + 1 && out.length === this.#size) {
      return undefined;
    }
    return out;
  }
}
