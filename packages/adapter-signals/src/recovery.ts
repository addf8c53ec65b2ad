import { parseMessageId } from '@gw/bus';
import type { Bus, Envelope, HistoryRead } from '@gw/bus';
import type { Logger } from '@gw/core';
import type { GatewayMetrics } from '@gw/metrics';
import { signalSchema, signalsTopic } from '@gw/topics';
import type { Signal } from '@gw/topics';
import type { SignalConnection } from './connection.js';
import { recoveryFrame, signalFrame } from './frames.js';
import type { LiveSignal, RecentSignals } from './recent.js';

/** A catching-up client that has not seen live signals reach its position by then is re-read from history. */
const CATCH_UP_TIMEOUT_MS = 5_000;

export interface RecoveryDeps {
  bus: Bus;
  recent: RecentSignals;
  logger: Logger;
  metrics: GatewayMetrics;
}

/**
 * `?since=<id>`: replay what the client missed, then hand it over to the live uWS topics with no gap and no
 * duplicate, while signals keep being published.
 *
 * Live signals reach clients by uWS topic fan-out, which cannot skip one client, so the hand-over must happen
 * at a point where everything up to the live stream's position has been sent to the client and nothing after
 * it: (1) read history after `since` (async); (2) send it; (3) send the live signals this process received
 * while the read was in flight (the `RecentSignals` ring); (4) join the topics — steps 2–4 synchronously, so
 * no live signal can slip between them. When the history read is ahead of the live stream instead (the bus
 * delivered the append to history before the live copy), the client waits in `catching`: each live signal
 * after its position is sent to it alone until the live stream reaches that position, then it joins. A gap
 * seen on the way (a live message lost by the bus) or a stall triggers a fresh history read.
 *
 * Positions are those of the one `signals` history every producer appends to, so a filter (`?sources=`,
 * `?symbols=`) only decides what is sent, never where a client stands: signals of other producers advance
 * its position without being sent, and the hand-over has no gap and no duplicate among what it selects.
 */
export class Recovery {
  readonly #deps: RecoveryDeps;
  readonly #catching = new Set<SignalConnection>();
  readonly #timer: NodeJS.Timeout;

  constructor(deps: RecoveryDeps) {
    this.#deps = deps;
    this.#timer = setInterval(() => {
      const now = Date.now();
      for (const connection of this.#catching) {
        if (connection.catchUp !== undefined && now - connection.catchUp.startedAt > CATCH_UP_TIMEOUT_MS) {
          this.#resync(connection);
        }
      }
    }, 1_000);
    this.#timer.unref();
  }

  start(connection: SignalConnection, since: string): void {
    if (!connection.closed) {
      void this.#first(connection, since);
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
        this.#join(connection);
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
        this.#join(connection);
      }
    }
    return sent;
  }

  forget(connection: SignalConnection): void {
    this.#catching.delete(connection);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#catching.clear();
  }

  async #first(connection: SignalConnection, since: string): Promise<void> {
    const read = await this.#read(connection, since);
    if (read === undefined || connection.closed) {
      return;
    }
    // An unreadable `since` names no position: replaying the whole history would flood a confused client.
    const frames = !read.recovered && read.reason === 'invalid_id' ? [] : this.#frames(connection, read.messages);
    const position = parseMessageId(read.position);
    const extra = position === undefined ? [] : (this.#deps.recent.after(position.epoch, position.seq) ?? []);
    const extraFrames = extra.filter((s) => connection.wants(s.symbol, s.source)).map((s) => s.frame);
    const replayed = frames.length + extraFrames.length;
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
    this.#deliver(connection, frames, read.position);
  }

  /** Reads history; on a bus failure tells the client it could not recover and continues live. */
  async #read(connection: SignalConnection, since: string): Promise<HistoryRead<Signal> | undefined> {
    try {
      return await this.#deps.bus.readSince<Signal>(signalsTopic, since);
    } catch (error) {
      this.#deps.logger.warn({ err: error, client_id: connection.clientId }, 'signal history unavailable');
      if (!connection.closed) {
        connection.sendAlone(
          recoveryFrame({ type: 'recovery', recovered: false, reason: 'unavailable', missed_from: null, replayed: 0 }),
        );
        connection.joinTopics();
      }
      return undefined;
    }
  }

  #frames(connection: SignalConnection, messages: readonly Envelope<Signal>[]): string[] {
    const frames: string[] = [];
    for (const message of messages) {
      const parsed = signalSchema.safeParse(message.data);
      if (parsed.success && connection.wants(parsed.data.content.symbol, parsed.data.source)) {
        frames.push(signalFrame(parsed.data, message.id, false));
      }
    }
    return frames;
  }

  /** Sends `frames` (history up to `position`), then the ring's signals after it, then joins or waits. */
  #deliver(connection: SignalConnection, frames: readonly string[], position: string): void {
    for (const frame of frames) {
      connection.sendAlone(frame);
    }
    const at = parseMessageId(position);
    const live = this.#deps.recent.last();
    if (at === undefined || live === undefined || live.epoch !== at.epoch) {
      // Nothing live to line up with (no signal received yet, or a new epoch): every later live signal is new.
      this.#join(connection);
      return;
    }
    if (live.seq < at.seq) {
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
    for (const signal of extra) {
      if (connection.wants(signal.symbol, signal.source)) {
        connection.sendAlone(signal.frame);
      }
    }
    this.#join(connection);
  }

  #join(connection: SignalConnection): void {
    this.#catching.delete(connection);
    connection.catchUp = undefined;
    connection.joinTopics();
  }

  /** Reads history again from the last signal sent to this client and delivers from there. */
  #resync(connection: SignalConnection): void {
    const catchUp = connection.catchUp;
    if (catchUp === undefined) {
      return;
    }
    connection.catchUp = undefined; // onLive skips it until the read is back
    const from = `${catchUp.epoch}:${catchUp.lastSeq}`;
    void this.#read(connection, from).then((read) => {
      if (read === undefined || connection.closed) {
        this.#catching.delete(connection);
        return;
      }
      if (!read.recovered) {
        this.#deps.logger.warn({ client_id: connection.clientId, reason: read.reason }, 'catch-up lost signals');
      }
      this.#deliver(connection, this.#frames(connection, read.messages), read.position);
    });
  }
}
