/**
 * The internal bus: the only thing data sources and protocol adapters share. A source publishes on topics, an
 * adapter subscribes to them; neither knows the other. Two implementations keep this contract, proven by the
 * one suite in `@gw/bus/testing`: `@gw/bus-memory` (one process, the embedded default) and `@gw/bus-redis`
 * (any number of processes on one Redis).
 *
 * Topics are dot-separated names (`signals`, `trading.4.balance`, `stock.quote.600519`). A subscription
 * pattern is either an exact topic or a prefix ending in `*` (`stock.quote.*`). A topic is 1 to 512
 * characters without whitespace, control characters or `* ? [ ] \`, and does not start with `~` (reserved for
 * the bus's own channels); anything else is rejected with `bad_request` (see `topics.ts`).
 *
 * The interface is split by capability (live pub/sub, latest values, history, interest, connection state);
 * `Bus` is all of them, which is what both implementations provide.
 */

/** One message as it travels on the bus. Serialized once by the publisher, parsed once per receiving process. */
export interface Envelope<T = unknown> {
  topic: string;
  data: T;
  /**
   * Milliseconds since the epoch when the publisher handed it to the bus, or what it gave as `publishedAt` to
   * `History.append` (when the message entered the node). Delivery latency starts here.
   */
  publishedAt: number;
  /**
   * Set on messages that went through `LatestValues.publishLatest` or `History.append`: the topic's sequence
   * position as `"<epoch>:<seq>"`. `seq` grows by one per message of the topic; `epoch` changes when the
   * topic's stored state is lost (a Redis server restarted empty), so an id from before the loss is
   * recognisably stale instead of silently colliding with new ids.
   */
  id?: string;
}

/**
 * Called once per message. Must not throw and must not block: copy what it needs and return. A handler that
 * throws does not stop delivery to other handlers; the implementation reports the error and keeps going.
 * The envelope may be shared with other handlers of the same process: treat it as read-only.
 */
export type MessageHandler<T = unknown> = (message: Envelope<T>) => void;

export interface Subscription {
  /** Stops delivery to this handler. Idempotent. */
  unsubscribe(): Promise<void>;
}

export interface SubscribeOptions {
  /**
   * Exact topics only: after the subscription is active, deliver the topic's latest value (if any) to the
   * handler first. A live message and the stored latest value are never both delivered for the same id,
   * and nothing older than what was already delivered is delivered afterwards.
   */
  withLatest?: boolean;
}

/**
 * Live messages. Guarantees:
 * - at-most-once delivery to every subscription active anywhere in the cluster when the message is published;
 * - order is kept per topic as the bus received the messages (one publisher's messages stay in its order);
 * - a subscription made before `subscribe` resolved receives every later message (while connected);
 * - while the bus is disconnected, publishes fail (reject with `bus_unavailable`) rather than queue
 *   without bound, and subscriptions are restored by the implementation when it reconnects;
 * - `subscribe` itself rejects with `bus_unavailable` while disconnected (nothing is left registered), and
 *   with `bad_request` for a malformed pattern or `withLatest` on a prefix pattern.
 *
 * `data` must be JSON-compatible: the Redis bus sends it as JSON, the memory bus passes the object itself
 * (so a publisher must not mutate it after publishing).
 */
export interface PubSub {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- lets a caller state the payload type and have `data` checked against it
  publish<T>(topic: string, data: T): Promise<void>;
  subscribe<T>(pattern: string, handler: MessageHandler<T>, options?: SubscribeOptions): Promise<Subscription>;
}

/** The latest value of a topic: what a new subscriber needs to show the current state at once. */
export interface LatestValues {
  /** Stores `data` as the topic's latest value and publishes it live, as one atomic step. Returns the envelope. */
  publishLatest<T>(topic: string, data: T): Promise<Envelope<T>>;
  /** The stored latest value, or undefined when the topic has none. */
  latest<T>(topic: string): Promise<Envelope<T> | undefined>;
  /** Several topics in one round trip; the result has the same length and order as `topics`. */
  latestMany<T>(topics: readonly string[]): Promise<(Envelope<T> | undefined)[]>;
}

/** A topic's history bounds: the same for every append of the topic. */
export interface HistoryOptions {
  /** Keep at most this many messages of the topic. */
  maxLength: number;
  /** Drop messages older than this (milliseconds, counted from when the bus stored them). */
  maxAgeMs: number;
}

/** What `History.append` takes: the topic's history bounds and, per message, when it entered the node. */
export interface AppendOptions extends HistoryOptions {
  /**
   * The envelope's `publishedAt` (milliseconds since the epoch): when the message entered the node, e.g. the
   * HTTP request's arrival, so delivery latency includes reading and validating it. Defaults to now. A finite,
   * non-negative number (`bad_request` otherwise). History age (`maxAgeMs`) still counts from the append.
   */
  publishedAt?: number;
}

export interface ReadSinceOptions {
  /**
   * The `publishedAt` of the message `since` names, as the caller received it. An id alone may name another
   * message than the one the caller had: a Redis failover loses the messages the old master acknowledged but
   * had not replicated yet, and the new master gives their ids to the next messages. When history still holds
   * a message at `since` with another `publishedAt`, the read is `invalid_id` (the caller's position is not
   * in this history) with every retained message, as for an id beyond the topic. Without it, or once that
   * message is trimmed, only the id is compared.
   */
  sincePublishedAt?: number;
}

export type HistoryRead<T = unknown> =
  | {
      /** Every message after `since` that the topic ever had is in `messages`: replaying them leaves no gap. */
      recovered: true;
      messages: Envelope<T>[];
      /** The topic's current position (`since` itself when nothing followed it). */
      position: string;
    }
  | {
      /**
       * Some messages after `since` are gone (trimmed by length or age, or the epoch changed). `messages`
       * holds what is still there, `missedFrom` the id of the first message that was lost.
       */
      recovered: false;
      reason: 'too_old' | 'epoch_changed' | 'invalid_id';
      missedFrom: string;
      messages: Envelope<T>[];
      position: string;
    };

/**
 * Bounded, ordered per-topic history with ids: "everything after id X" for gap-free recovery.
 *
 * `publishLatest` and `append` share one sequence per topic (ids never repeat within an epoch), but only
 * `append` writes history: a topic normally uses one of the two. `readSince` accepts any id of the topic.
 */
export interface History {
  /**
   * Assigns the topic's next id, appends the message to the bounded history and publishes it live, as one
   * atomic step: a reader that subscribes first and then reads history sees every message exactly once
   * (see `recoverThenFollow`).
   */
  append<T>(topic: string, data: T, options: AppendOptions): Promise<Envelope<T> & { id: string }>;
  /**
   * Messages after `since`, oldest first; `recovered: false` (never a silent gap) when some are gone.
   * `position` is always a valid id of the topic's current epoch (`"<epoch>:0"` for a topic without
   * messages: reading creates the topic's sequence), so it can be used as the next `since`.
   * A malformed `since`, or one beyond the topic's last id, is `invalid_id`; its `missedFrom` is then
   * the first id of the current epoch, as for `epoch_changed` (see also `options.sincePublishedAt`).
   */
  readSince<T>(topic: string, since: string, options?: ReadSinceOptions): Promise<HistoryRead<T>>;
  /** The topic's current position (id of the last appended message), or undefined when it has none. */
  position(topic: string): Promise<string | undefined>;
}

export interface InterestChange {
  topic: string;
  /** true when the first subscriber anywhere appeared, false when the last one left or expired. */
  interested: boolean;
}

export interface InterestLease {
  /** Withdraws this declaration. Idempotent. */
  release(): Promise<void>;
}

/**
 * Which topics have subscribers anywhere in the cluster, so data sources fetch only what someone watches.
 * Each process declares its own interest (ref-counted locally); the implementation keeps it alive while
 * the process runs and it expires within `interestTtlMs` after a process dies without releasing it.
 */
export interface Interest {
  /**
   * Resolves once the interest is visible cluster-wide, or at once while the bus is disconnected (it is
   * registered on reconnect). Rejects only for an invalid topic or a closed bus.
   */
  declareInterest(topic: string): Promise<InterestLease>;
  /** Topics starting with `prefix` that have interest anywhere now. */
  interestedTopics(prefix: string): Promise<string[]>;
  /**
   * Calls `onChange` for each topic starting with `prefix` whose cluster-wide interest appears or
   * disappears (including by expiry). The initial state is not replayed: call `interestedTopics` after
   * this resolves to get it.
   */
  watchInterest(prefix: string, onChange: (change: InterestChange) => void): Promise<Subscription>;
}

export type BusState = 'connected' | 'disconnected';

export interface BusConnection {
  readonly state: BusState;
  /** Called on every state change; returns a function that removes the listener. */
  onStateChange(listener: (state: BusState) => void): () => void;
  /**
   * Stops everything: unsubscribes, releases interest (other nodes see it go at once, not by expiry), closes
   * connections the bus owns. Idempotent. Afterwards `state` is `disconnected` (listeners are told) and
   * every operation rejects with `bus_unavailable`.
   */
  close(): Promise<void>;
}

/** An identifier for this process on the bus (logs, interest ownership, cluster views). */
export interface BusNode {
  readonly nodeId: string;
  /** Which implementation this is: `memory` or `redis`. */
  readonly kind: 'memory' | 'redis';
}

export type Bus = PubSub & LatestValues & History & Interest & BusConnection & BusNode;
