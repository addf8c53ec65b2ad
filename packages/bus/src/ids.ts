import { randomBytes } from 'node:crypto';

/**
 * History and latest-value ids: `"<epoch>:<seq>"`. `epoch` is a short random string chosen when a topic's
 * sequence is created (so it changes when the stored state is lost), `seq` an integer growing by one per
 * message of the topic. Ids of one epoch are totally ordered by `seq`; ids of different epochs are not
 * comparable at all.
 */
export interface MessageId {
  readonly epoch: string;
  readonly seq: number;
}

// The epoch alphabet excludes ':' so the last ':' always separates the two parts.
const EPOCH_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;
const SEQ_PATTERN = /^(?:0|[1-9][0-9]{0,15})$/;

/** A fresh random epoch: 8 URL-safe characters (48 random bits). */
export function createEpoch(): string {
  return randomBytes(6).toString('base64url');
}

/** `"<epoch>:<seq>"`. The caller guarantees a valid epoch and a non-negative safe integer `seq`. */
export function formatMessageId(epoch: string, seq: number): string {
  return `${epoch}:${seq}`;
}

/**
 * Parses an id from the outside world (a client's `?since=`). Returns undefined for anything malformed,
 * never throws: epoch 1–32 characters of `[A-Za-z0-9_-]`, seq a non-negative safe integer without sign,
 * leading zeros or exponent.
 */
export function parseMessageId(id: string): MessageId | undefined {
  const colon = id.lastIndexOf(':');
  if (colon <= 0 || colon > 32) {
    return undefined;
  }
  const epoch = id.slice(0, colon);
  const digits = id.slice(colon + 1);
  if (!EPOCH_PATTERN.test(epoch) || !SEQ_PATTERN.test(digits)) {
    return undefined;
  }
  const seq = Number(digits);
  return Number.isSafeInteger(seq) ? { epoch, seq } : undefined;
}

function toMessageId(id: string | MessageId): MessageId {
  if (typeof id !== 'string') {
    return id;
  }
  const parsed = parseMessageId(id);
  if (parsed === undefined) {
    throw new RangeError(`malformed message id: ${JSON.stringify(id)}`);
  }
  return parsed;
}

/**
 * Negative, zero or positive as `a` is before, equal to or after `b`, by `seq` only. Only meaningful
 * within one epoch: check `a.epoch === b.epoch` first (ids of different epochs are unrelated). Throws a
 * RangeError for a malformed id string.
 */
export function compareMessageIds(a: string | MessageId, b: string | MessageId): number {
  return toMessageId(a).seq - toMessageId(b).seq;
}
