import { asObject, numberAt, stringAt } from './wire.js';
import type { JsonObject } from './wire.js';

/** A signal frame of `/ws/signals` (the legacy signal service's fields plus `id`). */
export interface Signal {
  readonly type: 'buy' | 'sell';
  readonly symbol: string;
  readonly price: number | undefined;
  /** Unix seconds, as the signal carries it. */
  readonly timestamp: number | undefined;
  readonly isTest: boolean;
  /** The position in history (`"<epoch>:<seq>"`); test signals have none. */
  readonly id: string | undefined;
}

/** The signal in a frame, or `undefined` for any other frame (`recovery`, `error`, ...). */
export function signalOf(frame: JsonObject): Signal | undefined {
  const type = stringAt(frame, 'type');
  if (type !== 'buy' && type !== 'sell') {
    return undefined;
  }
  const content = asObject(frame['content']);
  return {
    type,
    symbol: stringAt(content, 'symbol') ?? '?',
    price: numberAt(content, 'price'),
    timestamp: numberAt(content, 'timestamp'),
    isTest: frame['is_test'] === true,
    id: stringAt(frame, 'id'),
  };
}

/**
 * The newest signals first, at most `maxEntries`. Remembers the id of the last signal from history, which is
 * the `?since=` of the next connection, so a reconnect replays what was missed instead of leaving a gap.
 */
export class SignalFeed {
  readonly #entries: Signal[] = [];
  readonly #maxEntries: number;
  #lastId: string | undefined;

  constructor(maxEntries = 100) {
    this.#maxEntries = maxEntries;
  }

  get lastId(): string | undefined {
    return this.#lastId;
  }

  /** Adds a signal; answers false (and keeps nothing) for one already shown. */
  add(signal: Signal): boolean {
    if (signal.id !== undefined && this.#entries.some((entry) => entry.id === signal.id)) {
      return false;
    }
    if (signal.id !== undefined) {
      this.#lastId = signal.id;
    }
    this.#entries.unshift(signal);
    this.#entries.length = Math.min(this.#entries.length, this.#maxEntries);
    return true;
  }

  entries(): readonly Signal[] {
    return this.#entries;
  }
}
