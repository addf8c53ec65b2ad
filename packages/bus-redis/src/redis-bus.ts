import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { assertTopic, createEpoch, isValidTopic, parseMessageId, parseTopicPattern } from '@gw/bus';
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
import { LocalSubscription, SubscriptionGroup, assertHistoryOptions, reportToLog, sincePublishedAtOf, toHistoryRead } from '@gw/bus/internal';
import { GatewayError } from '@gw/core';
import type { Cluster, Redis } from 'ioredis';
import { refreshSlots, slotFingerprint, verifyCluster } from './cluster-health.js';
import { clusterKeyspace, familyChannel, familyChannelsFor, singleNodeKeyspace } from './keyspace.js';
import type { Keyspace } from './keyspace.js';
import { OrderedCopies } from './ordered-copies.js';
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
  /**
   * Commands, scripts and PUBLISH. Should fail fast when down (see `createRedisClients`). An ioredis `Cluster`
   * (see `createRedisClusterClients`) makes this a bus on a Redis Cluster; `pub` and `sub` must then both be.
   */
  pub: Redis | Cluster;
  /** Dedicated to SUBSCRIBE/PSUBSCRIBE (SSUBSCRIBE on a cluster): the bus owns its subscriptions and message events. */
  sub: Redis | Cluster;
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
 * A Bus on one Redis server (or primary), or on a Redis Cluster when given cluster clients.
 *
 * Keys and channels on one server, under `prefix` P (a cluster uses the same with hash tags: see `keyspace.ts`):
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
 *
 * On a Redis Cluster, live messages use sharded pub/sub (SPUBLISH/SSUBSCRIBE: each message goes only to the
 * shard of its topic) and prefix subscriptions listen on family channels (`keyspace.ts`). The bus is
 * `connected` while every slot has a master that answers and every subscription was re-issued after the last
 * topology change: a master lost makes it `disconnected` until a replica took over (or the master returned),
 * then it re-subscribes, re-synchronises its interest and reports `connected` again.
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

/** A cluster subscription that never gets its reply (ioredis drops an SSUBSCRIBE answered with MOVED) fails after this. */
const CLUSTER_SUBSCRIBE_TIMEOUT_MS = 5_000;
/** Pause between two health checks of a cluster that is not (yet) whole. */
const CLUSTER_RECHECK_MS = 200;

function within<R>(promise: Promise<R>, ms: number, what: string): Promise<R> {
  return new Promise<R>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new GatewayError('bus_unavailable', { message: `redis: no answer to ${what} within ${ms} ms` }));
    }, ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
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

async function closeClient(client: Redis | Cluster): Promise<void> {
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
  // Typed as Redis for the commands both clients share (ioredis gives Cluster the same command methods);
  // what only a cluster has goes through #pubCluster / #subCluster.
  readonly #pub: Redis;
  readonly #sub: Redis;
  readonly #pubCluster: Cluster | undefined;
  readonly #subCluster: Cluster | undefined;
  readonly #keys: Keyspace;
  /** Cluster mode: the family channel copies, in publish order. */
  readonly #copies: OrderedCopies;
  /** Cluster mode: family channel → how many prefix subscriptions listen on it, and its SSUBSCRIBE. */
  readonly #families = new Map<string, { count: number; ready: Promise<unknown> }>();
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
  /** Redis pattern (cluster mode: the topic prefix) → local handlers of that prefix. */
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
  /** Cluster mode: bumped by every sign of trouble; a health check counts only if nothing happened meanwhile. */
  #clusterGeneration = 0;
  #clusterChecking = false;
  #clusterCheckAgain = false;
  /** Cluster mode: the slot map of the last successful check; another one means subscriptions may have moved. */
  #clusterFingerprint = '';
  /**
   * Cluster mode: the subscriber side had trouble, so subscriptions are re-issued by the next check. Only then
   * (or when the slot map changed): ioredis keeps every SSUBSCRIBE it was given in its list of channels to
   * restore, duplicates included, so re-issuing on every check would grow that list.
   */
  #resubscribeNeeded = true;
  #clusterTimer: NodeJS.Timeout | undefined;

  constructor(options: RedisBusOptions) {
    const pubIsCluster = isCluster(options.pub);
    if (pubIsCluster !== isCluster(options.sub)) {
      throw new GatewayError('bad_request', { message: 'pub and sub must both be Redis Cluster clients, or neither' });
    }
    this.#pub = options.pub as Redis;
    this.#sub = options.sub as Redis;
    this.#pubCluster = pubIsCluster ? (options.pub as Cluster) : undefined;
    this.#subCluster = pubIsCluster ? (options.sub as Cluster) : undefined;
    this.#keys = pubIsCluster ? clusterKeyspace(options.prefix) : singleNodeKeyspace(options.prefix);
    this.#copies = new OrderedCopies((channel, message) => {
      this.#pub.spublish(channel, message).then(ignore, this.#reportUnlessUnavailable);
    });
    this.#prefix = options.prefix;
    this.#noticeChannel = this.#keys.noticeChannel;
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
    this.#sub.on('smessage', this.#onMessage);
    this.#pubCluster?.on('-node', this.#onClusterTrouble);
    this.#subCluster?.on('-node', this.#onSubscriberTrouble);
    // The sharded subscribers report a node they cannot reach as an error of the cluster client.
    this.#subCluster?.on('error', this.#onSubscriberTrouble);
    for (const client of [this.#pubCluster, this.#subCluster]) {
      client?.on('refresh', this.#onClusterRefresh);
    }

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
    if (this.#keys.cluster) {
      this.#copies.reserve(familyChannel(this.#prefix, topic))(payload);
      return this.#pub.spublish(this.#keys.channel(topic), payload).then(ignore, rethrowAsBusError);
    }
    // Pre-bound callbacks: no closure per message.
    return this.#pub.publish(this.#keys.channel(topic), payload).then(ignore, rethrowAsBusError);
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
    const key = exact
      ? this.#keys.channel(parsed.topic)
      : this.#keys.cluster
        ? parsed.prefix
        : `${escapeGlob(this.#prefix + parsed.prefix)}*`;
    const local = new LocalSubscription(handler as unknown as MessageHandler, this.#onError);
    if (withLatest) {
      local.startBuffering();
    }
    let group = map.get(key);
    if (group === undefined) {
      group = new SubscriptionGroup();
      map.set(key, group);
      group.ready = exact ? this.#subscribeChannels([key]) : this.#subscribePattern(key);
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
      (exact ? this.#unsubscribeChannels([key]) : this.#unsubscribePattern(key)).catch(this.#reportUnlessUnavailable);
    }
  }

  /** SUBSCRIBE, or on a cluster one SSUBSCRIBE per channel (channels of different slots go to different nodes). */
  #subscribeChannels(channels: readonly string[]): Promise<unknown> {
    if (channels.length === 0) {
      return Promise.resolve();
    }
    if (!this.#keys.cluster) {
      return this.#sub.subscribe(...channels);
    }
    return Promise.all(
      channels.map((channel) => within(this.#sub.ssubscribe(channel), CLUSTER_SUBSCRIBE_TIMEOUT_MS, `SSUBSCRIBE ${channel}`)),
    );
  }

  #unsubscribeChannels(channels: readonly string[]): Promise<unknown> {
    if (channels.length === 0) {
      return Promise.resolve();
    }
    if (!this.#keys.cluster) {
      return this.#sub.unsubscribe(...channels);
    }
    return Promise.all(channels.map((channel) => this.#sub.sunsubscribe(channel)));
  }

  /** PSUBSCRIBE, or on a cluster the family channels of the prefix (shared by every prefix subscription). */
  #subscribePattern(key: string): Promise<unknown> {
    if (!this.#keys.cluster) {
      return this.#sub.psubscribe(key);
    }
    return Promise.all(
      familyChannelsFor(this.#prefix, key).map((channel) => {
        let family = this.#families.get(channel);
        if (family === undefined) {
          family = { count: 0, ready: this.#subscribeChannels([channel]) };
          family.ready.catch(ignore);
          this.#families.set(channel, family);
        }
        family.count += 1;
        return family.ready;
      }),
    );
  }

  #unsubscribePattern(key: string): Promise<unknown> {
    if (!this.#keys.cluster) {
      return this.#sub.punsubscribe(key);
    }
    const unused: string[] = [];
    for (const channel of familyChannelsFor(this.#prefix, key)) {
      const family = this.#families.get(channel);
      if (family !== undefined && --family.count === 0) {
        this.#families.delete(channel);
        unused.push(channel);
      }
    }
    return this.#unsubscribeChannels(unused);
  }

  /** Every channel this bus listens on (patterns excepted on one server: they are PSUBSCRIBEd). */
  #allChannels(): string[] {
    const channels = [...this.#channels.keys(), ...this.#families.keys()];
    if (this.#watchers.size > 0) {
      channels.push(this.#noticeChannel);
    }
    return channels;
  }

  readonly #onMessage = (channel: string, raw: string): void => {
    const group = this.#channels.get(channel);
    if (group === undefined) {
      if (channel === this.#noticeChannel) {
        this.#onNotice(raw);
      } else if (this.#families.has(channel)) {
        this.#onFamilyMessage(raw);
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

  /** Cluster mode: a family channel carries every topic of its families; each prefix keeps its own. */
  #onFamilyMessage(raw: string): void {
    const message = this.#parse(raw);
    if (message === undefined) {
      return;
    }
    for (const [prefix, group] of this.#patterns) {
      if (message.topic.startsWith(prefix)) {
        group.dispatch(message);
      }
    }
  }

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
    const head = envelopeHead(topic, publishedAt, data);
    const id = await this.#evalWithCopy(topic, head, PUBLISH_LATEST, [this.#keys.seq(topic), this.#keys.latest(topic)], [
      this.#keys.channel(topic),
      this.#epochCandidate,
      head,
      this.#presenceTopicPrefixes.some((prefix) => topic.startsWith(prefix)) ? this.#presenceTtlMs : 0,
      this.#keys.publishCommand,
    ]);
    return { topic, data, publishedAt, id };
  }

  async latest<T>(topic: string): Promise<Envelope<T> | undefined> {
    this.#assertConnected();
    assertTopic(topic);
    const raw = await this.#pub.get(this.#keys.latest(topic)).catch(rethrowAsBusError);
    return raw === null ? undefined : parseStored<T>(raw);
  }

  async latestMany<T>(topics: readonly string[]): Promise<(Envelope<T> | undefined)[]> {
    this.#assertConnected();
    if (topics.length === 0) {
      return [];
    }
    const keys = topics.map((topic) => {
      assertTopic(topic);
      return this.#keys.latest(topic);
    });
    // MGET needs every key in one slot on a cluster: there, one GET per key, pipelined per node.
    const raws = await (this.#keys.cluster ? Promise.all(keys.map((key) => this.#pub.get(key))) : this.#pub.mget(keys)).catch(
      rethrowAsBusError,
    );
    return raws.map((raw) => (raw === null ? undefined : parseStored<T>(raw)));
  }

  // ---- History

  async append<T>(topic: string, data: T, options: AppendOptions): Promise<Envelope<T> & { id: string }> {
    this.#assertConnected();
    assertTopic(topic);
    assertHistoryOptions(options);
    const publishedAt = options.publishedAt ?? Date.now();
    const head = envelopeHead(topic, publishedAt, data);
    const id = await this.#evalWithCopy(topic, head, APPEND, [this.#keys.seq(topic), this.#keys.hist(topic)], [
      this.#keys.channel(topic),
      this.#epochCandidate,
      head,
      Math.min(options.maxLength, this.#maxHistoryLength),
      options.maxAgeMs,
      this.#keys.publishCommand,
    ]);
    return { topic, data, publishedAt, id };
  }

  async readSince<T>(topic: string, since: string, options: ReadSinceOptions = {}): Promise<HistoryRead<T>> {
    this.#assertConnected();
    assertTopic(topic);
    const parsed = parseMessageId(since);
    const candidate = this.#epochCandidate;
    const sincePublishedAt = sincePublishedAtOf(options);
    const reply = await this.#eval(READ_SINCE, [this.#keys.seq(topic), this.#keys.hist(topic)], [
      candidate,
      parsed?.epoch ?? '',
      parsed?.seq ?? -1,
      // As the envelope head writes it (a template literal's number, which is JSON's for finite numbers).
      sincePublishedAt === undefined ? '' : `${sincePublishedAt}`,
    ]);
    if (!Array.isArray(reply) || reply.length !== 6) {
      throw new GatewayError('internal', { message: 'redis: unexpected reply to the history read' });
    }
    const [epoch, seq, historySeq, gap, raws, diverged] = reply as [string, string, string, number, string[], number];
    if (epoch === candidate) {
      this.#epochCandidate = createEpoch();
    }
    return toHistoryRead(parsed, {
      epoch,
      seq: Number(seq),
      historySeq: Number(historySeq),
      gap: gap === 1,
      diverged: diverged === 1,
      messages: raws.map((raw) => parseStored<T>(raw)),
    });
  }

  async position(topic: string): Promise<string | undefined> {
    this.#assertConnected();
    assertTopic(topic);
    const [epoch, historySeq] = await this.#pub
      .hmget(this.#keys.seq(topic), 'epoch', 'hseq')
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
      await this.#evalInterest(DECLARE_INTEREST, [this.nodeId, this.#interestTtlMs, topic]);
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
      await this.#evalInterest(RELEASE_INTEREST, [this.nodeId, topic]);
    } catch (error) {
      this.#needsSync = true;
      this.#reportUnlessUnavailable(error);
    }
  }

  async interestedTopics(prefix: string): Promise<string[]> {
    this.#assertConnected();
    const key = `${this.#keys.interestBase}topics`;
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
      const ready = this.#subscribeChannels([this.#noticeChannel]);
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
      this.#unsubscribeChannels([this.#noticeChannel]).catch(this.#reportUnlessUnavailable);
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
        const known = await this.#evalInterest(REFRESH_INTEREST, [this.nodeId, this.#interestTtlMs]);
        if (known === 0) {
          await this.#syncInterest();
        }
      }
      await this.#evalInterest(SWEEP_INTEREST, []);
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
    await this.#evalInterest(SYNC_INTEREST, [this.nodeId, this.#interestTtlMs, ...this.#interest.keys()]);
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
    clearTimeout(this.#clusterTimer);
    const channels = this.#allChannels();
    const patterns = this.#keys.cluster ? [] : [...this.#patterns.keys()];
    for (const map of [this.#channels, this.#patterns]) {
      for (const group of map.values()) {
        for (const member of group.members) {
          member.close();
        }
      }
      map.clear();
    }
    this.#families.clear();
    this.#watchers.clear();
    this.#noticeReady = undefined;
    if (wasConnected) {
      try {
        await this.#evalInterest(LEAVE_INTEREST, [this.nodeId]);
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
        this.#unsubscribeChannels(channels),
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
    this.#sub.off('smessage', this.#onMessage);
    this.#pubCluster?.off('-node', this.#onClusterTrouble);
    this.#subCluster?.off('-node', this.#onSubscriberTrouble);
    this.#subCluster?.off('error', this.#onSubscriberTrouble);
    for (const client of [this.#pubCluster, this.#subCluster]) {
      client?.off('refresh', this.#onClusterRefresh);
    }
  }

  readonly #onPubReady = (): void => {
    if (this.#keys.cluster) {
      this.#onClusterTrouble();
      return;
    }
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
    if (this.#keys.cluster) {
      this.#onSubscriberTrouble();
      return;
    }
    const generation = ++this.#subGeneration;
    // Re-issued here even if the client resubscribes by itself: the bus reports `connected` only once every
    // local subscription is active again (SUBSCRIBE of an active channel is a no-op).
    const channels = this.#allChannels();
    const patterns = [...this.#patterns.keys()];
    Promise.all([
      this.#subscribeChannels(channels),
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

  // ---- Cluster health (cluster mode only)

  /** A node lost, a subscriber that cannot connect, a client (re)connected: disconnected until proven whole. */
  readonly #onClusterTrouble = (): void => {
    this.#clusterGeneration += 1;
    this.#scriptsLoaded = false;
    this.#subRestored = false;
    this.#updateState();
    void this.#checkCluster();
  };

  /** Trouble on the subscriber side: the next check also re-issues every subscription. */
  readonly #onSubscriberTrouble = (): void => {
    this.#resubscribeNeeded = true;
    this.#onClusterTrouble();
  };

  /** A new slot map: check it only if it differs from the one last proven (refreshes also come periodically). */
  readonly #onClusterRefresh = (): void => {
    const cluster = this.#pubCluster;
    if (cluster !== undefined && this.#state === 'connected' && slotFingerprint(cluster) !== this.#clusterFingerprint) {
      this.#onClusterTrouble();
    }
  };

  /**
   * Proves the cluster whole (every slot has a master that answers, scripts loaded there), then, after trouble
   * on the subscriber side or a new slot map, re-issues every subscription (SSUBSCRIBE of an active channel is a
   * no-op; one whose slot moved to a promoted replica becomes active there, and its confirmation proves it) and
   * reports `connected`. Retried every CLUSTER_RECHECK_MS until it holds.
   */
  async #checkCluster(): Promise<void> {
    const pub = this.#pubCluster;
    const sub = this.#subCluster;
    if (pub === undefined || sub === undefined) {
      return;
    }
    if (this.#clusterChecking) {
      this.#clusterCheckAgain = true;
      return;
    }
    this.#clusterChecking = true;
    clearTimeout(this.#clusterTimer);
    this.#clusterTimer = undefined;
    let retry = false;
    try {
      do {
        this.#clusterCheckAgain = false;
        if (!this.#clusterCanCheck()) {
          // The 'ready' event starts the next check.
          return;
        }
        const generation = this.#clusterGeneration;
        try {
          const fingerprint = await verifyCluster(pub, ALL_SCRIPTS);
          if (this.#resubscribeNeeded || fingerprint !== this.#clusterFingerprint) {
            this.#resubscribeNeeded = false;
            await this.#subscribeChannels(this.#allChannels()).catch((error: unknown) => {
              this.#resubscribeNeeded = true;
              throw error;
            });
          }
          if (generation === this.#clusterGeneration && this.#clusterCanCheck()) {
            this.#clusterFingerprint = fingerprint;
            this.#scriptsLoaded = true;
            this.#subRestored = true;
            this.#updateState();
          } else {
            this.#clusterCheckAgain = true;
          }
        } catch (error) {
          this.#reportUnlessUnavailable(error);
          retry = true;
          // The slot map may be stale (a replica took over): ask both clients for the current one.
          await Promise.all([refreshSlots(pub), refreshSlots(sub)]).catch(ignore);
        }
      } while (this.#clusterCheckAgain && !retry);
    } finally {
      this.#clusterChecking = false;
    }
    if (retry && this.#clusterCanCheck()) {
      this.#clusterTimer = setTimeout(() => void this.#checkCluster(), CLUSTER_RECHECK_MS);
      this.#clusterTimer.unref();
    }
  }

  readonly #onSubDown = (): void => {
    this.#subRestored = false;
    this.#updateState();
  };

  readonly #onEnd = (): void => {
    // The client gave up for good (closed by someone, or a crash in tests): nothing left to refresh.
    this.#ended = true;
    clearInterval(this.#timer);
    clearTimeout(this.#clusterTimer);
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

  /** Cluster mode: open, and both clients connected (a method: the answer changes across awaits). */
  #clusterCanCheck(): boolean {
    return !this.#closed && !this.#ended && this.#pubCluster?.status === 'ready' && this.#subCluster?.status === 'ready';
  }

  /** An interest script: routed to the node of the interest keys, told where and how to publish its notices. */
  #evalInterest(script: LuaScript, args: readonly (string | number)[]): Promise<unknown> {
    const base = this.#keys.interestBase;
    return this.#eval(script, [`${base}nodes`], [base, this.#noticeChannel, this.#keys.publishCommand, ...args]);
  }

  /**
   * `#evalId` for a script that publishes the message; on a cluster the family channel copy follows (in the
   * order the publishes were made, see `OrderedCopies`).
   */
  async #evalWithCopy(topic: string, head: string, script: LuaScript, keys: readonly string[], args: readonly (string | number)[]): Promise<string> {
    if (!this.#keys.cluster) {
      return this.#evalId(script, keys, args);
    }
    const copy = this.#copies.reserve(familyChannel(this.#prefix, topic));
    try {
      const id = await this.#evalId(script, keys, args);
      copy(`${head}${id}"}`);
      return id;
    } catch (error) {
      copy(undefined);
      throw error;
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

function isCluster(client: Redis | Cluster): client is Cluster {
  return (client as { isCluster?: boolean }).isCluster === true;
}

function parseStored<T>(raw: string): Envelope<T> {
  try {
    return JSON.parse(raw) as Envelope<T>;
  } catch (error) {
    throw new GatewayError('internal', { message: 'redis: malformed stored envelope', cause: error });
  }
}
