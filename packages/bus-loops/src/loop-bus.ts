import { createConnection } from 'node:net';
import type { Socket } from 'node:net';
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
import { SubscriptionGroup, assertHistoryOptions, newSubscription, reportToLog, sincePublishedAtOf } from '@gw/bus/internal';
import type { LocalSubscription } from '@gw/bus/internal';
import { GatewayError } from '@gw/core';
import {
  DEFAULT_MAX_BUFFERED_BYTES,
  DEFAULT_MAX_FRAME_BYTES,
  FrameReader,
  FrameWriter,
  PROTOCOL_VERSION,
  ProtocolError,
  fromWireError,
  parseFrame,
} from './protocol.js';

export interface LoopBusOptions {
  /** The bus host's Unix socket (`createBusHost`). */
  socketPath: string;
  /** This process's node id on the bus; the host refuses an id that is already live. */
  nodeId: string;
  /** How long this node's interest outlives the process if it dies (default: the host's `interestTtlMs`). */
  interestTtlMs?: number;
  /** The host must accept the hello within this (default 5 000 ms); otherwise the bus gives up. */
  connectTimeoutMs?: number;
  /** Throwing handlers and watchers, the loss of the host, a refused hello (default: one log line each). */
  onError?: (error: unknown) => void;
  /** Requests not yet read by the host beyond which calls fail with `bus_unavailable` (default 64 MiB). */
  maxBufferedBytes?: number;
  /** A frame from the host longer than this is a protocol error (default 64 MiB). */
  maxFrameBytes?: number;
}

/**
 * The embedded bus as seen from one event-loop process of a node: kind `memory` (it is the host's memory
 * bus, one socket away), every call a request to the host. `disconnected` until the host accepted the
 * hello, then `connected` until the socket closes. Losing the host is final: the host is the node's
 * primary process, and a node whose primary died is gone, so there is no reconnect. After the loss the bus
 * stays `disconnected`, pending and later calls fail with `bus_unavailable`, `onError` hears about it once,
 * and `declareInterest` still resolves (with a lease that does nothing) as the `Interest` contract asks.
 *
 * Delivery: one host subscription per exact topic or prefix, whatever the number of local handlers; each
 * message crosses the socket once and is parsed once per process, then handed to every matching handler in
 * the order the host's hub delivered it (per-topic order across the cluster).
 */
export function createLoopBus(options: LoopBusOptions): Bus {
  return new LoopBus(options);
}

/** `createLoopBus`, resolved once the host accepted the node; rejects with the reason it did not. */
export async function connectLoopBus(options: LoopBusOptions): Promise<Bus> {
  const bus = new LoopBus(options, true);
  await bus.ready;
  return bus;
}

/**
 * For tests: ends `bus` as if its process died. The socket is destroyed without a goodbye, so the host
 * crashes the node and its interest expires after its TTL; locally nothing is reported.
 */
export function crashLoopBus(bus: Bus): void {
  if (!(bus instanceof LoopBus)) {
    throw new TypeError('crashLoopBus: not a loop bus');
  }
  bus.crash();
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

interface Watcher {
  onChange: (change: InterestChange) => void;
}

/** The local handlers of one host subscription, and its id on the wire. */
class RemoteGroup extends SubscriptionGroup {
  readonly sub: number;

  constructor(sub: number) {
    super();
    this.sub = sub;
  }
}

interface Settle {
  resolve: () => void;
  reject: (error: Error) => void;
}

type Phase = 'connecting' | 'connected' | 'lost' | 'closed';

class LoopBus implements Bus {
  readonly kind = 'memory' as const;
  readonly nodeId: string;
  /** Settles when the host accepted the hello (or did not). */
  readonly ready: Promise<void>;
  readonly #socketPath: string;
  readonly #socket: Socket;
  readonly #reader: FrameReader;
  readonly #writer: FrameWriter;
  readonly #onError: (error: unknown) => void;
  readonly #pending = new Map<number, Pending>();
  readonly #exact = new Map<string, RemoteGroup>();
  readonly #prefixes = new Map<string, RemoteGroup>();
  /** Subscription id → group; ids are never reused, so a delivery for a dropped group finds nothing. */
  readonly #groups = new Map<number, RemoteGroup>();
  readonly #watchers = new Map<number, Watcher>();
  readonly #listeners = new Set<(state: BusState) => void>();
  readonly #connectTimer: NodeJS.Timeout;
  #phase: Phase = 'connecting';
  #nextId = 1;
  #closing: Promise<void> | undefined;
  /** Why the connection ended, for the errors of the calls it failed. */
  #loss: GatewayError | undefined;
  readonly #settleReady: Settle;
  /** connectLoopBus hears a failed connect through `ready`; createLoopBus callers through onError. */
  readonly #readyObserved: boolean;

  constructor(options: LoopBusOptions, readyObserved = false) {
    this.nodeId = options.nodeId;
    this.#socketPath = options.socketPath;
    this.#onError = options.onError ?? reportToLog;
    this.#readyObserved = readyObserved;
    let settle: Settle = { resolve: () => undefined, reject: () => undefined };
    this.ready = new Promise<void>((resolve, reject) => {
      settle = { resolve, reject };
    });
    this.#settleReady = settle;
    if (!readyObserved) {
      this.ready.catch(() => undefined);
    }
    this.#reader = new FrameReader(options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES);
    this.#socket = createConnection(options.socketPath);
    this.#writer = new FrameWriter(this.#socket, {
      maxBufferedBytes: options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES,
      onOverflow: () => {
        // Only requests are written here, and calls stop being accepted before this: a host that stopped
        // reading for that long is as good as dead.
        this.#lose(new GatewayError('bus_unavailable', { message: `the bus host at ${this.#socketPath} stopped reading` }));
      },
    });
    const connectTimeoutMs = options.connectTimeoutMs ?? 5_000;
    this.#connectTimer = setTimeout(() => {
      this.#lose(
        new GatewayError('bus_unavailable', {
          message: `the bus host at ${this.#socketPath} did not accept node ${this.nodeId} within ${connectTimeoutMs} ms`,
        }),
      );
    }, connectTimeoutMs);
    this.#socket.on('data', this.#onData);
    this.#socket.on('error', (error) => {
      this.#lose(new GatewayError('bus_unavailable', { message: `bus host at ${this.#socketPath}: ${error.message}`, cause: error }));
    });
    this.#socket.on('close', () => {
      this.#lose(new GatewayError('bus_unavailable', { message: `the bus host at ${this.#socketPath} closed the connection` }));
    });
    // Written at once (queued until the socket connects): the host answers it before any other frame.
    this.#pending.set(0, {
      resolve: () => {
        this.#connected();
      },
      reject: (error) => {
        this.#lose(error instanceof GatewayError ? error : new GatewayError('bus_unavailable', { message: error.message }));
      },
    });
    this.#writer.push(
      JSON.stringify({ op: 'hello', id: 0, v: PROTOCOL_VERSION, node: this.nodeId, ttl: options.interestTtlMs }),
    );
  }

  get state(): BusState {
    return this.#phase === 'connected' ? 'connected' : 'disconnected';
  }

  // ---- PubSub

  publish(topic: string, data: unknown): Promise<void> {
    return this.#call({ op: 'pub', topic, data });
  }

  async subscribe<T>(pattern: string, handler: MessageHandler<T>, options?: SubscribeOptions): Promise<Subscription> {
    this.#assertConnected();
    const { kind, key: groupKey, withLatest, local } = newSubscription(pattern, handler as unknown as MessageHandler, options, this.#onError);
    const map = kind === 'exact' ? this.#exact : this.#prefixes;
    let group = map.get(groupKey);
    if (group === undefined) {
      group = this.#openGroup(map, groupKey, pattern);
    }
    const joined = group;
    joined.members.add(local);
    // The host serves requests in order, so this read happens after the subscription is active there:
    // anything older than what it returns was delivered before it (and is dropped by `releaseAfter`).
    const latest = withLatest ? this.#call<Envelope | undefined>({ op: 'latest', topic: groupKey }) : undefined;
    try {
      const [, value] = await Promise.all([joined.ready, latest]);
      if (withLatest) {
        local.releaseAfter(value);
      }
    } catch (error) {
      await this.#leave(map, groupKey, joined, local);
      throw error;
    }
    return {
      unsubscribe: () => this.#leave(map, groupKey, joined, local),
    };
  }

  #openGroup(map: Map<string, RemoteGroup>, groupKey: string, pattern: string): RemoteGroup {
    const sub = this.#nextId++;
    const group = new RemoteGroup(sub);
    map.set(groupKey, group);
    this.#groups.set(sub, group);
    group.ready = this.#call({ op: 'sub', sub, pattern }).catch((error: unknown) => {
      if (map.get(groupKey) === group) {
        map.delete(groupKey);
      }
      this.#groups.delete(sub);
      throw error;
    });
    // Every member awaits it; nobody may be left with an unobserved rejection.
    group.ready.catch(() => undefined);
    return group;
  }

  #leave(map: Map<string, RemoteGroup>, groupKey: string, group: RemoteGroup, local: LocalSubscription): Promise<void> {
    local.close();
    group.members.delete(local);
    if (group.members.size > 0 || map.get(groupKey) !== group) {
      return Promise.resolve();
    }
    map.delete(groupKey);
    const sub = group.sub;
    if (!this.#groups.delete(sub) || this.#phase !== 'connected') {
      return Promise.resolve();
    }
    // Local delivery already stopped; the host side is cleaned up best effort (a lost host has nothing left).
    return this.#call<undefined>({ op: 'unsub', sub }).catch(() => undefined);
  }

  // ---- LatestValues

  publishLatest<T>(topic: string, data: T): Promise<Envelope<T>> {
    return this.#call({ op: 'pubLatest', topic, data });
  }

  latest<T>(topic: string): Promise<Envelope<T> | undefined> {
    return this.#call({ op: 'latest', topic });
  }

  async latestMany<T>(topics: readonly string[]): Promise<(Envelope<T> | undefined)[]> {
    // JSON has no undefined: a topic without a value comes back as null.
    const found = await this.#call<(Envelope<T> | null)[]>({ op: 'latestMany', topics });
    return found.map((envelope) => envelope ?? undefined);
  }

  // ---- History

  async append<T>(topic: string, data: T, options: AppendOptions): Promise<Envelope<T> & { id: string }> {
    // Checked here too: JSON has no NaN or Infinity, so a bad number would reach the host as null.
    assertHistoryOptions(options);
    const { maxLength, maxAgeMs, publishedAt } = options;
    return this.#call({ op: 'append', topic, data, opts: { maxLength, maxAgeMs, publishedAt } });
  }

  readSince<T>(topic: string, since: string, options: ReadSinceOptions = {}): Promise<HistoryRead<T>> {
    // A number the bus would ignore is left out rather than sent as JSON's null.
    const sincePublishedAt = sincePublishedAtOf(options);
    return this.#call({ op: 'readSince', topic, since, ...(sincePublishedAt === undefined ? {} : { sincePublishedAt }) });
  }

  position(topic: string): Promise<string | undefined> {
    return this.#call({ op: 'position', topic });
  }

  // ---- Interest

  async declareInterest(topic: string): Promise<InterestLease> {
    if (this.#phase === 'closed') {
      throw new GatewayError('bus_unavailable', { message: 'the bus is closed' });
    }
    if (this.#phase === 'lost') {
      // The node is dead: the host is expiring its interest; there is nothing to declare it to.
      return { release: () => Promise.resolve() };
    }
    const lease = this.#nextId++;
    const declared = this.#call({ op: 'declare', lease, topic });
    let released = false;
    const handle: InterestLease = {
      release: () => {
        if (released) {
          return Promise.resolve();
        }
        released = true;
        // Lost or closed: the host already expired or released everything of this node.
        return this.#call<undefined>({ op: 'release', lease }).catch(() => undefined);
      },
    };
    if (this.#phase === 'connecting') {
      // Queued behind the hello: registered as soon as the host accepts the node (an invalid topic is
      // then only reported to onError, the price of resolving at once as the contract asks).
      declared.catch((error: unknown) => {
        if (!(error instanceof GatewayError && error.code === 'bus_unavailable')) {
          this.#onError(error);
        }
      });
      return handle;
    }
    await declared;
    return handle;
  }

  interestedTopics(prefix: string): Promise<string[]> {
    return this.#call({ op: 'interested', prefix });
  }

  async watchInterest(prefix: string, onChange: (change: InterestChange) => void): Promise<Subscription> {
    this.#assertConnected();
    const watch = this.#nextId++;
    this.#watchers.set(watch, { onChange });
    try {
      await this.#call({ op: 'watch', watch, prefix });
    } catch (error) {
      this.#watchers.delete(watch);
      throw error;
    }
    return {
      unsubscribe: () => {
        if (!this.#watchers.delete(watch) || this.#phase !== 'connected') {
          return Promise.resolve();
        }
        return this.#call<undefined>({ op: 'unwatch', watch }).catch(() => undefined);
      },
    };
  }

  // ---- Connection

  onStateChange(listener: (state: BusState) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    const wasConnected = this.#phase === 'connected';
    const wasLive = this.#phase === 'connected' || this.#phase === 'connecting';
    this.#phase = 'closed';
    this.#stopLocal();
    if (wasLive) {
      // The host releases this node's interest before it answers: other nodes see it go at once.
      await this.#request({ op: 'bye' }).catch(() => undefined);
    }
    this.#finish(new GatewayError('bus_unavailable', { message: 'the bus is closed' }));
    this.#socket.end();
    if (wasConnected) {
      this.#emit('disconnected');
    }
    this.#listeners.clear();
  }

  crash(): void {
    if (this.#phase === 'closed') {
      return;
    }
    this.#phase = 'closed';
    this.#closing = Promise.resolve();
    this.#stopLocal();
    this.#socket.destroy();
    this.#finish(new GatewayError('bus_unavailable', { message: 'the bus is closed' }));
  }

  // ---- Wire

  #assertConnected(): void {
    if (this.#phase !== 'connected') {
      throw this.#unavailable();
    }
  }

  #unavailable(): GatewayError {
    if (this.#phase === 'closed') {
      return new GatewayError('bus_unavailable', { message: 'the bus is closed' });
    }
    if (this.#phase === 'lost') {
      return new GatewayError('bus_unavailable', { message: 'lost the bus host', cause: this.#loss });
    }
    return new GatewayError('bus_unavailable', { message: `not connected to the bus host at ${this.#socketPath} yet` });
  }

  /** A call of the Bus API: rejected at once unless connected (interest may queue behind the hello). */
  #call<R>(frame: Record<string, unknown>): Promise<R> {
    const queueable = (frame['op'] === 'declare' || frame['op'] === 'release') && this.#phase === 'connecting';
    if (this.#phase !== 'connected' && !queueable) {
      return Promise.reject(this.#unavailable());
    }
    if (this.#writer.overflowing) {
      return Promise.reject(
        new GatewayError('bus_unavailable', {
          message: `the bus host at ${this.#socketPath} is not reading (${this.#writer.buffered} bytes queued)`,
        }),
      );
    }
    return this.#request(frame);
  }

  #request<R>(frame: Record<string, unknown>): Promise<R> {
    const id = this.#nextId++;
    frame['id'] = id;
    let line: string;
    try {
      line = JSON.stringify(frame);
    } catch (error) {
      return Promise.reject(new GatewayError('bad_request', { message: 'message data is not JSON-serializable', cause: error }));
    }
    return new Promise<R>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.#writer.push(line);
    });
  }

  readonly #onData = (chunk: Buffer): void => {
    try {
      for (const line of this.#reader.push(chunk)) {
        this.#handle(parseFrame(line));
      }
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.#lose(new GatewayError('bus_unavailable', { message: `bus host protocol error: ${message}`, cause: error }));
    }
  };

  #handle(frame: Record<string, unknown>): void {
    const subs = frame['m'];
    if (subs !== undefined) {
      const message = frame['e'] as Envelope;
      for (const sub of subs as number[]) {
        this.#groups.get(sub)?.dispatch(message);
      }
      return;
    }
    const id = frame['re'];
    if (id !== undefined) {
      const pending = this.#pending.get(id as number);
      if (pending === undefined) {
        throw new ProtocolError(`answer to unknown request ${JSON.stringify(id)}`);
      }
      this.#pending.delete(id as number);
      if (frame['err'] === undefined) {
        pending.resolve(frame['ok']);
      } else {
        pending.reject(fromWireError(frame['err'], 'bus host'));
      }
      return;
    }
    const watch = frame['w'];
    if (watch !== undefined) {
      const watcher = this.#watchers.get(watch as number);
      if (watcher !== undefined) {
        try {
          watcher.onChange({ topic: frame['topic'] as string, interested: frame['on'] === true });
        } catch (error) {
          this.#onError(error);
        }
      }
      return;
    }
    if (frame['fatal'] !== undefined) {
      this.#lose(fromWireError(frame['fatal'], 'bus host'));
      return;
    }
    throw new ProtocolError('unknown frame');
  }

  #connected(): void {
    clearTimeout(this.#connectTimer);
    if (this.#phase !== 'connecting') {
      return;
    }
    this.#phase = 'connected';
    this.#settleReady.resolve();
    this.#emit('connected');
  }

  /** The connection is gone (or never came): final, see `createLoopBus`. */
  #lose(reason: GatewayError): void {
    clearTimeout(this.#connectTimer);
    if (this.#phase === 'closed') {
      // Closing: the goodbye may be what was waiting; it fails and close() finishes.
      this.#socket.destroy();
      this.#finish(new GatewayError('bus_unavailable', { message: 'the bus is closed' }));
      return;
    }
    if (this.#phase === 'lost') {
      return;
    }
    const wasConnected = this.#phase === 'connected';
    this.#phase = 'lost';
    this.#loss = reason;
    this.#socket.destroy();
    this.#stopLocal();
    // First, so connectLoopBus rejects with the host's own reason (a refused hello), not a generic one.
    this.#settleReady.reject(reason);
    this.#finish(
      reason.code === 'bus_unavailable' ? reason : new GatewayError('bus_unavailable', { message: reason.message, cause: reason }),
    );
    if (wasConnected) {
      this.#emit('disconnected');
    }
    if (wasConnected || !this.#readyObserved) {
      this.#onError(reason);
    }
  }

  /** Fails every call still waiting for an answer. */
  #finish(error: GatewayError): void {
    clearTimeout(this.#connectTimer);
    this.#writer.stop();
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const call of pending) {
      call.reject(error);
    }
    this.#settleReady.reject(error);
  }

  /** Local delivery stops at once: no handler or watcher runs after close or loss. */
  #stopLocal(): void {
    for (const map of [this.#exact, this.#prefixes]) {
      for (const group of map.values()) {
        for (const member of group.members) {
          member.close();
        }
      }
      map.clear();
    }
    this.#groups.clear();
    this.#watchers.clear();
  }

  #emit(state: BusState): void {
    for (const listener of this.#listeners) {
      try {
        listener(state);
      } catch (error) {
        this.#onError(error);
      }
    }
  }
}
