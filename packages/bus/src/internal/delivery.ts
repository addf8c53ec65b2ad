import { GatewayError } from '@gw/core';
import { parseMessageId } from '../ids.js';
import type { MessageId } from '../ids.js';
import { parseTopicPattern } from '../topics.js';
import type { Envelope, MessageHandler, SubscribeOptions } from '../types.js';

/** Live messages kept while a `withLatest` subscription waits for the stored value; the newest are kept. */
export const WITH_LATEST_BUFFER_LIMIT = 1024;

/**
 * One local handler of a subscription. Holds the per-subscription delivery state so the hot path is a
 * couple of field checks and one call: no closure or allocation per message.
 *
 * `withLatest` protocol: `startBuffering()` before the subscription becomes active, then
 * `releaseAfter(latest)` once the stored latest value is known. `releaseAfter` delivers the latest value
 * first, then the buffered live messages that are newer than it, and keeps dropping live messages whose id
 * is not newer than the last delivered one until the first newer id passes (a live message can arrive after
 * the read that already returned it, because reads and live messages travel on different connections).
 */
export class LocalSubscription {
  readonly #handler: MessageHandler;
  readonly #onError: (error: unknown) => void;
  #buffer: Envelope[] | undefined;
  #cursor: MessageId | undefined;
  #closed = false;

  constructor(handler: MessageHandler, onError: (error: unknown) => void) {
    this.#handler = handler;
    this.#onError = onError;
  }

  get closed(): boolean {
    return this.#closed;
  }

  deliver(message: Envelope): void {
    if (this.#closed) {
      return;
    }
    if (this.#buffer !== undefined) {
      if (this.#buffer.length >= WITH_LATEST_BUFFER_LIMIT) {
        // Only reachable when the latest-value read stalls under a flood; the newest messages matter most
        // for a latest-value topic, so the oldest buffered one goes.
        this.#buffer.shift();
      }
      this.#buffer.push(message);
      return;
    }
    if (this.#cursor !== undefined && message.id !== undefined && this.#isStale(message.id)) {
      return;
    }
    this.#call(message);
  }

  startBuffering(): void {
    this.#buffer = [];
  }

  /** Ends buffering: `latest` first (when defined), then buffered messages newer than it. */
  releaseAfter(latest: Envelope | undefined): void {
    const buffered = this.#buffer ?? [];
    this.#buffer = undefined;
    if (this.#closed) {
      return;
    }
    if (latest !== undefined) {
      this.#call(latest);
      this.#cursor = latest.id === undefined ? undefined : parseMessageId(latest.id);
    }
    for (const message of buffered) {
      if (this.#isClosed()) {
        return;
      }
      if (this.#cursor !== undefined && message.id !== undefined && this.#isStale(message.id)) {
        continue;
      }
      this.#call(message);
    }
  }

  close(): void {
    this.#closed = true;
    this.#buffer = undefined;
  }

  /** A method, not the field: a handler may unsubscribe while buffered messages are being delivered. */
  #isClosed(): boolean {
    return this.#closed;
  }

  #isStale(id: string): boolean {
    const cursor = this.#cursor;
    const parsed = parseMessageId(id);
    if (cursor === undefined || parsed === undefined || parsed.epoch !== cursor.epoch || parsed.seq > cursor.seq) {
      // Messages of a topic arrive in id order, so after the first newer (or unrelated) id no check is needed.
      this.#cursor = undefined;
      return false;
    }
    return true;
  }

  #call(message: Envelope): void {
    try {
      this.#handler(message);
    } catch (error) {
      this.#onError(error);
    }
  }
}

/** The local handlers of one remote subscription (a channel or a prefix pattern). */
export class SubscriptionGroup {
  readonly members = new Set<LocalSubscription>();
  /** Resolves when the remote side (e.g. Redis SUBSCRIBE) is active. */
  ready: Promise<unknown> = Promise.resolve();

  dispatch(message: Envelope): void {
    for (const member of this.members) {
      member.deliver(message);
    }
  }
}

/** A subscribe call checked and placed: its group's kind and key, and its local handler. */
export interface NewSubscription {
  /** `exact`: `key` is the topic; `prefix`: `key` is the prefix every matching topic starts with. */
  kind: 'exact' | 'prefix';
  key: string;
  withLatest: boolean;
  /** Buffering already when `withLatest` (see `LocalSubscription`): `releaseAfter(latest)` once it is read. */
  local: LocalSubscription;
}

/**
 * The part of `subscribe` every bus shares: the pattern parsed (an invalid one throws), `withLatest` only on an
 * exact topic (`bad_request` otherwise), and the local subscription created, buffering when it waits for the
 * latest value.
 */
export function newSubscription(
  pattern: string,
  handler: MessageHandler,
  options: SubscribeOptions | undefined,
  onError: (error: unknown) => void,
): NewSubscription {
  const parsed = parseTopicPattern(pattern);
  const withLatest = options?.withLatest === true;
  if (withLatest && parsed.kind !== 'exact') {
    throw new GatewayError('bad_request', { message: `withLatest needs an exact topic, got ${pattern}` });
  }
  const local = new LocalSubscription(handler, onError);
  if (withLatest) {
    local.startBuffering();
  }
  return parsed.kind === 'exact'
    ? { kind: 'exact', key: parsed.topic, withLatest, local }
    : { kind: 'prefix', key: parsed.prefix, withLatest, local };
}
