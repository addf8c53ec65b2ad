import type { ProtocolSession, WsConnection } from '@gw/connections';

/** What the signal protocol reads from the upgrade request (`?sources=`, `?symbols=`, `?since=`). */
export interface SignalContext {
  /** Producers of `?sources=` (or the default set), or undefined for every producer (`?sources=*`). */
  sources: ReadonlySet<string> | undefined;
  /** Upper-case symbols of `?symbols=`, or undefined for every symbol. */
  symbols: ReadonlySet<string> | undefined;
  since: string | undefined;
}

/** Where a recovering client stands while live signals are still catching up with its history read. */
export interface CatchUp {
  epoch: string;
  /** Highest seq already sent to this client. */
  lastSeq: number;
  /** Once live signals reach this seq, the client joins the uWS topics. */
  targetSeq: number;
  startedAt: number;
}

/** Counts of what was published to uWS topics, read when a client joins them and for its sent count. */
export type PublishedCount = (topics: readonly string[]) => number;

/** The producer part of a uWS topic that carries every producer's signals. */
export const anyProducer = '*';

/**
 * The uWS topic of a producer's signals (`*`: every producer), of every symbol or of one. A signal has one
 * producer and one symbol, so it goes to at most four topics (`sig:*:all`, `sig:*:s:<SYMBOL>`,
 * `sig:<producer>:all`, `sig:<producer>:s:<SYMBOL>`) and a client joins topics that never overlap: it gets
 * each signal once. Topics exist only while someone joined them, so the combinations stay bounded by what
 * clients ask for (at most SIGNALS_MAX_SOURCES × SIGNALS_MAX_SYMBOLS per client).
 */
export function signalTopic(producer: string, symbol: string | undefined): string {
  return symbol === undefined ? `sig:${producer}:all` : `sig:${producer}:s:${symbol}`;
}

/** The uWS topics a client with this filter joins. */
export function topicsOf(context: Pick<SignalContext, 'sources' | 'symbols'>): string[] {
  const producers = context.sources === undefined ? [anyProducer] : [...context.sources];
  const symbols = context.symbols === undefined ? [undefined] : [...context.symbols];
  return producers.flatMap((producer) => symbols.map((symbol) => signalTopic(producer, symbol)));
}

/**
 * One signal client's session. Most deliveries reach it through uWS topic fan-out (see `signalTopic`), so
 * its sent count is derived from the topics' publish counters since it joined.
 */
export class SignalConnection implements ProtocolSession {
  readonly connection: WsConnection<SignalContext>;
  catchUp: CatchUp | undefined;
  /** The uWS topics its filter selects (joined once it is live). */
  readonly topics: readonly string[];
  /** Counter of the joined topics when it joined; undefined while it is not joined. */
  #topicBaseline: number | undefined;
  /** Sent by fan-out during earlier stays on the topics (a bus outage takes a client off them for a while). */
  #sentBefore = 0;
  readonly #publishedCount: PublishedCount;
  readonly #onMessage: (session: SignalConnection, text: string) => void;
  readonly #onClose: (session: SignalConnection) => void;

  constructor(
    connection: WsConnection<SignalContext>,
    publishedCount: PublishedCount,
    handlers: { onMessage: (session: SignalConnection, text: string) => void; onClose: (session: SignalConnection) => void },
  ) {
    this.connection = connection;
    this.topics = topicsOf(connection.context);
    this.#publishedCount = publishedCount;
    this.#onMessage = handlers.onMessage;
    this.#onClose = handlers.onClose;
  }

  get clientId(): string {
    return this.connection.clientId;
  }

  get symbols(): ReadonlySet<string> | undefined {
    return this.connection.context.symbols;
  }

  get sources(): ReadonlySet<string> | undefined {
    return this.connection.context.sources;
  }

  get closed(): boolean {
    return this.connection.closed;
  }

  /** Whether its filter selects a signal of this symbol from this producer. */
  wants(symbol: string, source: string): boolean {
    const { symbols, sources } = this;
    return (symbols === undefined || symbols.has(symbol)) && (sources === undefined || sources.has(source));
  }

  /** Sends a frame to this client alone (replay, test signals, errors). False when it is gone. */
  sendAlone(frame: string): boolean {
    return this.connection.send(frame);
  }

  /** Joins the uWS topics: from now on live signals reach it by fan-out. */
  joinTopics(): void {
    if (this.closed || this.joined) {
      return;
    }
    this.#topicBaseline = this.#publishedCount(this.topics);
    for (const topic of this.topics) {
      this.connection.subscribe(topic);
    }
  }

  /** True while it is on the uWS topics (live signals reach it by fan-out). */
  get joined(): boolean {
    return this.#topicBaseline !== undefined;
  }

  /** Leaves the uWS topics: live signals stop reaching it until it joins again. */
  leaveTopics(): void {
    if (this.#topicBaseline === undefined) {
      return;
    }
    this.#sentBefore = this.sentByFanOut();
    this.#topicBaseline = undefined;
    for (const topic of this.topics) {
      this.connection.unsubscribe(topic);
    }
  }

  sentByFanOut(): number {
    return this.#sentBefore + (this.#topicBaseline === undefined ? 0 : this.#publishedCount(this.topics) - this.#topicBaseline);
  }

  /** For the client list: `signals:<producer>:<symbol or all>`. */
  subscriptions(): string[] {
    return this.topics.map((topic) => `signals:${topic.slice('sig:'.length).replace(':s:', ':')}`);
  }

  onMessage(text: string): void {
    this.#onMessage(this, text);
  }

  onClose(): void {
    this.#onClose(this);
  }
}
