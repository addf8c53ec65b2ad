import type {
  Bus,
  BusState,
  Envelope,
  HistoryOptions,
  HistoryRead,
  InterestChange,
  InterestLease,
  MessageHandler,
  ReadSinceOptions,
  SubscribeOptions,
  Subscription,
} from '@gw/bus';
import { GatewayError } from '@gw/core';

/** The bus operations a source can call. */
export type BusMethod =
  | 'publish'
  | 'publishLatest'
  | 'append'
  | 'subscribe'
  | 'latest'
  | 'latestMany'
  | 'readSince'
  | 'position'
  | 'declareInterest'
  | 'interestedTopics'
  | 'watchInterest'
  | 'close';

/** One call the source made. */
export interface BusCall {
  method: BusMethod;
  /** The topic, pattern or prefix it named (several joined by `,`). */
  target: string;
  /** `performance.now()` when it was made. */
  at: number;
}

/** One publish, publishLatest or append. */
export interface Publication {
  method: 'publish' | 'publishLatest' | 'append';
  topic: string;
  /** The payload as JSON, taken when it was published: what a Redis subscriber would parse. */
  json: string | undefined;
  /** Why the payload cannot be carried as JSON (a cycle, a BigInt, `undefined`); then `json` is undefined. */
  jsonProblem: string | undefined;
  at: number;
  /** `refused`: the bus rejected it (an outage, a bad topic). */
  outcome: 'pending' | 'delivered' | 'refused';
}

export interface ObserveBusOptions {
  /** Calls and publications kept (each); past it the oldest are dropped and counted. @default 100000 */
  maxRecords?: number;
}

/** A bus handed to a source under test: records what the source does and can simulate an outage. */
export interface ObservedBus {
  /** Give this to the source. Its `close()` is recorded and does nothing: the bus belongs to the process. */
  readonly bus: Bus;
  readonly calls: readonly BusCall[];
  readonly publications: readonly Publication[];
  /** Records dropped past `maxRecords`. */
  readonly dropped: number;
  /**
   * While down, as a disconnected Redis bus: `state` is `disconnected` (listeners are told), every request
   * rejects with `bus_unavailable`, subscriptions receive nothing; `declareInterest` still resolves (it is
   * registered on reconnect, per the contract).
   */
  setDown(down: boolean): void;
  /** Subscriptions, interest watches and interest leases the source opened and has not released. */
  openResources(): string[];
}

/**
 * Wraps `inner` for a source under test. Everything the source does goes through the wrapper and is
 * recorded; the inner bus is untouched (the test publishes its inputs on it directly).
 */
export function observeBus(inner: Bus, options: ObserveBusOptions = {}): ObservedBus {
  const maxRecords = options.maxRecords ?? 100_000;
  const calls: BusCall[] = [];
  const publications: Publication[] = [];
  const open = new Map<number, string>();
  const listeners = new Set<(state: BusState) => void>();
  let dropped = 0;
  let nextResource = 0;
  let down = false;

  const state = (): BusState => (down ? 'disconnected' : inner.state);

  const push = <T>(list: T[], item: T): void => {
    if (list.length >= maxRecords) {
      list.shift();
      dropped += 1;
    }
    list.push(item);
  };

  const call = (method: BusMethod, target: string): void => {
    push(calls, { method, target, at: performance.now() });
  };

  /** Records a request and runs it, unless the bus is down. */
  const request = <T>(method: BusMethod, target: string, run: () => Promise<T>): Promise<T> => {
    call(method, target);
    return down ? Promise.reject(unavailable()) : run();
  };

  const publication = <T>(method: Publication['method'], topic: string, data: unknown, run: () => Promise<T>): Promise<T> => {
    const record: Publication = { method, topic, ...jsonOf(data), at: performance.now(), outcome: 'pending' };
    push(publications, record);
    return request(method, topic, run).then(
      (result) => {
        record.outcome = 'delivered';
        return result;
      },
      (error: unknown) => {
        record.outcome = 'refused';
        throw error;
      },
    );
  };

  /** Tracks a subscription or lease as open until its release is called (once). */
  const track = (description: string, release: () => Promise<void>): (() => Promise<void>) => {
    const id = nextResource;
    nextResource += 1;
    open.set(id, description);
    return once(() => {
      open.delete(id);
      return release();
    });
  };

  const bus: Bus = {
    get nodeId() {
      return inner.nodeId;
    },
    get kind() {
      return inner.kind;
    },
    get state() {
      return state();
    },
    onStateChange(listener) {
      listeners.add(listener);
      const stopInner = inner.onStateChange((changed) => {
        if (!down) {
          listener(changed);
        }
      });
      return () => {
        listeners.delete(listener);
        stopInner();
      };
    },
    close() {
      call('close', '');
      return Promise.resolve();
    },
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the signature of PubSub.publish
    publish<T>(topic: string, data: T): Promise<void> {
      return publication('publish', topic, data, () => inner.publish(topic, data));
    },
    publishLatest<T>(topic: string, data: T): Promise<Envelope<T>> {
      return publication('publishLatest', topic, data, () => inner.publishLatest(topic, data));
    },
    append<T>(topic: string, data: T, historyOptions: HistoryOptions): Promise<Envelope<T> & { id: string }> {
      return publication('append', topic, data, () => inner.append(topic, data, historyOptions));
    },
    subscribe<T>(pattern: string, handler: MessageHandler<T>, subscribeOptions?: SubscribeOptions): Promise<Subscription> {
      return request('subscribe', pattern, async () => {
        // A disconnected bus delivers nothing; the inner subscription stays, as Redis restores it on reconnect.
        const deliver: MessageHandler<T> = (message) => {
          if (!down) {
            handler(message);
          }
        };
        const subscription = await inner.subscribe<T>(pattern, deliver, subscribeOptions);
        return { unsubscribe: track(`subscription to ${pattern}`, () => subscription.unsubscribe()) };
      });
    },
    latest<T>(topic: string): Promise<Envelope<T> | undefined> {
      return request('latest', topic, () => inner.latest<T>(topic));
    },
    latestMany<T>(topics: readonly string[]): Promise<(Envelope<T> | undefined)[]> {
      return request('latestMany', topics.join(','), () => inner.latestMany<T>(topics));
    },
    readSince<T>(topic: string, since: string, options?: ReadSinceOptions): Promise<HistoryRead<T>> {
      return request('readSince', topic, () => inner.readSince<T>(topic, since, options));
    },
    position(topic: string): Promise<string | undefined> {
      return request('position', topic, () => inner.position(topic));
    },
    async declareInterest(topic: string): Promise<InterestLease> {
      call('declareInterest', topic);
      const lease = await inner.declareInterest(topic);
      return { release: track(`interest lease on ${topic}`, () => lease.release()) };
    },
    interestedTopics(prefix: string): Promise<string[]> {
      return request('interestedTopics', prefix, () => inner.interestedTopics(prefix));
    },
    watchInterest(prefix: string, onChange: (change: InterestChange) => void): Promise<Subscription> {
      return request('watchInterest', prefix, async () => {
        const subscription = await inner.watchInterest(prefix, onChange);
        return { unsubscribe: track(`interest watch on ${prefix}*`, () => subscription.unsubscribe()) };
      });
    },
  };

  return {
    bus,
    calls,
    publications,
    get dropped() {
      return dropped;
    },
    setDown(value) {
      if (value === down) {
        return;
      }
      down = value;
      const current = state();
      for (const listener of listeners) {
        listener(current);
      }
    },
    openResources: () => [...open.values()],
  };
}

function unavailable(): GatewayError {
  return new GatewayError('bus_unavailable', { message: 'bus is disconnected (simulated outage)' });
}

function jsonOf(data: unknown): { json: string | undefined; jsonProblem: string | undefined } {
  try {
    const json = JSON.stringify(data) as string | undefined;
    return json === undefined
      ? { json, jsonProblem: 'the payload is not JSON (undefined or a function)' }
      : { json, jsonProblem: undefined };
  } catch (error) {
    return { json: undefined, jsonProblem: `the payload is not JSON: ${error instanceof Error ? error.message : String(error)}` };
  }
}

/** Runs `run` on the first call only; later calls get the same promise (release is idempotent). */
function once(run: () => Promise<void>): () => Promise<void> {
  let result: Promise<void> | undefined;
  return () => {
    result ??= run();
    return result;
  };
}
