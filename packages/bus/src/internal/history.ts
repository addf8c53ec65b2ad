import { formatMessageId } from '../ids.js';
import type { MessageId } from '../ids.js';
import type { AppendOptions, Envelope, HistoryRead, ReadSinceOptions } from '../types.js';
import { GatewayError } from '@gw/core';

/** What a history store found for a `readSince`, before it is turned into the public `HistoryRead`. */
export interface StoredRead<T> {
  epoch: string;
  /** The topic's sequence (latest values included). */
  seq: number;
  /** The seq of the last message appended to history (0 when none). */
  historySeq: number;
  /** True when a history message after the requested seq is no longer stored (trimmed or expired). */
  gap: boolean;
  /** Retained messages after the requested seq (all retained ones when `sinceSeqFor` gave -1), oldest first. */
  messages: Envelope<T>[];
  /**
   * True when the retained message at the requested seq has another `publishedAt` than the caller's
   * `sincePublishedAt`: the store then read on to the oldest retained message, as for seq -1.
   */
  diverged: boolean;
}

/**
 * The seq after which a store should read: `since.seq`, or -1 ("everything retained") when `since` is
 * malformed, of another epoch, or beyond the topic's sequence. `epoch`/`seq` are the store's current values.
 */
export function sinceSeqFor(since: MessageId | undefined, epoch: string, seq: number): number {
  return since !== undefined && since.epoch === epoch && since.seq <= seq ? since.seq : -1;
}

/**
 * `options.sincePublishedAt` when it can be a publish time (a finite number), else undefined: every
 * implementation ignores the same values (JSON, on the loop socket, has no NaN or Infinity).
 */
export function sincePublishedAtOf(options: ReadSinceOptions): number | undefined {
  const { sincePublishedAt } = options;
  return sincePublishedAt !== undefined && Number.isFinite(sincePublishedAt) ? sincePublishedAt : undefined;
}

/** Turns a store's answer into the public `HistoryRead` (one rule set for every implementation). */
export function toHistoryRead<T>(since: MessageId | undefined, stored: StoredRead<T>): HistoryRead<T> {
  const { epoch, seq, historySeq, gap, messages, diverged } = stored;
  if (since === undefined || (since.epoch === epoch && since.seq > seq) || diverged) {
    return {
      recovered: false,
      reason: 'invalid_id',
      missedFrom: formatMessageId(epoch, 1),
      messages,
      position: formatMessageId(epoch, historySeq),
    };
  }
  if (since.epoch !== epoch) {
    return {
      recovered: false,
      reason: 'epoch_changed',
      missedFrom: formatMessageId(epoch, 1),
      messages,
      position: formatMessageId(epoch, historySeq),
    };
  }
  const position = formatMessageId(epoch, Math.max(historySeq, since.seq));
  if (gap) {
    return {
      recovered: false,
      reason: 'too_old',
      missedFrom: formatMessageId(epoch, since.seq + 1),
      messages,
      position,
    };
  }
  return { recovered: true, messages, position };
}

/**
 * Throws `bad_request` unless maxLength ≥ 1 and maxAgeMs ≥ 0 are whole numbers and `publishedAt`, when given,
 * is a finite number ≥ 0.
 */
export function assertHistoryOptions(options: AppendOptions): void {
  const { maxLength, maxAgeMs, publishedAt } = options;
  if (!Number.isSafeInteger(maxLength) || maxLength < 1 || !Number.isSafeInteger(maxAgeMs) || maxAgeMs < 0) {
    throw new GatewayError('bad_request', {
      message: `invalid history options (maxLength ${maxLength}, maxAgeMs ${maxAgeMs})`,
    });
  }
  // An envelope's time must survive JSON (Redis, the loop socket), which has no NaN or Infinity.
  if (publishedAt !== undefined && (!Number.isFinite(publishedAt) || publishedAt < 0)) {
    throw new GatewayError('bad_request', { message: `invalid publishedAt ${String(publishedAt)}: epoch milliseconds expected` });
  }
}
