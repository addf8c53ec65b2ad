import { randomUUID } from 'node:crypto';
import { assertTopic, formatMessageId, isValidTopic, parseMessageId } from '@gw/bus';
import type {
  AppendOptions,
  Bus,
  BusState,
  Envelope,
  HistoryRead,
  InterestChange,
  InterestLease,
  MessageHandler,
  ReadSinceOptions,
  SubscribeOptions,
  Subscription,
} from '@gw/bus';
import {
  SubscriptionGroup,
  assertHistoryOptions,
  newSubscription,
  reportToLog,
  sincePublishedAtOf,
  sinceSeqFor,
  toHistoryRead,
} from '@gw/bus/internal';
import { GatewayError } from '@gw/core';
import { HubCore } from './hub.js';
import type { HubNode, TopicState } from './hub.js';

export interface MemoryHubOptions {
  /**
   * Topics whose sequence, latest value and history are kept (default 100 000). Past it the least recently
   * written topic is forgotten; its next write starts a new epoch, as after a Redis restart.
   */
  maxTopics?: number;
  /** Upper bound on any topic's history, whatever `maxLength` an append asks for (default 10 000). */
  maxHistoryLength?: number;
}

const cores = new WeakMap<MemoryHub, HubCore>();
const crash = Symbol('crash');

/**
 * The shared "backend" of in-process memory buses: nodes created on one hub see each other's messages,
 * latest values, history and interest, like processes sharing one Redis. Everything it stores is bounded
 * (see `MemoryHubOptions`).
 */
export class MemoryHub {
  constructor(options: MemoryHubOptions = {}) {
    cores.set(
      this,
      new HubCore({
        maxTopics: Math.max(1, options.maxTopics ?? 100_000),
        maxHistoryLength: Math.max(1, options.maxHistoryLength ?? 10_000),
      }),
    );
  }

  /**
   * For tests: stops `bus` as if its process died. Its timers stop and it receives nothing more, but its
   * interest is NOT released: other nodes see it expire after the node's `interestTtlMs`.
   */
  simulateCrash(bus: Bus): void {
    if (!(bus instanceof MemoryBus) || coreOf(this) !== bus.core) {
      throw new TypeError('simulateCrash: not a memory bus of this hub');
    }
    bus[crash]();
  }
}

function coreOf(hub: MemoryHub): HubCore {
  const core = cores.get(hub);
  if (core === undefined) {
    throw new TypeError('not a MemoryHub');
  }
  return core;
}

export interface MemoryBusOptions {
  /** Nodes sharing a hub form one cluster; without it the bus gets a hub of its own. */
  hub?: MemoryHub;
  nodeId?: string;
  /** How long this node's interest outlives it when it stops without `close()` (default 15 000 ms). */
  interestTtlMs?: number;
  /** Errors thrown by handlers and watchers (default: one log line each). */
  onError?: (error: unknown) => void;
}

/**
 * An in-process Bus: kind `memory`, `connected` from creation until `close()`. Delivery is synchronous and
 * in order: `publish` has delivered to every local handler when it resolves. Data is passed by reference
 * (never serialized), so publishers must not mutate published objects.
 */
export function createMemoryBus(options: MemoryBusOptions = {}): Bus {
  return new MemoryBus(options);
}

interface Watcher {
  prefix: string;
  onChange: (change: InterestChange) => void;
}

class MemoryBus implements Bus, HubNode {
  readonly kind = 'memory' as const;
  readonly nodeId: string;
  readonly core: HubCore;
  readonly #interestTtlMs: number;
  readonly #onError: (error: unknown) => void;
  readonly #exact = new Map<string, SubscriptionGroup>();
  readonly #prefixes = new Map<string, SubscriptionGroup>();
  /**
   * `#prefixes` as a list, rebuilt when a prefix group comes or goes: every message is matched against it, and
   * walking the Map's entries would allocate an entry per prefix per message.
   */
  #prefixList: readonly { prefix: string; group: SubscriptionGroup }[] = [];
  readonly #interest = new Map<string, number>();
  readonly #watchers = new Set<Watcher>();
  readonly #listeners = new Set<(state: BusState) => void>();
  readonly #timer: NodeJS.Timeout;
  #state: BusState = 'connected';
  #closed = false;

  constructor(options: MemoryBusOptions) {
    this.core = coreOf(options.hub ?? new MemoryHub());
    this.nodeId = options.nodeId ?? `memory-${randomUUID().slice(0, 8)}`;
    for (const node of this.core.nodes) {
      if (node.nodeId === this.nodeId) {
        throw new Error(`a node with id ${this.nodeId} is already on this hub`);
      }
    }
    this.#interestTtlMs = Math.max(1, options.interestTtlMs ?? 15_000);
    this.#onError = options.onError ?? reportToLog;
    // A third of the TTL: two refreshes may be missed before interest expires.
    this.#timer = setInterval(this.#tick, Math.max(5, Math.floor(this.#interestTtlMs / 3)));
    this.#timer.unref();
    this.core.nodes.add(this);
  }

  get state(): BusState {
    return this.#state;
  }

  // ---- PubSub
  // Methods are plain functions returning settled promises (no async state machine, no closure per call);
  // every failure is a rejection, never a synchronous throw.

  publish(topic: string, data: unknown): Promise<void> {
    try {
      this.#assertOpen();
      assertTopic(topic);
      this.core.dispatch({ topic, data, publishedAt: Date.now() });
      return Promise.resolve();
    } catch (error) {
      return rejected(error);
    }
  }

  subscribe<T>(pattern: string, handler: MessageHandler<T>, options?: SubscribeOptions): Promise<Subscription> {
    try {
      this.#assertOpen();
      const { kind, key, withLatest, local } = newSubscription(pattern, handler as unknown as MessageHandler, options, this.#onError);
      const map = kind === 'exact' ? this.#exact : this.#prefixes;
      let group = map.get(key);
      if (group === undefined) {
        group = new SubscriptionGroup();
        map.set(key, group);
        this.#prefixesChanged(map);
      }
      group.members.add(local);
      if (withLatest) {
        // Delivery is synchronous here, so nothing can race the read; the buffering protocol is kept
        // anyway so both buses share one code path.
        local.releaseAfter(this.core.topic(key)?.latest);
      }
      const joined = group;
      return Promise.resolve({
        unsubscribe: () => {
          local.close();
          joined.members.delete(local);
          if (joined.members.size === 0 && map.get(key) === joined) {
            map.delete(key);
            this.#prefixesChanged(map);
          }
          return Promise.resolve();
        },
      });
    } catch (error) {
      return rejected(error);
    }
  }

  /** Called by the hub for every message of the cluster. */
  dispatch(message: Envelope): void {
    this.#exact.get(message.topic)?.dispatch(message);
    const prefixes = this.#prefixList;
    for (let i = 0; i < prefixes.length; i += 1) {
      const entry = prefixes[i] as { prefix: string; group: SubscriptionGroup };
      if (message.topic.startsWith(entry.prefix)) {
        entry.group.dispatch(message);
      }
    }
  }

  #prefixesChanged(map: Map<string, SubscriptionGroup>): void {
    if (map === this.#prefixes) {
      this.#prefixList = [...map].map(([prefix, group]) => ({ prefix, group }));
    }
  }

  // ---- LatestValues

  publishLatest<T>(topic: string, data: T): Promise<Envelope<T>> {
    try {
      this.#assertOpen();
      assertTopic(topic);
      const state = this.core.writeTopic(topic);
      state.seq += 1;
      const envelope: Envelope<T> = { topic, data, publishedAt: Date.now(), id: formatMessageId(state.epoch, state.seq) };
      state.latest = envelope;
      this.core.dispatch(envelope);
      return Promise.resolve(envelope);
    } catch (error) {
      return rejected(error);
    }
  }

  latest<T>(topic: string): Promise<Envelope<T> | undefined> {
    try {
      this.#assertOpen();
      assertTopic(topic);
      return Promise.resolve(this.core.topic(topic)?.latest as Envelope<T> | undefined);
    } catch (error) {
      return rejected(error);
    }
  }

  latestMany<T>(topics: readonly string[]): Promise<(Envelope<T> | undefined)[]> {
    try {
      this.#assertOpen();
      return Promise.resolve(
        topics.map((topic) => {
          assertTopic(topic);
          return this.core.topic(topic)?.latest as Envelope<T> | undefined;
        }),
      );
    } catch (error) {
      return rejected(error);
    }
  }

  // ---- History

  append<T>(topic: string, data: T, options: AppendOptions): Promise<Envelope<T> & { id: string }> {
    try {
      this.#assertOpen();
      assertTopic(topic);
      assertHistoryOptions(options);
      const state = this.core.writeTopic(topic);
      const now = Date.now();
      state.seq += 1;
      const envelope = { topic, data, publishedAt: options.publishedAt ?? now, id: formatMessageId(state.epoch, state.seq) };
      state.history.push({ seq: state.seq, prev: state.historySeq, at: now, envelope });
      state.historySeq = state.seq;
      state.maxAgeMs = options.maxAgeMs;
      trimHistory(state, Math.min(options.maxLength, this.core.maxHistoryLength), now);
      this.core.dispatch(envelope);
      return Promise.resolve(envelope);
    } catch (error) {
      return rejected(error);
    }
  }

  readSince<T>(topic: string, since: string, options: ReadSinceOptions = {}): Promise<HistoryRead<T>> {
    try {
      this.#assertOpen();
      assertTopic(topic);
      // Reading creates the sequence, so the position it returns stays valid for the next read.
      const state = this.core.topic(topic) ?? this.core.writeTopic(topic);
      const parsed = parseMessageId(since);
      const walked = walkHistory<T>(state, sinceSeqFor(parsed, state.epoch, state.seq), sincePublishedAtOf(options), Date.now());
      return Promise.resolve(toHistoryRead(parsed, { epoch: state.epoch, seq: state.seq, historySeq: state.historySeq, ...walked }));
    } catch (error) {
      return rejected(error);
    }
  }

  position(topic: string): Promise<string | undefined> {
    try {
      this.#assertOpen();
      assertTopic(topic);
      const state = this.core.topic(topic);
      return Promise.resolve(
        state === undefined || state.historySeq === 0 ? undefined : formatMessageId(state.epoch, state.historySeq),
      );
    } catch (error) {
      return rejected(error);
    }
  }

  // ---- Interest

  declareInterest(topic: string): Promise<InterestLease> {
    try {
      this.#assertOpen();
      assertTopic(topic);
    } catch (error) {
      return rejected(error);
    }
    const count = (this.#interest.get(topic) ?? 0) + 1;
    this.#interest.set(topic, count);
    if (count === 1) {
      this.core.declare(this.nodeId, topic, Date.now() + this.#interestTtlMs);
    }
    let released = false;
    return Promise.resolve({
      release: () => {
        if (!released) {
          released = true;
          this.#releaseInterest(topic);
        }
        return Promise.resolve();
      },
    });
  }

  interestedTopics(prefix: string): Promise<string[]> {
    try {
      this.#assertOpen();
      return Promise.resolve(this.core.interestedTopics(prefix));
    } catch (error) {
      return rejected(error);
    }
  }

  watchInterest(prefix: string, onChange: (change: InterestChange) => void): Promise<Subscription> {
    try {
      this.#assertOpen();
      if (prefix !== '' && !isValidTopic(prefix)) {
        throw new GatewayError('bad_request', { message: `invalid topic prefix ${JSON.stringify(prefix)}` });
      }
    } catch (error) {
      return rejected(error);
    }
    const watcher: Watcher = { prefix, onChange };
    this.#watchers.add(watcher);
    return Promise.resolve({
      unsubscribe: () => {
        this.#watchers.delete(watcher);
        return Promise.resolve();
      },
    });
  }

  /** Called by the hub when a topic's cluster-wide interest appears or disappears. */
  notifyInterest(topic: string, interested: boolean): void {
    for (const watcher of this.#watchers) {
      if (topic.startsWith(watcher.prefix)) {
        try {
          watcher.onChange({ topic, interested });
        } catch (error) {
          this.#onError(error);
        }
      }
    }
  }

  // ---- Connection

  onStateChange(listener: (state: BusState) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  close(): Promise<void> {
    if (this.#closed) {
      return Promise.resolve();
    }
    this.#stop();
    this.core.removeNode(this.nodeId);
    this.#state = 'disconnected';
    for (const listener of this.#listeners) {
      try {
        listener('disconnected');
      } catch (error) {
        this.#onError(error);
      }
    }
    this.#listeners.clear();
    return Promise.resolve();
  }

  [crash](): void {
    this.#stop();
  }

  #stop(): void {
    this.#closed = true;
    clearInterval(this.#timer);
    this.core.nodes.delete(this);
    for (const map of [this.#exact, this.#prefixes]) {
      for (const group of map.values()) {
        for (const member of group.members) {
          member.close();
        }
      }
      map.clear();
    }
    this.#prefixList = [];
    this.#watchers.clear();
  }

  #releaseInterest(topic: string): void {
    if (this.#closed) {
      return;
    }
    const count = this.#interest.get(topic);
    if (count === undefined) {
      return;
    }
    if (count > 1) {
      this.#interest.set(topic, count - 1);
      return;
    }
    this.#interest.delete(topic);
    this.core.release(this.nodeId, topic);
  }

  readonly #tick = (): void => {
    const now = Date.now();
    if (this.#interest.size > 0) {
      this.core.refresh(this.nodeId, this.#interest.keys(), now + this.#interestTtlMs);
    }
    this.core.sweep(now);
  };

  #assertOpen(): void {
    if (this.#closed) {
      throw new GatewayError('bus_unavailable', { message: 'the bus is closed' });
    }
  }
}

function rejected<R>(error: unknown): Promise<R> {
  return Promise.reject(error instanceof Error ? error : new Error(String(error)));
}

/**
 * Retained history after `sinceSeq`, newest-first walk as in the Redis script: stops at `sinceSeq` (no gap)
 * or at the first expired entry (gap when it is after `sinceSeq`); past the oldest entry, its `prev` tells
 * whether anything after `sinceSeq` was trimmed. When the entry at `sinceSeq` has another `publishedAt` than
 * `sincePublishedAt`, the walk goes on to the oldest retained entry (`diverged`).
 */
function walkHistory<T>(
  state: TopicState,
  sinceSeq: number,
  sincePublishedAt: number | undefined,
  now: number,
): { gap: boolean; diverged: boolean; messages: Envelope<T>[] } {
  const cutoff = state.maxAgeMs < 0 ? -Infinity : now - state.maxAgeMs;
  const history = state.history;
  const messages: Envelope<T>[] = [];
  let oldestPrev = state.historySeq;
  let since = sinceSeq;
  let diverged = false;
  for (let i = history.length - 1; i >= 0; i -= 1) {
    const entry = history.at(i);
    if (entry === undefined) {
      break;
    }
    if (entry.at < cutoff) {
      return { gap: entry.seq > since, diverged, messages: messages.reverse() };
    }
    if (entry.seq === since && sincePublishedAt !== undefined && entry.envelope.publishedAt !== sincePublishedAt) {
      diverged = true;
      since = -1;
    }
    if (entry.seq <= since) {
      return { gap: false, diverged, messages: messages.reverse() };
    }
    messages.push(entry.envelope as Envelope<T>);
    oldestPrev = entry.prev;
  }
  return { gap: oldestPrev > since, diverged, messages: messages.reverse() };
}

/** Drops entries beyond `maxLength` and older than the topic's max age (the oldest are first). */
function trimHistory(state: TopicState, maxLength: number, now: number): void {
  const history = state.history;
  while (history.length > maxLength) {
    history.shift();
  }
  const cutoff = now - state.maxAgeMs;
  for (let oldest = history.at(0); oldest !== undefined && oldest.at < cutoff; oldest = history.at(0)) {
    history.shift();
  }
}
