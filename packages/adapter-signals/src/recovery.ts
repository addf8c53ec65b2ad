import { formatMessageId, parseMessageId } from '@gw/bus';
import type { Bus, Envelope, HistoryRead, MessageId } from '@gw/bus';
import { sleep } from '@gw/core';
import type { Logger } from '@gw/core';
import type { GatewayMetrics } from '@gw/metrics';
import { signalSchema, signalsTopic } from '@gw/topics';
import type { Signal } from '@gw/topics';
import type { SignalConnection } from './connection.js';
import { recoveryFrame, signalFrame } from './frames.js';
import type { LiveSignal, RecentSignals } from './recent.js';

/**
 * A catching-up client the live stream has not passed by then goes live: a live copy of what it was sent
 * from history would have arrived long before, so the stream is idle (or lost those copies) and every later
 * signal reaches it by fan-out.
 */
const CATCH_UP_TIMEOUT_MS = 5_000;

/**
 * Clients handed over in one turn of the event loop after an outage; between batches live signals flow on.
 * Each client's own hand-over is one synchronous step, so batching never opens a gap.
 */
const HAND_OVER_BATCH = 200;

/**
 * Waits before reading history again after a read failed while the bus is connected (a command timed out: a
 * busy Redis, or this process's event loop stalled past the timeout in a reconnect storm). A retry then usually
 * succeeds, so the client recovers instead of being told `unavailable`; once they are spent, it is told.
 */
const READ_RETRY_DELAYS_MS = [250, 1_000, 2_000];

export interface RecoveryDeps {
  bus: Bus;
  recent: RecentSignals;
  logger: Logger;
  metrics: GatewayMetrics;
}

/**
 * Where a client stands in the signals history: an id, and when known the `publishedAt` of the signal it
 * names, which tells that signal from another one given the same id after a Redis failover lost it.
 */
type Position = MessageId & { publishedAt?: number };

/** What a filter needs to pick a signal and the wire frame to send it with. */
type Deliverable = Pick<LiveSignal, 'symbol' | 'source' | 'frame'>;

/** A history read with its signals parsed and serialized once, for every client that shares it. */
interface SharedRead {
  read: HistoryRead<Signal>;
  signals: Deliverable[];
}

/**
 * Gap-free hand-over of clients to the live uWS topics, for two kinds of client: one connecting with
 * `?since=<id>`, and one already live whose node's bus subscription went down (signals published meanwhile
 * never reached the node). Both replay what they missed from history, then go live with no gap and no
 * duplicate, while signals keep being published.
 *
 * Live signals reach clients by uWS topic fan-out, which cannot skip one client, so the hand-over must happen
 * at a point where everything up to the live stream's position has been sent to the client and nothing after
 * it: (1) read history after the client's position (async); (2) send it; (3) send the live signals this
 * process received while the read was in flight (the `RecentSignals` ring); (4) join the topics — steps 2–4
 * synchronously, so no live signal can slip between them. When the history read is ahead of the live stream
 * instead (the bus delivered the append to history before the live copy), the client waits in `catching`:
 * each live signal after its position is sent to it alone until the live stream reaches that position, then
 * it joins (or once it has waited `CATCH_UP_TIMEOUT_MS`). A gap seen on the way (a live message lost by the bus)
 * triggers a fresh history read.
 *
 * A bus outage (`interrupt`): every live client leaves the topics and waits at the position it reached (the
 * live stream's last signal, which is all the node remembers per signal: the ring's newest entry). Clients
 * that would go live during the outage wait too. When the subscription is back (`restore`) each waiting
 * position is read from history once and its clients are handed over as above; only a loss is announced
 * (`recovery` with `recovered: false`), since they never asked for a recovery.
 *
 * Positions are those of the one `signals` history every producer appends to, so a filter (`?sources=`,
 * `?symbols=`) only decides what is sent, never where a client stands: signals of other producers advance
 * its position without being sent, and the hand-over has no gap and no duplicate among what it selects.
 */
export class Recovery {
  readonly #deps: RecoveryDeps;
  readonly #catching = new Set<SignalConnection>();
  /** Clients kept off the topics by a bus outage, each at the position it reached (undefined: not known). */
  readonly #waiting = new Map<SignalConnection, Position | undefined>();
  /** From a bus outage until the subscription is restored: clients that would go live wait instead. */
  #interrupted = false;
  /** Counts outages: a history read that started before the latest one is stale. */
  #outages = 0;
  /** The live stream's position before its first signal arrived (where a client live since then stands). */
  #startPosition: MessageId | undefined;
  /**
   * History reads in flight, by the position they read after. In a reconnect storm the clients of a dead node
   * all ask from (nearly) the same id: they share one read instead of sending Redis thousands. Joining a read
   * that started before the client arrived is as safe as a slow read of its own: what arrived live after the
   * read's position is in the ring, and the hand-over takes it from there.
   */
  readonly #reads = new Map<string, Promise<SharedRead>>();
  readonly #timer: NodeJS.Timeout;

  constructor(deps: RecoveryDeps) {
    this.#deps = deps;
    this.#timer = setInterval(() => {
      const now = Date.now();
      for (const connection of this.#catching) {
        if (connection.catchUp !== undefined && now - connection.catchUp.startedAt > CATCH_UP_TIMEOUT_MS) {
          this.join(connection);
        }
      }
    }, 1_000);
    this.#timer.unref();
  }

  /**
   * Reads the topic's position once the subscription is live: until the first live signal arrives, that is
   * where live clients stand if an outage comes. A topic without messages yet gets its sequence created by
   * the read, so the position names the epoch a later outage is compared with.
   */
  async learnStartPosition(): Promise<void> {
    const { bus, logger } = this.#deps;
    try {
      const id = (await bus.position(signalsTopic)) ?? (await bus.readSince(signalsTopic, '')).position;
      this.#startPosition = parseMessageId(id);
    } catch (error) {
      logger.warn({ err: error }, 'signals: could not read the history position; an outage before the first signal is not caught up');
    }
  }

  start(connection: SignalConnection, since: string): void {
    if (!connection.closed) {
      void this.#first(connection, since);
    }
  }

  /** Puts a client on the live topics; during a bus outage it waits at the live stream's position instead. */
  join(connection: SignalConnection): void {
    this.#catching.delete(connection);
    connection.catchUp = undefined;
    if (this.#interrupted) {
      this.#wait(connection, this.#livePosition());
      return;
    }
    connection.joinTopics();
  }

  /**
   * The bus subscription is down: live signals may be missed from now on. Every live client leaves the topics
   * and waits where the live stream stands; a catching-up client waits at its own position.
   */
  interrupt(sessions: Iterable<SignalConnection>): void {
    this.#interrupted = true;
    this.#outages += 1;
    const live = this.#livePosition();
    for (const session of sessions) {
      if (session.joined) {
        this.#wait(session, live);
      } else if (session.catchUp !== undefined) {
        this.#wait(session, { epoch: session.catchUp.epoch, seq: session.catchUp.lastSeq });
      }
    }
  }

  /** The bus subscription is restored: every waiting client gets what it missed, then goes live. */
  restore(): void {
    this.#interrupted = false;
    const byPosition = new Map<string, { at: Position; connections: SignalConnection[] }>();
    for (const [connection, at] of this.#waiting) {
      if (at === undefined) {
        // The node had no position yet (an outage before it could read one): nothing to read from.
        this.#waiting.delete(connection);
        connection.joinTopics();
        continue;
      }
      const key = `${formatMessageId(at.epoch, at.seq)} ${at.publishedAt ?? ''}`;
      const group = byPosition.get(key);
      if (group === undefined) {
        byPosition.set(key, { at, connections: [connection] });
      } else {
        group.connections.push(connection);
      }
    }
    for (const { at, connections } of byPosition.values()) {
      void this.#resume(at, connections, this.#outages);
    }
  }

  /** Called for every live signal after it was published to the topics; returns how many it sent alone. */
  onLive(live: LiveSignal): number {
    let sent = 0;
    for (const connection of this.#catching) {
      const catchUp = connection.catchUp;
      if (catchUp === undefined) {
        continue; // being re-read from history
      }
      if (live.epoch !== catchUp.epoch) {
        // The history it was read from is gone; this signal is the first of the new live stream.
        if (connection.wants(live.symbol, live.source) && connection.sendAlone(live.frame)) {
          sent += 1;
        }
        this.join(connection);
        continue;
      }
      if (live.seq <= catchUp.lastSeq) {
        continue; // already sent from history
      }
      if (live.seq > catchUp.lastSeq + 1) {
        this.#resync(connection); // the bus lost a live message: history has it
        continue;
      }
      if (connection.wants(live.symbol, live.source) && connection.sendAlone(live.frame)) {
        sent += 1;
      }
      catchUp.lastSeq = live.seq;
      if (live.seq >= catchUp.targetSeq) {
        this.join(connection);
      }
    }
    return sent;
  }

  forget(connection: SignalConnection): void {
    this.#catching.delete(connection);
    this.#waiting.delete(connection);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#catching.clear();
    this.#waiting.clear();
  }

  /** The last live signal this node received (one ring entry per signal: nothing else to keep). */
  #livePosition(): Position | undefined {
    const last = this.#deps.recent.last();
    return last === undefined ? this.#startPosition : { epoch: last.epoch, seq: last.seq, publishedAt: last.publishedAt };
  }

  #wait(connection: SignalConnection, at: Position | undefined): void {
    this.#catching.delete(connection);
    connection.catchUp = undefined;
    connection.leaveTopics();
    if (!connection.closed) {
      this.#waiting.set(connection, at);
    }
  }

  async #first(connection: SignalConnection, since: string): Promise<void> {
    const shared = await this.#read(connection, since);
    if (shared === undefined || connection.closed) {
      return;
    }
    this.#handOver(connection, shared.read, shared.signals, true);
  }

  /**
   * One history read for every client that waited at `at`; stale when another outage began meanwhile. When
   * the signal at `at` is known, the read also checks that history still names it by that id: a Redis
   * failover that lost signals gives their ids again, and as many new signals as were lost would otherwise
   * hide the loss.
   */
  async #resume(at: Position, connections: readonly SignalConnection[], outage: number): Promise<void> {
    let read: HistoryRead<Signal> | undefined;
    try {
      const options = at.publishedAt === undefined ? {} : { sincePublishedAt: at.publishedAt };
      read = await this.#deps.bus.readSince<Signal>(signalsTopic, formatMessageId(at.epoch, at.seq), options);
    } catch (error) {
      if (outage !== this.#outages || this.#deps.bus.state !== 'connected') {
        return; // still waiting: the next restore reads again
      }
      this.#deps.logger.warn({ err: error }, 'signal history unavailable after a bus outage');
    }
    if (outage !== this.#outages) {
      return;
    }
    const signals = read === undefined ? [] : this.#signals(read.messages);
    for (let i = 0; i < connections.length; i += 1) {
      if (i > 0 && i % HAND_OVER_BATCH === 0) {
        await new Promise(setImmediate);
        if (outage !== this.#outages) {
          return; // the rest still wait, at the same positions
        }
      }
      const connection = connections[i];
      if (connection === undefined || !this.#waiting.delete(connection) || connection.closed) {
        continue;
      }
      if (read === undefined) {
        this.#unavailable(connection);
      } else {
        this.#handOver(connection, read, signals, false);
      }
    }
  }

  /**
   * Sends the history `read` selects for this client and the notice (`always` for a `?since=` client, else
   * only for a loss), then lines it up with the live stream.
   */
  #handOver(connection: SignalConnection, read: HistoryRead<Signal>, signals: readonly Deliverable[], always: boolean): void {
    // An id beyond the topic names no position of it: replaying the whole history would flood a confused client.
    const beyondHistory = !read.recovered && read.reason === 'invalid_id';
    // After an outage, a history that lost what this node delivered (Redis restored from an older copy, or a
    // failover that lost acknowledged signals and gave their ids to new ones): the client already has what this
    // node received live, and where it stands in this history is unknown, so nothing is replayed; the notice
    // tells it that signals may be missing, and it goes on live.
    const nothingToReplay = beyondHistory && !always;
    const frames = beyondHistory ? [] : this.#framesFor(connection, signals);
    if (always || !read.recovered) {
      const position = parseMessageId(read.position);
      const extra = position === undefined || nothingToReplay ? [] : (this.#deps.recent.after(position.epoch, position.seq) ?? []);
      const replayed = frames.length + this.#framesFor(connection, extra).length;
      connection.sendAlone(
        recoveryFrame(
          read.recovered
            ? { type: 'recovery', recovered: true, replayed, position: read.position }
            : {
                type: 'recovery',
                recovered: false,
                reason: read.reason,
                missed_from: read.reason === 'invalid_id' ? null : read.missedFrom,
                replayed,
              },
        ),
      );
      this.#deps.metrics.messagesSent('signals', 'recovery');
    }
    if (nothingToReplay) {
      if (this.#interrupted) {
        this.#wait(connection, parseMessageId(read.position));
      } else {
        this.join(connection);
      }
      return;
    }
    this.#deliver(connection, frames, read.position);
  }

  /**
   * Reads history (or joins a read in flight), again after a failure while the bus stays connected; when it
   * cannot, tells the client and continues live.
   */
  async #read(connection: SignalConnection, since: string): Promise<SharedRead | undefined> {
    for (const delay of READ_RETRY_DELAYS_MS) {
      try {
        return await this.#sharedRead(since);
      } catch (error) {
        if (connection.closed || this.#deps.bus.state !== 'connected') {
          this.#readFailed(connection, error);
          return undefined;
        }
        this.#deps.logger.debug({ err: error, client_id: connection.clientId, retry_in_ms: delay }, 'signal history read failed; reading again');
        await sleep(delay);
      }
    }
    try {
      return await this.#sharedRead(since);
    } catch (error) {
      this.#readFailed(connection, error);
      return undefined;
    }
  }

  #readFailed(connection: SignalConnection, error: unknown): void {
    this.#deps.logger.warn({ err: error, client_id: connection.clientId }, 'signal history unavailable');
    if (!connection.closed) {
      this.#unavailable(connection);
    }
  }

  #sharedRead(since: string): Promise<SharedRead> {
    const inFlight = this.#reads.get(since);
    if (inFlight !== undefined) {
      return inFlight;
    }
    const read = this.#deps.bus
      .readSince<Signal>(signalsTopic, since)
      .then((history) => ({ read: history, signals: this.#signals(history.messages) }));
    this.#reads.set(since, read);
    const settle = (): void => {
      this.#reads.delete(since);
    };
    read.then(settle, settle);
    return read;
  }

  #unavailable(connection: SignalConnection): void {
    connection.sendAlone(recoveryFrame({ type: 'recovery', recovered: false, reason: 'unavailable', missed_from: null, replayed: 0 }));
    this.#deps.metrics.messagesSent('signals', 'recovery');
    this.join(connection);
  }

  /** History messages parsed and serialized once, whatever number of clients they are replayed to. */
  #signals(messages: readonly Envelope<Signal>[]): Deliverable[] {
    const signals: Deliverable[] = [];
    for (const message of messages) {
      const parsed = signalSchema.safeParse(message.data);
      if (parsed.success) {
        const signal = parsed.data;
        signals.push({ symbol: signal.content.symbol, source: signal.source, frame: signalFrame(signal, message.id, false) });
      }
    }
    return signals;
  }

  #framesFor(connection: SignalConnection, signals: readonly Deliverable[]): string[] {
    return signals.filter((s) => connection.wants(s.symbol, s.source)).map((s) => s.frame);
  }

  /** Sends `frames` (history up to `position`), then the ring's signals after it, then joins or waits. */
  #deliver(connection: SignalConnection, frames: readonly string[], position: string): void {
    for (const frame of frames) {
      connection.sendAlone(frame);
    }
    const at = parseMessageId(position);
    if (this.#interrupted && at !== undefined) {
      // The live stream has stopped: the client waits at the history's position for the next restore.
      this.#wait(connection, at);
      return;
    }
    if (at === undefined) {
      this.join(connection);
      return;
    }
    const live = this.#deps.recent.last();
    if (live === undefined || live.epoch !== at.epoch || live.seq < at.seq) {
      // The live stream has not passed the history's position (nothing of its epoch received yet, or behind
      // it): live copies of what was just sent may still be on their way. Wait for the first one after it.
      this.#catching.add(connection);
      connection.catchUp = { epoch: at.epoch, lastSeq: at.seq, targetSeq: at.seq, startedAt: Date.now() };
      return;
    }
    const extra = this.#deps.recent.after(at.epoch, at.seq);
    if (extra === undefined) {
      this.#catching.add(connection);
      connection.catchUp = { epoch: at.epoch, lastSeq: at.seq, targetSeq: at.seq, startedAt: Date.now() };
      this.#resync(connection);
      return;
    }
    for (const frame of this.#framesFor(connection, extra)) {
      connection.sendAlone(frame);
    }
    this.join(connection);
  }

  /** Reads history again from the last signal sent to this client and delivers from there. */
  #resync(connection: SignalConnection): void {
    const catchUp = connection.catchUp;
    if (catchUp === undefined) {
      return;
    }
    connection.catchUp = undefined; // onLive skips it until the read is back
    const from = formatMessageId(catchUp.epoch, catchUp.lastSeq);
    void this.#read(connection, from).then((shared) => {
      if (shared === undefined || connection.closed) {
        this.#catching.delete(connection);
        return;
      }
      const { read, signals } = shared;
      if (!read.recovered) {
        this.#deps.logger.warn({ client_id: connection.clientId, reason: read.reason }, 'catch-up lost signals');
      }
      this.#deliver(connection, this.#framesFor(connection, signals), read.position);
    });
  }
}
