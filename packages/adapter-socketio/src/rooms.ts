import type { Server, Socket } from 'socket.io';
import type { Bus, Envelope } from '@gw/bus';
import type { Logger } from '@gw/core';
import type { GatewayMetrics } from '@gw/metrics';
import type { AfterPublishWrites } from '@gw/uws';
import { tradingEvents, tradingStatusTopic, tradingTopic } from '@gw/topics';
import type { TradingData, TradingStatus, TradingType } from '@gw/topics';
import { BusChannel } from '@gw/bus';
import { errorEvent } from './errors.js';
import type { RoomPublisher } from './room-publish.js';
import type { ErrorEventPayload, PushPayload, ServerToClientEvents } from './schema.js';

export type TradingServer = Server<Record<string, never>, ServerToClientEvents>;
export type TradingSocket = Socket<Record<string, never>, ServerToClientEvents>;

/** The user of a connection, as the channels need it. */
export interface ChannelUser {
  /** The token's `sub` (topic and room names). */
  sub: string;
  /** `user_id` in payloads: a number for a numeric `sub`. */
  userId: number | string;
}

export interface TradingRoomsDeps {
  io: TradingServer;
  bus: Bus;
  metrics: GatewayMetrics;
  logger: Logger;
  formatTimestamp: (ms: number) => string;
  /** Sends an event to a room, serialized once (`createRoomPublisher`); returns the room's size. */
  publish: RoomPublisher;
  /** Observes a push's delivery latency once uWS has written the turn's publishes to the sockets. */
  written: AfterPublishWrites;
  /** The protocol's message counters (stats endpoint). */
  counters: { sent: number; received: number };
}

/**
 * One user's stream of one data type on this process: the bus channel of `trading.<user>.<type>` and the
 * Socket.IO room `<type>_<user>` (the legacy service's room names, e.g. `balance_4`) of the sockets subscribed to it.
 * Each message from the bus becomes one push, built and serialized once and published to the room's uWS topic
 * (`createRoomPublisher`: one `app.publish`, no per-socket work).
 */
export class DataStream {
  readonly type: TradingType;
  readonly room: string;
  readonly channel: BusChannel;
  /** Pushes fanned out so far (per-client message counts are derived from it, not counted per socket). */
  sent = 0;
  readonly #deps: TradingRoomsDeps;
  readonly #user: ChannelUser;
  /**
   * The last message pushed, for a socket joining a live stream. The message, not its push: the bus keeps the
   * message anyway, and a push kept for a second per stream is garbage the old generation has to collect.
   */
  #latest: Envelope | undefined;
  #liveSince = 0;

  constructor(deps: TradingRoomsDeps, user: ChannelUser, type: TradingType, onIdle: () => void) {
    this.#deps = deps;
    this.#user = user;
    this.type = type;
    this.room = `${type}_${user.sub}`;
    this.channel = new BusChannel({
      bus: deps.bus,
      topic: tradingTopic(user.sub, type),
      declareInterest: true,
      onMessage: (message) => {
        this.#push(message);
      },
      onFailure: (error) => {
        deps.logger.warn({ err: error, topic: this.channel.topic }, 'trading channel: bus operation failed; retrying');
        deps.io.to(this.room).emit('error', errorEvent('bus_unavailable', 'bus unavailable'));
      },
      onIdle: () => {
        this.#latest = undefined;
        onIdle();
      },
    });
  }

  /**
   * Adds a socket. When the stream is already live its latest push is sent to that socket alone at once (a
   * new bus subscription would deliver it to the whole room); otherwise the bus subscription delivers it.
   */
  async join(socket: TradingSocket, member: object): Promise<void> {
    await socket.join(this.room);
    const wasLive = this.channel.live;
    if (wasLive && this.#latest !== undefined) {
      const payload = this.#payloadOf(this.#latest);
      this.#emitTo(socket, payload);
      this.#deps.counters.sent += 1;
      this.#deps.metrics.messagesSent('socketio', payload.type, 1);
    }
    if (!wasLive) {
      this.#liveSince = Date.now();
    }
    await this.channel.add(member);
  }

  async leave(socket: TradingSocket, member: object): Promise<void> {
    await socket.leave(this.room);
    await this.channel.remove(member);
  }

  #emitTo(socket: TradingSocket, payload: PushPayload): void {
    (socket.emit as (event: string, payload: PushPayload) => boolean)(payload.type, payload);
  }

  #payloadOf(message: Envelope): PushPayload {
    return {
      type: tradingEvents[this.type],
      data: message.data as TradingData[TradingType],
      timestamp: this.#deps.formatTimestamp(message.publishedAt),
      user_id: this.#user.userId,
    };
  }

  #push(message: Envelope): void {
    const payload = this.#payloadOf(message);
    this.#latest = message;
    const members = this.#deps.publish(this.room, payload.type, payload);
    if (members === 0) {
      return;
    }
    this.sent += 1;
    this.#deps.counters.sent += members;
    this.#deps.metrics.messagesSent('socketio', payload.type, members);
    // The stored value replayed on subscribe is not a delivery of a fresh publish: keep it out of the latency.
    if (message.publishedAt >= this.#liveSince) {
      this.#deps.written.add(message.publishedAt);
    }
  }
}

/**
 * A user's account status (`trading.<user>.status`), relayed as `error` events to the room `trading_<user>`
 * of that user's sockets that subscribed to anything. A socket that joins while the account is in error gets
 * the error at once.
 */
export class StatusStream {
  readonly room: string;
  readonly channel: BusChannel;
  readonly #deps: TradingRoomsDeps;
  #error: ErrorEventPayload | undefined;

  constructor(deps: TradingRoomsDeps, user: ChannelUser, onIdle: () => void) {
    this.#deps = deps;
    this.room = `trading_${user.sub}`;
    this.channel = new BusChannel({
      bus: deps.bus,
      topic: tradingStatusTopic(user.sub),
      declareInterest: false,
      onMessage: (message) => {
        this.#relay(message.data as TradingStatus);
      },
      onFailure: (error) => {
        deps.logger.warn({ err: error, topic: this.channel.topic }, 'trading status channel: bus operation failed; retrying');
      },
      onIdle: () => {
        this.#error = undefined;
        onIdle();
      },
    });
  }

  async join(socket: TradingSocket, member: object): Promise<void> {
    await socket.join(this.room);
    if (this.channel.live && this.#error !== undefined) {
      socket.emit('error', this.#error);
      this.#deps.counters.sent += 1;
      this.#deps.metrics.messagesSent('socketio', 'error', 1);
    }
    await this.channel.add(member);
  }

  async leave(socket: TradingSocket, member: object): Promise<void> {
    await socket.leave(this.room);
    await this.channel.remove(member);
  }

  #relay(status: TradingStatus): void {
    if (status.state === 'ok') {
      this.#error = undefined;
      return;
    }
    const extra = status.retryAt === undefined ? {} : { retry_at: new Date(status.retryAt).toISOString() };
    this.#error = errorEvent(status.code, status.message, extra);
    const members = this.#deps.io.sockets.adapter.rooms.get(this.room)?.size ?? 0;
    if (members > 0) {
      this.#deps.io.to(this.room).emit('error', this.#error);
      this.#deps.counters.sent += members;
      this.#deps.metrics.messagesSent('socketio', 'error', members);
      this.#deps.metrics.clientError('socketio', status.code);
    }
  }
}

/** Every user's streams on this process, created on first use and forgotten when idle. */
export class TradingRooms {
  readonly #deps: TradingRoomsDeps;
  readonly #data = new Map<string, DataStream>();
  readonly #status = new Map<string, StatusStream>();

  constructor(deps: TradingRoomsDeps) {
    this.#deps = deps;
  }

  data(user: ChannelUser, type: TradingType): DataStream {
    const key = `${type}\u0000${user.sub}`;
    let stream = this.#data.get(key);
    if (stream === undefined) {
      const created: DataStream = new DataStream(this.#deps, user, type, () => {
        if (this.#data.get(key) === created) {
          this.#data.delete(key);
        }
      });
      stream = created;
      this.#data.set(key, stream);
    }
    return stream;
  }

  status(user: ChannelUser): StatusStream {
    let stream = this.#status.get(user.sub);
    if (stream === undefined) {
      const created: StatusStream = new StatusStream(this.#deps, user, () => {
        if (this.#status.get(user.sub) === created) {
          this.#status.delete(user.sub);
        }
      });
      stream = created;
      this.#status.set(user.sub, stream);
    }
    return stream;
  }

  /** Data streams that have at least one local socket (for stats). */
  get activeStreams(): number {
    return this.#data.size;
  }

  async close(): Promise<void> {
    const all = [...this.#data.values(), ...this.#status.values()];
    await Promise.all(all.map((stream) => stream.channel.close()));
    this.#data.clear();
    this.#status.clear();
  }
}
