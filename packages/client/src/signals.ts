import { GatewayClientError } from './errors.js';
import type { Listener } from './emitter.js';
import { ClientEvents } from './lifecycle.js';
import type { ClientState, ConnectionEvents } from './lifecycle.js';
import { ReconnectingWebSocket } from './reconnecting-websocket.js';
import type { WebSocketClientOptions } from './reconnecting-websocket.js';
import type { TokenProvider } from './token.js';
import type { RecoveryFrame, SignalErrorFrame, SignalFrame } from './wire-types.js';

export interface SignalsClientOptions extends WebSocketClientOptions {
  /** `ws(s)://HOST:PORT/ws/signals` (or `/`). */
  url: string | URL;
  /** The JWT for each (re)connect; the signal protocol always requires one. */
  getToken: TokenProvider;
  /** Only these symbols (`?symbols=`); all signals when absent. */
  symbols?: readonly string[];
  /**
   * Only these producers (`?sources=`): `['crypto-signals', 'volume_wave']`, or `['*']` for every producer.
   * Absent: the gateway's default set (`SIGNALS_DEFAULT_SOURCES`: crypto signals and signals published
   * through the API, what the legacy signal service carried). Recovery with `since` follows the same filter.
   */
  sources?: readonly string[];
  /** Resume after this signal id (kept from an earlier session), as if the client had just reconnected. */
  since?: string;
}

/**
 * A `recovery` notice from the server. It comes (1) as the first frame of a connection made with `?since=`,
 * before the replay, and (2) mid-stream, without a reconnect, when the gateway node's bus connection came back
 * and signals published meanwhile are gone (a node sends this one only for a loss).
 *
 * `since` is where the client stood when the notice came: the id the connection resumed after (1), or the id of
 * the last signal it had received (2); `''` when it had received none yet. `recovered: false` means signals
 * after `since` are gone (`reason`: `too_old`, `epoch_changed`, `invalid_id`, `unavailable`); `missedFrom` is the
 * first lost id when the server knows it. Either way the replayed signals (`replayed` of them) follow, then live
 * ones.
 */
export type SignalRecovery =
  | { since: string; recovered: true; replayed: number; position?: string }
  | { since: string; recovered: false; replayed: number; reason: string; missedFrom: string | null };

/** `connect`: `since` is the id this connection resumed after (undefined on a fresh start). */
export interface SignalsConnected {
  since: string | undefined;
}

interface SignalsEvents extends ConnectionEvents<SignalsConnected> {
  signal: SignalFrame;
  recovery: SignalRecovery;
}

/** A history position `"<epoch>:<seq>"`, split for ordering. */
function parseSignalId(id: string): { epoch: string; seq: number } | undefined {
  const colon = id.lastIndexOf(':');
  const seq = Number(id.slice(colon + 1));
  return colon > 0 && Number.isSafeInteger(seq) ? { epoch: id.slice(0, colon), seq } : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Client of the signal broadcast protocol (`/ws/signals`, the legacy signal service's).
 *
 * Guarantees: it remembers the id of the last signal it delivered and reconnects with `?since=<id>`, so within
 * the server's history no signal is missed and none is delivered twice (a signal whose id is not after the last
 * one is dropped); when the history no longer reaches back, `onRecovery` says so (`recovered: false`) rather than
 * leaving a silent gap, after a reconnect as well as mid-stream (the gateway node lost signals while cut off from
 * its bus). After such a loss the dedup guard starts over from the next signal, since the server's history may
 * then be behind the last id. Test signals (`is_test: true`) have no id and do not move the position. Before the
 * first signal there is no position (unless `since` was given), so a connection lost before any signal arrived
 * resumes live only.
 */
export class SignalsClient extends ClientEvents<SignalsEvents> {
  readonly #connection: ReconnectingWebSocket;
  readonly #url: URL;
  readonly #symbols: readonly string[] | undefined;
  readonly #sources: readonly string[] | undefined;
  #lastId: string | undefined;
  #last: { epoch: string; seq: number } | undefined;
  #attemptSince: string | undefined;
  /** The current connection was made with `?since=` and its recovery notice has not come yet. */
  #connectNoticeDue = false;

  constructor(options: SignalsClientOptions) {
    super();
    this.#url = new URL(String(options.url));
    this.#symbols = options.symbols;
    this.#sources = options.sources;
    if (options.since !== undefined) {
      this.#remember(options.since);
    }
    this.#connection = new ReconnectingWebSocket(options, options.getToken, {
      url: () => this.#nextUrl(),
      opened: () => {
        this.#connectNoticeDue = this.#attemptSince !== undefined;
        this.events.emit('connect', { since: this.#attemptSince });
      },
      message: (text) => {
        this.#onFrame(text);
      },
      closed: (info) => {
        this.events.emit('disconnect', info);
      },
      reconnecting: (info) => {
        this.events.emit('reconnecting', info);
      },
      tokenRefreshed: (info) => {
        this.events.emit('tokenRefreshed', info);
      },
      error: (error) => {
        this.events.emit('error', error);
      },
    });
    this.#connection.start();
  }

  /** Every buy/sell signal: history replayed after a reconnect first, then live ones, in order. */
  onSignal(listener: Listener<SignalFrame>): () => void {
    return this.events.on('signal', listener);
  }

  /**
   * After each `?since=` connection: whether everything missed could be replayed. Also mid-stream, without a
   * reconnect, when signals were lost while the gateway node was cut off from its bus (`recovered: false`).
   */
  onRecovery(listener: Listener<SignalRecovery>): () => void {
    return this.events.on('recovery', listener);
  }

  /** The id of the last signal delivered: the `since` of the next reconnection. */
  get lastSignalId(): string | undefined {
    return this.#lastId;
  }

  get state(): ClientState {
    return this.#connection.state;
  }

  /** Asks the server for a test signal (`is_test: true`, to this client alone). False when not connected. */
  requestTestSignal(): boolean {
    return this.#connection.send('test');
  }

  close(): void {
    this.#connection.close();
  }

  #nextUrl(): URL {
    const url = new URL(this.#url.href);
    if (this.#symbols !== undefined && this.#symbols.length > 0) {
      url.searchParams.set('symbols', this.#symbols.join(','));
    }
    if (this.#sources !== undefined && this.#sources.length > 0) {
      url.searchParams.set('sources', this.#sources.join(','));
    }
    this.#attemptSince = this.#lastId;
    if (this.#lastId !== undefined) {
      url.searchParams.set('since', this.#lastId);
    }
    return url;
  }

  #remember(id: string): void {
    this.#lastId = id;
    this.#last = parseSignalId(id);
  }

  #onFrame(text: string): void {
    let frame: unknown;
    try {
      frame = JSON.parse(text);
    } catch {
      frame = undefined;
    }
    if (!isRecord(frame) || typeof frame['type'] !== 'string') {
      this.events.emit('error', new GatewayClientError('client', 'invalid_frame', `not a signal protocol frame: ${text.slice(0, 100)}`));
      return;
    }
    switch (frame['type']) {
      case 'buy':
      case 'sell':
        this.#onSignal(frame as SignalFrame);
        return;
      case 'recovery':
        this.#onRecovery(frame as RecoveryFrame);
        return;
      case 'error': {
        const error = frame as SignalErrorFrame;
        this.events.emit('error', new GatewayClientError('server', error.error, error.message, { details: error }));
        return;
      }
      default:
        // A frame type newer than this client: ignored, as the contract allows additions.
        return;
    }
  }

  #onSignal(signal: SignalFrame): void {
    if (signal.id !== undefined && !signal.is_test) {
      const position = parseSignalId(signal.id);
      const last = this.#last;
      if (position !== undefined && last !== undefined && position.epoch === last.epoch && position.seq <= last.seq) {
        return; // already delivered
      }
      this.#remember(signal.id);
    }
    this.events.emit('signal', signal);
  }

  #onRecovery(frame: RecoveryFrame): void {
    // The first notice of a `?since=` connection answers that `since`; any other one comes mid-stream and
    // speaks of the signals after the last one this client received.
    const since = (this.#connectNoticeDue ? this.#attemptSince : this.#lastId) ?? '';
    this.#connectNoticeDue = false;
    if (frame.recovered) {
      this.events.emit('recovery', {
        since,
        recovered: true,
        replayed: frame.replayed,
        ...(frame.position === undefined ? {} : { position: frame.position }),
      });
    } else {
      // After a loss the server's stream is the reference: what follows may reuse ids at or below the last one
      // (`invalid_id`: the history is behind this client), and none of it was delivered before. The position
      // (`lastSignalId`) stays until the next signal moves it.
      this.#last = undefined;
      this.events.emit('recovery', { since, recovered: false, replayed: frame.replayed, reason: frame.reason, missedFrom: frame.missed_from });
    }
  }
}
