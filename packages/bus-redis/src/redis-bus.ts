import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { assertTopic, createEpoch, isValidTopic, parseMessageId, parseTopicPattern } from '@gw/bus';
import type {
  Bus,
  BusState,
  Envelope,
  HistoryOptions,
  HistoryRead,
  InterestChange,
  InterestLease,
  MessageHandler,
  SubscribeOptions,
  Subscription,
} from '@gw/bus';
import { LocalSubscription, SubscriptionGroup, assertHistoryOptions, reportToLog, toHistoryRead } from '@gw/bus/internal';
import { GatewayError } from '@gw/core';
import type { Redis } from 'ioredis';
import {
  ALL_SCRIPTS,
  APPEND,
  DECLARE_INTEREST,
  LEAVE_INTEREST,
  PUBLISH_LATEST,
  READ_SINCE,
  REFRESH_INTEREST,
  RELEASE_INTEREST,
  SWEEP_INTEREST,
  SYNC_INTEREST,
} from './scripts.js';
import type { LuaScript } from './scripts.js';

export interface RedisBusOptions {
  /** Commands, scripts and PUBLISH. Should fail fast when down (see `createRedisClients`). */
  pub: Redis;
  /** Dedicated to SUBSCRIBE/PSUBSCRIBE: the bus owns its subscriptions and message events. */
  sub: Redis;
  /** Prefix of every key and channel (`gw:`); several clusters can share one Redis with different prefixes. */
  prefix: string;
  /** Identifies this process in interest bookkeeping (default: `<hostname>-<pid>-<random>`). Unique per process. */
  nodeId?: string;
  /** How long this node's interest outlives it when it dies without `close()` (default 15 000 ms). */
  interestTtlMs?: number;
  /**
   * Errors thrown by handlers and watchers, failed background work, and the first connection error of each
   * outage (default: one log line each).
   */
  onError?: (error: unknown) => void;
  /** Whether `close()` also closes `pub` and `sub` (default true: the bus owns the clients it was given). */
  closeClients?: boolean;
  /** Upper bound on any topic's history, whatever `maxLength` an append asks for (default 10 000). */
  maxHistoryLength?: number;
  /**
   * Topics whose latest value describes a running process (its presence), by prefix (default
   * {@link PRESENCE_TOPIC_PREFIXES}): their latest value and sequence expire `presenceTtlMs` after the last
   * publish, so a process that stopped leaves nothing behind. Other latest values are kept.
   */
  presenceTopicPrefixes?: readonly string[];
  /** How long a presence value outlives its last publish (default 60 000 ms): publish it more often than that. */
  presenceTtlMs?: number;
}

/**
 * The cluster's own topics: `cluster.node.<id>` carries each process's summary. Their latest values are presence,
 * not data, and expire.
 */
export const PRESENCE_TOPIC_PREFIXES: readonly string[] = ['cluster.'];

/**
 * A Bus on one Redis server (or primary; not Redis Cluster: interest scripts compute their keys).
 *
 * Keys and channels, under `prefix` P:
 * - channel `P<topic>`: live messages, one PUBLISH of the JSON envelope each;
 * - `P~interest`: interest notices (`1<topic>` / `0<topic>`); topics never start with `~`;
 * - `Pseq:<topic>` hash {epoch, seq, hseq, age}: the topic's sequence; `Platest:<topic>`: latest envelope;
 *   `Phist:<topic>`: bounded list of history entries (trimmed by length on append, by age on append and
 *   read, and expiring as a whole `maxAgeMs` after the last append);
 * - `Pinterest:*`: see `scripts.ts`; every key of a process's interest expires when it stops renewing it.
 *
 * Sequences and latest values have no TTL (one small hash and one string per topic ever written): losing
 * them is what an epoch change means. `readSince` creates a topic's sequence if it has none. The exception is
 * presence (topics under `presenceTopicPrefixes`): its latest value and sequence expire `presenceTtlMs` after
 * the last publish.
 *
 * One Redis SUBSCRIBE per exact topic and one PSUBSCRIBE per prefix pattern, whatever the number of local
 * handlers; each message is parsed once per process. `state` is `connected` when both clients are ready,
 * the scripts are loaded and the subscriptions are restored; publishes and new subscriptions fail with
 * `bus_unavailable` otherwise. Interest declared or released while disconnected is synchronised on reconnect.
 */
export function createRedisBus(options: RedisBusOptions): Bus {
  return new RedisBus(options);
}

interface Watcher {
  prefix: string;
  onChange: (change: InterestChange) => void;
}

// Replies that mean "the server cannot serve now" rather than "this command is wrong".
const UNAVAILABLE_REPLY = /^(?:LOADING|READONLY|BUSY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|NOREPLICAS)\b/;

function toBusError(error: unknown): GatewayError {
  if (error instanceof GatewayError) {
    return error;
  }
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof Error && error.name === 'ReplyError' && !UNAVAILABLE_REPLY.test(message)) {
    return new GatewayError('internal', { message: `redis: ${message}`, cause: error });
  }
  return new GatewayError('bus_unavailable', { message: `redis unavailable: ${message}`, cause: error });
}

function isUnavailable(error: unknown): boolean {
  return toBusError(error).code === 'bus_unavailable';
}

function rethrowAsBusError(error: unknown): never {
  throw toBusError(error);
}

/** For results nobody needs (PUBLISH's receiver count) and failures handled elsewhere. */
function ignore(): void {
  // Intentionally empty.
}

/** Serializes `data` once; the envelope is finished by the script (id) or by `publish`. */
function serializeData(data: unknown): string {
  // unknown, not string: undefined (and functions) serialize to nothing at all, whatever the lib typing says.
  let json: unknown;
  try {
    json = JSON.stringify(data);
  } catch (error) {
    throw new GatewayError('bad_request', { message: 'message data is not JSON-serializable', cause: error });
  }
  return typeof json === 'string' ? json : 'null';
}

/** The envelope JSON up to the opening quote of the id: `{"topic":..,"publishedAt":..,"data":..,"id":"`. */
function envelopeHead(topic: string, publishedAt: number, data: unknown): string {
  return `{"topic":${JSON.stringify(topic)},"publishedAt":${publishedAt},"data":${serializeData(data)},"id":"`;
}

function escapeGlob(text: string): string {
  return text.replace(/[\\*?[\]]/g, '\\$&');
}

async function closeClient(client: Redis): Promise<void> {
  if (client.status === 'end') {
    return;
  }
  try {
    await client.quit();
  } catch {
    client.disconnect();
  }
}

class RedisBus implements Bus {
  readonly kind = 'redis' as const;
  readonly nodeId: string;
  readonly #pub: Redis;
  readonly #sub: Redis;
  readonly #prefix: string;
  readonly #noticeChannel: string;
  readonly #interestTtlMs: number;
  readonly #onError: (error: unknown) => void;
  readonly #closeClients: boolean;
  readonly #maxHistoryLength: number;
  readonly #presenceTopicPrefixes: readonly string[];
  readonly #presenceTtlMs: number;

  /** Redis channel → local handlers of that exact topic. */
  readonly #channels = new Map<string, SubscriptionGroup>();
  /** Redis pattern → local handlers of that prefix. */
  readonly #patterns = new Map<string, SubscriptionGroup>();
  readonly #watchers = new Set<Watcher>();
  #noticeReady: Promise<unknown> | undefined;
  readonly #interest = new Map<string, number>();
  readonly #pendingDeclares = new Map<string, Promise<void>>();
  #needsSync = false;
  readonly #listeners = new Set<(state: BusState) => void>();

  #state: BusState = 'disconnected';
  #closed = false;
  #ended = false;
  #scriptsLoaded = false;
  #subRestored = false;
  #pubGeneration = 0;
  #subGeneration = 0;
  #connectionErrorReported = false;
  /** Offered to the scripts as the epoch of a topic whose sequence does not exist; replaced once used. */
  #epochCandidate = createEpoch();
  readonly #timer: NodeJS.Timeout;
  #ticking = false;
  #tickAgain = false;
  /** The last raw message and its parse: an exact and a pattern subscription receive the same frame twice. */
  #lastRaw: string | undefined;
  #lastParsed: Envelope | undefined;

  constructor(options: RedisBusOptions) {
    this.#pub = options.pub;
    this.#sub = options.sub;
    this.#prefix = options.prefix;
    this.#noticeChannel = `${options.prefix}~interest`;
    this.nodeId = options.nodeId ?? `${hostname()}-${process.pid}-${randomUUID().slice(0, 6)}`;
    this.#interestTtlMs = Math.max(1, options.interestTtlMs ?? 15_000);
    this.#onError = options.onError ?? reportToLog;
    this.#closeClients = options.closeClients ?? true;
    this.#maxHistoryLength = Math.max(1, options.maxHistoryLength ?? 10_000);
    this.#presenceTopicPrefixes = options.presenceTopicPrefixes ?? PRESENCE_TOPIC_PREFIXES;
    this.#presenceTtlMs = Math.max(1, options.presenceTtlMs ?? 60_000);

    this.#pub.on('ready', this.#onPubReady);
    this.#pub.on('close', this.#onPubDown);
    this.#pub.on('end', this.#onEnd);
    this.#pub.on('error', this.#onClientError);
    this.#sub.on('ready', this.#onSubReady);
    this.#sub.on('close', this.#onSubDown);
    this.#sub.on('end', this.#onEnd);
    this.#sub.on('error', this.#onClientError);
    this.#sub.on('message', this.#onMessage);
    this.#sub.on('pmessage', this.#onPmessage);

    // A third of the TTL: two refreshes may be missed before the interest expires.
    this.#timer = setInterval(this.#onTimer, Math.max(5, Math.floor(this.#interestTtlMs / 3)));
    this.#timer.unref();

    if (this.#pub.status === 'ready') {
      this.#onPubReady();
    }
    if (this.#sub.status === 'ready') {
      this.#onSubReady();
    }
  }

  get state(): BusState {
    return this.#state;
  }

  // ---- PubSub

  publish(topic: string, data: unknown): Promise<void> {
    let payload: string;
    try {
      this.#assertConnected();
      assertTopic(topic);
      payload = `{"topic":${JSON.stringify(topic)},"publishedAt":${Date.now()},"data":${serializeData(data)}}`;
    } catch (error) {
      return Promise.reject(toBusError(error));
    }
    // Pre-bound callbacks: no closure per message.
    return this.#pub.publish(this.#prefix + topic, payload).then(ignore, rethrowAsBusError);
  }

  async subscribe<T>(pattern: string, handler: MessageHandler<T>, options?: SubscribeOptions): Promise<Subscription> {
    this.#assertConnected();
    const parsed = parseTopicPattern(pattern);
    const withLatest = options?.withLatest === true;
    if (withLatest && parsed.kind !== 'exact') {
      throw new GatewayError('bad_request', { message: `withLatest needs an exact topic, got ${pattern}` });
    }
    const exact = parsed.kind === 'exact';
    const map = exact ? this.#channels : this.#patterns;
    const key = exact ? this.#prefix + parsed.topic : `${escapeGlob(this.#prefix + parsed.prefix)}*`;
    const local = new LocalSubscription(handler as unknown as MessageHandler, this.#onError);
    if (withLatest) {
      local.startBuffering();
    }
    let group = map.get(key);
    if (group === undefined) {
      group = new SubscriptionGroup();
      map.set(key, group);
      group.ready = exact ? this.#sub.subscribe(key) : this.#sub.psubscribe(key);
      // Every joiner awaits it; this only keeps a failure after they all left from being unhandled.
      group.ready.catch(ignore);
    }
    group.members.add(local);
    const joined = group;
    try {
      await this.#whileConnected(joined.ready);
      if (parsed.kind === 'exact' && withLatest) {
        local.releaseAfter(await this.latest(parsed.topic));
      }
    } catch (error) {
      this.#leave(exact, key, joined, local);
      throw toBusError(error);
    }
    return {
      unsubscribe: () => {
        this.#leave(exact, key, joined, local);
        return Promise.resolve();
      },
    };
  }

  #leave(exact: boolean, key: string, group: SubscriptionGroup, local: LocalSubscription): void {
    local.close();
    if (!group.members.delete(local) || group.members.size > 0) {
      return;
    }
    const map = exact ? this.#channels : this.#patterns;
    if (map.get(key) !== group) {
      return;
    }
    map.delete(key);
    if (!this.#closed) {
      // Queued by the subscriber client while it is offline; applied in order after it reconnects.
      (exact ? this.#sub.unsubscribe(key) : this.#sub.punsubscribe(key)).catch(this.#reportUnlessUnavailable);
    }
  }

  readonly #onMessage = (channel: string, raw: string): void => {
    const group = this.#channels.get(channel);
    if (group === undefined) {
      if (channel === this.#noticeChannel) {
        this.#onNotice(raw);
      }
      return;
    }
    const message = this.#parse(raw);
    if (message !== undefined) {
      group.dispatch(message);
    }
  };

  readonly #onPmessage = (pattern: string, channel: string, raw: string): void => {
    const group = this.#patterns.get(pattern);
    if (group === undefined || channel === this.#noticeChannel) {
      return;
    }
    const message = this.#parse(raw);
    if (message !== undefined) {
      group.dispatch(message);
    }
  };

  #parse(raw: string): Envelope | undefined {
    if (raw === this.#lastRaw) {
      return this.#lastParsed;
    }
    try {
      const parsed = JSON.parse(raw) as Envelope;
      this.#lastRaw = raw;
      this.#lastParsed = parsed;
      return parsed;
    } catch (error) {
      this.#onError(new GatewayError('internal', { message: 'malformed message on a bus channel', cause: error }));
      return undefined;
    }
  }

  // ---- LatestValues

  async publishLatest<T>(topic: string, data: T): Promise<Envelope<T>> {
    this.#assertConnected();
    assertTopic(topic);
    const publishedAt = Date.now();
    const id = await this.#evalId(PUBLISH_LATEST, [`${this.#prefix}seq:${topic}`, `${this.#prefix}latest:${topic}`], [
      this.#prefix + topic,
      this.#epochCandidate,
      envelopeHead(topic, publishedAt, data),
      this.#presenceTopicPrefixes.some((prefix) => topic.startsWith(prefix)) ? this.#presenceTtlMs : 0,
    ]);
    return { topic, data, publishedAt, id };
  }

  async latest<T>(topic: string): Promise<Envelope<T> | undefined> {
    this.#assertConnected();
    assertTopic(topic);
    const raw = await this.#pub.get(`${this.#prefix}latest:${topic}`).catch(rethrowAsBusError);
    return raw === null ? undefined : parseStored<T>(raw);
  }

  async latestMany<T>(topics: readonly string[]): Promise<(Envelope<T> | undefined)[]> {
    this.#assertConnected();
    if (topics.length === 0) {
      return [];
    }
    const keys = topics.map((topic) => {
      assertTopic(topic);
      return `${this.#prefix}latest:${topic}`;
    });
    const raws = await this.#pub.mget(keys).catch(rethrowAsBusError);
    return raws.map((raw) => (raw === null ? undefined : parseStored<T>(raw)));
  }

  // ---- History

  async append<T>(topic: string, data: T, options: HistoryOptions): Promise<Envelope<T> & { id: string }> {
    this.#assertConnected();
    assertTopic(topic);
    assertHistoryOptions(options);
    const publishedAt = Date.now();
    const id = await this.#evalId(APPEND, [`${this.#prefix}seq:${topic}`, `${this.#prefix}hist:${topic}`], [
      this.#prefix + topic,
      this.#epochCandidate,
      envelopeHead(topic, publishedAt, data),
      Math.min(options.maxLength, this.#maxHistoryLength),
      options.maxAgeMs,
    ]);
    return { topic, data, publishedAt, id };
  }

  async readSince<T>(topic: string, since: string): Promise<HistoryRead<T>> {
    this.#assertConnected();
    assertTopic(topic);
    const parsed = parseMessageId(since);
    const candidate = this.#epochCandidate;
    const reply = await this.#eval(READ_SINCE, [`${this.#prefix}seq:${topic}`, `${this.#prefix}hist:${topic}`], [
      candidate,
      parsed?.epoch ?? '',
      parsed?.seq ?? -1,
    ]);
    if (!Array.isArray(reply) || reply.length !== 5) {
      throw new GatewayError('internal', { message: 'redis: unexpected reply to the history read' });
    }
    const [epoch, seq, historySeq, gap, raws] = reply as [string, string, string, number, string[]];
    if (epoch === candidate) {
      this.#epochCandidate = createEpoch();
    }
    return toHistoryRead(parsed, {
      epoch,
      seq: Number(seq),
      historySeq: Number(historySeq),
      gap: gap === 1,
      messages: raws.map((raw) => parseStored<T>(raw)),
    });
  }

  async position(topic: string): Promise<string | undefined> {
    this.#assertConnected();
    assertTopic(topic);
    const [epoch, historySeq] = await this.#pub
      .hmget(`${this.#prefix}seq:${topic}`, 'epoch', 'hseq')
      .catch(rethrowAsBusError);
    return epoch === null || epoch === undefined || historySeq === null || historySeq === undefined || historySeq === '0'
      ? undefined
      : `${epoch}:${historySeq}`;
  }

  // ---- Interest

  async declareInterest(topic: string): Promise<InterestLease> {
    this.#assertOpen();
    assertTopic(topic);
    const count = (this.#interest.get(topic) ?? 0) + 1;
    this.#interest.set(topic, count);
    if (count === 1) {
      const declared = this.#declareRemote(topic);
      this.#pendingDeclares.set(topic, declared);
      await declared;
      if (this.#pendingDeclares.get(topic) === declared) {
        this.#pendingDeclares.delete(topic);
      }
    } else {
      // A second declaration resolves once the first one is visible to the cluster, like the first.
      await this.#pendingDeclares.get(topic);
    }
    let released = false;
    return {
      release: async () => {
        if (released) {
          return;
        }
        released = true;
        await this.#releaseInterest(topic);
      },
    };
  }

  /** Never rejects: while disconnected (or on failure) the next sync registers the topic. */
  async #declareRemote(topic: string): Promise<void> {
    if (this.#state !== 'connected') {
      this.#needsSync = true;
      return;
    }
    try {
      await this.#eval(DECLARE_INTEREST, [], [this.#prefix, this.nodeId, this.#interestTtlMs, topic]);
    } catch (error) {
      this.#needsSync = true;
      this.#reportUnlessUnavailable(error);
    }
  }

  async #releaseInterest(topic: string): Promise<void> {
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
    if (this.#state !== 'connected') {
      this.#needsSync = true;
      return;
    }
    try {
      await this.#eval(RELEASE_INTEREST, [], [this.#prefix, this.nodeId, topic]);
    } catch (error) {
      this.#needsSync = true;
      this.#reportUnlessUnavailable(error);
    }
  }

  async interestedTopics(prefix: string): Promise<string[]> {
    this.#assertConnected();
    const key = `${this.#prefix}interest:topics`;
    // 0xFF never occurs in UTF-8, so "[prefix" .. "[prefix\xFF" is exactly the topics starting with prefix.
    const topics =
      prefix === ''
        ? this.#pub.zrangebylex(key, '-', '+')
        : this.#pub.zrangebylex(key, `[${prefix}`, Buffer.concat([Buffer.from(`[${prefix}`), Buffer.from([0xff])]));
    return topics.catch(rethrowAsBusError);
  }

  async watchInterest(prefix: string, onChange: (change: InterestChange) => void): Promise<Subscription> {
    this.#assertConnected();
    if (prefix !== '' && !isValidTopic(prefix)) {
      throw new GatewayError('bad_request', { message: `invalid topic prefix ${JSON.stringify(prefix)}` });
    }
    const watcher: Watcher = { prefix, onChange };
    this.#watchers.add(watcher);
    if (this.#noticeReady === undefined) {
      const ready = this.#sub.subscribe(this.#noticeChannel);
      this.#noticeReady = ready;
      ready.catch(() => {
        if (this.#noticeReady === ready) {
          this.#noticeReady = undefined;
        }
      });
    }
    try {
      await this.#whileConnected(this.#noticeReady);
    } catch (error) {
      this.#removeWatcher(watcher);
      throw toBusError(error);
    }
    return {
      unsubscribe: () => {
        this.#removeWatcher(watcher);
        return Promise.resolve();
      },
    };
  }

  #removeWatcher(watcher: Watcher): void {
    if (!this.#watchers.delete(watcher) || this.#watchers.size > 0 || this.#noticeReady === undefined) {
      return;
    }
    this.#noticeReady = undefined;
    if (!this.#closed) {
      this.#sub.unsubscribe(this.#noticeChannel).catch(this.#reportUnlessUnavailable);
    }
  }

  #onNotice(raw: string): void {
    const change: InterestChange = { topic: raw.slice(1), interested: raw.startsWith('1') };
    for (const watcher of this.#watchers) {
      if (change.topic.startsWith(watcher.prefix)) {
        try {
          watcher.onChange(change);
        } catch (error) {
          this.#onError(error);
        }
      }
    }
  }

  readonly #onTimer = (): void => {
    void this.#tick();
  };

  /** Keeps this node's interest alive (or re-synchronises it) and expires the interest of dead nodes. */
  async #tick(): Promise<void> {
    if (this.#ticking) {
      this.#tickAgain = true;
      return;
    }
    if (this.#closed || this.#state !== 'connected') {
      return;
    }
    this.#ticking = true;
    try {
      if (this.#needsSync) {
        this.#needsSync = false;
        await this.#syncInterest();
      } else if (this.#interest.size > 0) {
        const known = await this.#eval(REFRESH_INTEREST, [], [this.#prefix, this.nodeId, this.#interestTtlMs]);
        if (known === 0) {
          await this.#syncInterest();
        }
      }
      await this.#eval(SWEEP_INTEREST, [], [this.#prefix]);
    } catch (error) {
      this.#needsSync = true;
      this.#reportUnlessUnavailable(error);
    } finally {
      this.#ticking = false;
    }
    if (this.#tickAgain) {
      this.#tickAgain = false;
      await this.#tick();
    }
  }

  async #syncInterest(): Promise<void> {
    await this.#eval(SYNC_INTEREST, [], [this.#prefix, this.nodeId, this.#interestTtlMs, ...this.#interest.keys()]);
  }

  // ---- Connection

  onStateChange(listener: (state: BusState) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  async close(): Promise<void> {
    if (this.#closed) {
      return;
    }
    const wasConnected = this.#state === 'connected';
    this.#closed = true;
    clearInterval(this.#timer);
    const channels = [...this.#channels.keys()];
    const patterns = [...this.#patterns.keys()];
    if (this.#noticeReady !== undefined) {
      channels.push(this.#noticeChannel);
    }
    for (const map of [this.#channels, this.#patterns]) {
      for (const group of map.values()) {
        for (const member of group.members) {
          member.close();
        }
      }
      map.clear();
    }
    this.#watchers.clear();
    this.#noticeReady = undefined;
    if (wasConnected) {
      try {
        await this.#eval(LEAVE_INTEREST, [], [this.#prefix, this.nodeId]);
      } catch (error) {
        this.#reportUnlessUnavailable(error);
      }
    }
    this.#interest.clear();
    this.#detach();
    if (this.#closeClients) {
      await Promise.all([closeClient(this.#pub), closeClient(this.#sub)]);
    } else if (this.#sub.status === 'ready') {
      await Promise.all([
        channels.length > 0 ? this.#sub.unsubscribe(...channels) : undefined,
        patterns.length > 0 ? this.#sub.punsubscribe(...patterns) : undefined,
      ]).catch(this.#reportUnlessUnavailable);
    }
    this.#updateState();
    this.#listeners.clear();
  }

  #detach(): void {
    this.#pub.off('ready', this.#onPubReady);
    this.#pub.off('close', this.#onPubDown);
    this.#pub.off('end', this.#onEnd);
    this.#pub.off('error', this.#onClientError);
    this.#sub.off('ready', this.#onSubReady);
    this.#sub.off('close', this.#onSubDown);
    this.#sub.off('end', this.#onEnd);
    this.#sub.off('error', this.#onClientError);
    this.#sub.off('message', this.#onMessage);
    this.#sub.off('pmessage', this.#onPmessage);
  }

  readonly #onPubReady = (): void => {
    const generation = ++this.#pubGeneration;
    // Loaded before the bus reports `connected`: an EVALSHA failing with NOSCRIPT is retried as EVAL after
    // the commands sent meanwhile, which would reorder a publisher's messages.
    Promise.all(ALL_SCRIPTS.map((script) => this.#pub.script('LOAD', script.source))).then(
      () => {
        if (generation === this.#pubGeneration && this.#pub.status === 'ready') {
          this.#scriptsLoaded = true;
          this.#updateState();
        }
      },
      this.#reportUnlessUnavailable,
    );
  };

  readonly #onSubReady = (): void => {
    const generation = ++this.#subGeneration;
    // Re-issued here even if the client resubscribes by itself: the bus reports `connected` only once every
    // local subscription is active again (SUBSCRIBE of an active channel is a no-op).
    const channels = [...this.#channels.keys()];
    if (this.#watchers.size > 0) {
      channels.push(this.#noticeChannel);
    }
    const patterns = [...this.#patterns.keys()];
    Promise.all([
      channels.length > 0 ? this.#sub.subscribe(...channels) : undefined,
      patterns.length > 0 ? this.#sub.psubscribe(...patterns) : undefined,
    ]).then(
      () => {
        if (generation === this.#subGeneration && this.#sub.status === 'ready') {
          this.#subRestored = true;
          this.#updateState();
        }
      },
      this.#reportUnlessUnavailable,
    );
  };

  readonly #onPubDown = (): void => {
    this.#scriptsLoaded = false;
    this.#updateState();
  };

  readonly #onSubDown = (): void => {
    this.#subRestored = false;
    this.#updateState();
  };

  readonly #onEnd = (): void => {
    // The client gave up for good (closed by someone, or a crash in tests): nothing left to refresh.
    this.#ended = true;
    clearInterval(this.#timer);
    this.#onPubDown();
    this.#onSubDown();
  };

  readonly #onClientError = (error: unknown): void => {
    // ioredis reports every failed reconnect attempt; one report per outage is enough.
    if (!this.#connectionErrorReported) {
      this.#connectionErrorReported = true;
      this.#onError(error);
    }
  };

  #updateState(): void {
    const next: BusState =
      !this.#closed &&
      !this.#ended &&
      this.#scriptsLoaded &&
      this.#subRestored &&
      this.#pub.status === 'ready' &&
      this.#sub.status === 'ready'
        ? 'connected'
        : 'disconnected';
    if (next === this.#state) {
      return;
    }
    this.#state = next;
    if (next === 'connected') {
      this.#connectionErrorReported = false;
      // The server may have restarted empty; a candidate it saw before must not become an epoch again.
      this.#epochCandidate = createEpoch();
      if (this.#needsSync) {
        void this.#tick();
      }
    } else {
      // The server may come back without our interest (restart) or we may miss releases: re-sync then.
      this.#needsSync = true;
    }
    for (const listener of this.#listeners) {
      try {
        listener(next);
      } catch (error) {
        this.#onError(error);
      }
    }
  }

  #whileConnected<R>(promise: Promise<R>): Promise<R> {
    if (this.#state !== 'connected') {
      return Promise.reject(this.#unavailable());
    }
    return new Promise<R>((resolve, reject) => {
      const stop = this.onStateChange((state) => {
        if (state === 'disconnected') {
          stop();
          reject(this.#unavailable());
        }
      });
      promise.then(
        (value) => {
          stop();
          resolve(value);
        },
        (error: unknown) => {
          stop();
          reject(toBusError(error));
        },
      );
    });
  }

  async #eval(script: LuaScript, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    try {
      return await this.#pub.evalsha(script.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error && error.message.startsWith('NOSCRIPT'))) {
        throw toBusError(error);
      }
    }
    try {
      return await this.#pub.eval(script.source, keys.length, ...keys, ...args);
    } catch (error) {
      throw toBusError(error);
    }
  }

  /** Runs a script that returns a new id; retires the epoch candidate once a topic adopted it. */
  async #evalId(script: LuaScript, keys: readonly string[], args: readonly (string | number)[]): Promise<string> {
    const candidate = this.#epochCandidate;
    const id = await this.#eval(script, keys, args);
    if (typeof id !== 'string') {
      throw new GatewayError('internal', { message: 'redis: a script returned no id' });
    }
    if (id.startsWith(`${candidate}:`) && this.#epochCandidate === candidate) {
      this.#epochCandidate = createEpoch();
    }
    return id;
  }

  #assertOpen(): void {
    if (this.#closed) {
      throw new GatewayError('bus_unavailable', { message: 'the bus is closed' });
    }
  }

  #assertConnected(): void {
    this.#assertOpen();
    if (this.#state !== 'connected') {
      throw this.#unavailable();
    }
  }

  #unavailable(): GatewayError {
    return new GatewayError('bus_unavailable', {
      message: this.#closed ? 'the bus is closed' : 'redis is not connected',
    });
  }

  readonly #reportUnlessUnavailable = (error: unknown): void => {
    if (!isUnavailable(error)) {
      this.#onError(error);
    }
  };
}

function parseStored<T>(raw: string): Envelope<T> {
  try {
    return JSON.parse(raw) as Envelope<T>;
  } catch (error) {
    throw new GatewayError('internal', { message: 'redis: malformed stored envelope', cause: error });
  }
}
