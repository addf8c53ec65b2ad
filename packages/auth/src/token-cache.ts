import { createHash } from 'node:crypto';

export interface TokenCacheOptions {
  /** Most entries kept; the least recently used one is dropped to make room. 0 keeps nothing. */
  maxEntries: number;
  /** Milliseconds since the epoch; Date.now unless a test or a caller wants one clock for everything. */
  now?: () => number;
}

interface Entry<T> {
  value: T;
  /** Milliseconds since the epoch from which the entry is gone. */
  expiresAt: number;
}

/**
 * Remembers a value per token for a bounded time, in a bounded LRU.
 *
 * Guarantees:
 * - the raw token is never kept: entries are keyed by its SHA-256 digest, so a heap dump or a debugger shows
 *   no credential, and the memory per entry does not depend on the token's length;
 * - `get` never returns an entry at or after its `expiresAt`;
 * - at most `maxEntries` entries are held (the least recently read or written one goes first); with 0 nothing
 *   is stored and `get` always misses.
 *
 * Not a security boundary by itself: the caller decides what may be cached and for how long.
 */
export class TokenCache<T> {
  readonly #maxEntries: number;
  readonly #now: () => number;
  // A Map iterates in insertion order: deleting and re-inserting on every hit keeps the least recently used
  // entry first, which is all an LRU needs.
  readonly #entries = new Map<string, Entry<T>>();

  constructor(options: TokenCacheOptions) {
    this.#maxEntries = Math.max(0, Math.floor(options.maxEntries));
    this.#now = options.now ?? Date.now;
  }

  /** Entries held now (expired ones not yet read or evicted included). */
  get size(): number {
    return this.#entries.size;
  }

  get enabled(): boolean {
    return this.#maxEntries > 0;
  }

  /** The value cached for `token`, or undefined when there is none or it has expired. */
  get(token: string): T | undefined {
    if (!this.enabled) {
      return undefined;
    }
    const key = keyOf(token);
    const entry = this.#entries.get(key);
    if (entry === undefined) {
      return undefined;
    }
    this.#entries.delete(key);
    if (this.#now() >= entry.expiresAt) {
      return undefined;
    }
    this.#entries.set(key, entry);
    return entry.value;
  }

  /** Keeps `value` for `token` until `expiresAt` (ms since the epoch); a time already past stores nothing. */
  set(token: string, value: T, expiresAt: number): void {
    if (!this.enabled || !(expiresAt > this.#now())) {
      return;
    }
    const key = keyOf(token);
    this.#entries.delete(key);
    this.#entries.set(key, { value, expiresAt });
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done === true) {
        break;
      }
      this.#entries.delete(oldest.value);
    }
  }

  /** Forgets every entry. */
  clear(): void {
    this.#entries.clear();
  }
}

function keyOf(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('base64');
}
