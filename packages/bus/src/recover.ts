import { formatMessageId, parseMessageId } from './ids.js';
import type { MessageId } from './ids.js';
import { reportToLog } from './internal/report.js';
import type { Envelope, History, HistoryRead, MessageHandler, PubSub, Subscription } from './types.js';

export interface RecoverOptions {
  /**
   * Live messages held back while history is read (default 10 000). Past the bound the held messages are
   * dropped and history is read again from the last delivered id instead (they are in history, because
   * `append` stores before it publishes); see `maxReads`.
   */
  maxBuffered?: number;
  /**
   * History reads before giving up on catching up with a topic that outruns the reader (default 5). When
   * it gives up, the outcome is `{recovered: false, reason: 'overflow'}` and delivery continues live.
   */
  maxReads?: number;
  /** Where errors thrown by `handler` during replay go (live ones go to the bus's own error reporting). */
  onError?: (error: unknown) => void;
}

type ReadFailure = Extract<HistoryRead, { recovered: false }>['reason'];

export type RecoveryOutcome =
  | {
      /** Every message after `since` was delivered (or none was needed): no gap. */
      recovered: true;
      /** How many messages came from history. */
      replayed: number;
    }
  | {
      /** Some messages after `since` could not be delivered; everything still available was. */
      recovered: false;
      reason: ReadFailure | 'overflow';
      /** The first id that may be missing (see `HistoryRead`). */
      missedFrom: string;
      replayed: number;
    };

export interface FollowedSubscription {
  subscription: Subscription;
  recovery: RecoveryOutcome;
}

const DEFAULT_MAX_BUFFERED = 10_000;
const DEFAULT_MAX_READS = 5;

/**
 * Gap-free "resume after `since`, then follow live" for one exact topic whose messages are written with
 * `History.append`.
 *
 * The subscription is made first (live messages are held back), then history after `since` is read and
 * delivered, then the held messages whose id is after the last delivered position, then live delivery
 * continues. Because `append` stores and publishes atomically, every message appended after the
 * subscription became active is either in the read or arrives live; ids remove the overlap. Guarantees
 * while the bus stays connected: each message is delivered at most once, in id order, and without a gap
 * unless the outcome says `recovered: false` (with `missedFrom`). Messages without an id (plain `publish`)
 * are delivered as they come.
 *
 * With `since` undefined this is `bus.subscribe(topic, handler)` and the outcome `{recovered: true,
 * replayed: 0}`. If reading history fails, the subscription is removed and the error rethrown.
 */
export async function recoverThenFollow<T>(
  bus: Pick<PubSub, 'subscribe'> & Pick<History, 'readSince'>,
  topic: string,
  since: string | undefined,
  handler: MessageHandler<T>,
  options: RecoverOptions = {},
): Promise<FollowedSubscription> {
  if (since === undefined) {
    return { subscription: await bus.subscribe(topic, handler), recovery: { recovered: true, replayed: 0 } };
  }
  const follower = new Follower<T>(
    handler,
    options.maxBuffered ?? DEFAULT_MAX_BUFFERED,
    options.onError ?? reportToLog,
  );
  const subscription = await bus.subscribe<T>(topic, follower.onLive);
  try {
    const recovery = await follower.recover(bus, topic, since, options.maxReads ?? DEFAULT_MAX_READS);
    return { subscription, recovery };
  } catch (error) {
    follower.close();
    await subscription.unsubscribe();
    throw error;
  }
}

class Follower<T> {
  readonly #handler: MessageHandler<T>;
  readonly #maxBuffered: number;
  readonly #onError: (error: unknown) => void;
  #buffer: Envelope<T>[] | undefined = [];
  #overflowed = false;
  /** While set, live messages of this epoch up to this seq were already delivered (or reported lost). */
  #cursor: MessageId | undefined;
  #closed = false;

  constructor(handler: MessageHandler<T>, maxBuffered: number, onError: (error: unknown) => void) {
    this.#handler = handler;
    this.#maxBuffered = Math.max(1, maxBuffered);
    this.#onError = onError;
  }

  /** The live handler: bound once, so the hot path allocates nothing. */
  readonly onLive = (message: Envelope<T>): void => {
    if (this.#closed) {
      return;
    }
    const buffer = this.#buffer;
    if (buffer !== undefined) {
      if (buffer.length >= this.#maxBuffered) {
        buffer.length = 0;
        this.#overflowed = true;
      }
      buffer.push(message);
      return;
    }
    if (this.#cursor !== undefined && message.id !== undefined && this.#isStale(message.id)) {
      return;
    }
    // Errors thrown here are caught and reported by the bus like any handler's.
    this.#handler(message);
  };

  async recover(
    bus: Pick<History, 'readSince'>,
    topic: string,
    since: string,
    maxReads: number,
  ): Promise<RecoveryOutcome> {
    let read = await bus.readSince<T>(topic, since);
    let replayed = this.#replay(read);
    let failure: { reason: ReadFailure | 'overflow'; missedFrom: string } | undefined = read.recovered
      ? undefined
      : { reason: read.reason, missedFrom: read.missedFrom };
    let reads = 1;
    while (this.#overflowed && !this.#closed) {
      this.#overflowed = false;
      const cursor = this.#cursor;
      if (reads >= Math.max(1, maxReads) || cursor === undefined) {
        failure ??= {
          reason: 'overflow',
          missedFrom: cursor === undefined ? since : formatMessageId(cursor.epoch, cursor.seq + 1),
        };
        break;
      }
      read = await bus.readSince<T>(topic, formatMessageId(cursor.epoch, cursor.seq));
      reads += 1;
      replayed += this.#replay(read);
      if (!read.recovered) {
        failure ??= { reason: read.reason, missedFrom: read.missedFrom };
      }
    }
    const buffered = this.#buffer ?? [];
    this.#buffer = undefined;
    for (const message of buffered) {
      if (this.#closed) {
        break;
      }
      if (this.#cursor !== undefined && message.id !== undefined && this.#isStale(message.id)) {
        continue;
      }
      this.#call(message);
    }
    return failure === undefined ? { recovered: true, replayed } : { recovered: false, ...failure, replayed };
  }

  close(): void {
    this.#closed = true;
    this.#buffer = undefined;
  }

  /** Delivers a read's messages and moves the cursor to its position. Returns how many were delivered. */
  #replay(read: HistoryRead<T>): number {
    let delivered = 0;
    for (const message of read.messages) {
      if (this.#closed) {
        break;
      }
      this.#call(message);
      delivered += 1;
    }
    this.#cursor = parseMessageId(read.position);
    return delivered;
  }

  #isStale(id: string): boolean {
    const cursor = this.#cursor;
    const parsed = parseMessageId(id);
    if (cursor === undefined || parsed === undefined || parsed.epoch !== cursor.epoch || parsed.seq > cursor.seq) {
      // Live messages of a topic arrive in id order: once one is newer, no later one needs checking.
      this.#cursor = undefined;
      return false;
    }
    return true;
  }

  #call(message: Envelope<T>): void {
    try {
      this.#handler(message);
    } catch (error) {
      this.#onError(error);
    }
  }
}
