import type { OutgoingHttpHeaders } from 'node:http';
import { WebSocket as UpstreamSocket } from 'ws';
import type { RawData } from 'ws';
import type { HttpRequest, HttpResponse, WebSocket, WebSocketBehavior } from '@gw/uws';

/**
 * WebSocket upgrades of Engine.IO sessions that live on a sibling loop (see loop-routing.ts): the loop that
 * receives such an upgrade accepts it and relays its frames to and from a WebSocket it opens to the owner's
 * private port, with the client's path, query and end-to-end headers. To the client it is the owner's
 * WebSocket; to the owner it is a WebSocket from the client, which engine.io upgrades the session to as usual
 * (the probe, the upgrade packet, then the session's traffic). A TCP connection cannot move between processes:
 * this loop stays in the path for the WebSocket's lifetime.
 *
 * Guarantees of a relayed WebSocket:
 * - frames keep their kind (text or binary) and order both ways;
 * - the client's frames sent before the owner's WebSocket is open are held, up to `maxBufferedBytes`; past it
 *   both sides close with 1013;
 * - backpressure: while the client does not read, the owner's WebSocket is paused (it reads no more frames,
 *   so the owner's own buffer for this session fills, as it would for a direct client); bytes held for either
 *   side past `maxBufferedBytes` (a client or an owner that does not read), or a frame the client's uWS would
 *   drop (past the behavior's `maxBackpressure`), close both sides with 1013;
 * - a close on either side closes the other with the same code and reason when that code may be sent (1005,
 *   no code, gives a close without code; 1006, a connection cut, cuts the connection to the owner, or closes
 *   the client with 1011);
 * - an owner that cannot be reached, or that refuses the upgrade (an unknown session: 400), closes the client
 *   with 1011 and a reason: the client's Engine.IO treats it as a failed upgrade and keeps polling.
 */

export interface LoopRelayOptions {
  /** Every loop's private port on 127.0.0.1, indexed by loop. */
  privatePorts: readonly number[];
  /** Bytes held for either side before both close (see above). */
  maxBufferedBytes: number;
  /** How long the owner may take to accept the relayed upgrade. */
  connectTimeoutMs: number;
  /** Called when the owner cannot be reached (not when it answers, even with a refusal). */
  unreachable: (owner: number, reason: string) => void;
  /** Called when the owner accepted an upgrade. */
  reachable: (owner: number) => void;
}

/**
 * Bytes of the client's buffer past which the owner's WebSocket is paused until the client reads (drain): a
 * quarter of the behavior's `maxBackpressure` (uWS drops a frame sent past it, which a relay must not), at
 * most 64 KiB.
 */
function clientHighWater(behavior: WebSocketBehavior<unknown>): number {
  return Math.min(64 * 1024, Math.floor((behavior.maxBackpressure ?? 64 * 1024) / 4));
}

/** The key of the uWS user data that marks a relayed WebSocket. */
const relayKey = 'loopRelay';

interface RelayUserData {
  [relayKey]?: Relay;
}

/** Wraps the WebSocket behavior engine.io registers: relayed sockets are handled here, all others by `behavior`. */
export function relayingBehavior(
  behavior: WebSocketBehavior<unknown>,
  options: LoopRelayOptions,
  relayOwner: (req: HttpRequest) => number | undefined,
  relayHeaders: (req: HttpRequest, res: HttpResponse) => OutgoingHttpHeaders,
): WebSocketBehavior<unknown> {
  const { upgrade, open, message, drain, close, ping, pong, subscription } = behavior;
  const relayOptions = { ...options, highWater: clientHighWater(behavior) };
  return {
    ...behavior,
    upgrade: (res, req, context) => {
      const owner = relayOwner(req);
      if (owner === undefined) {
        if (upgrade !== undefined) {
          return upgrade(res, req, context);
        }
        // What uWS does without an upgrade handler.
        res.upgrade({}, req.getHeader('sec-websocket-key'), req.getHeader('sec-websocket-protocol'), req.getHeader('sec-websocket-extensions'), context);
        return undefined;
      }
      // uWS's request is only valid during this call: copy what the relay needs, then upgrade at once.
      const query = req.getQuery();
      const relay = new Relay(owner, `${req.getUrl()}?${query}`, relayHeaders(req, res), relayOptions);
      const userData: RelayUserData = { [relayKey]: relay };
      // The client's protocol and extensions answered as engine.io answers them (it uses neither).
      res.upgrade(userData, req.getHeader('sec-websocket-key'), req.getHeader('sec-websocket-protocol'), req.getHeader('sec-websocket-extensions'), context);
      return undefined;
    },
    open: (ws) => {
      const relay = relayOf(ws);
      if (relay === undefined) {
        return open?.(ws);
      }
      relay.open(ws);
      return undefined;
    },
    message: (ws, data, isBinary) => {
      const relay = relayOf(ws);
      if (relay === undefined) {
        return message?.(ws, data, isBinary);
      }
      relay.fromClient(data, isBinary);
      return undefined;
    },
    drain: (ws) => {
      const relay = relayOf(ws);
      if (relay === undefined) {
        drain?.(ws);
        return;
      }
      relay.clientDrained();
    },
    close: (ws, code, reason) => {
      const relay = relayOf(ws);
      if (relay === undefined) {
        close?.(ws, code, reason);
        return;
      }
      relay.clientClosed(code, reason);
    },
    // Control frames and topics of relayed sockets stay here (uWS answers pings itself).
    ...(ping === undefined ? {} : { ping: unlessRelayed(ping) }),
    ...(pong === undefined ? {} : { pong: unlessRelayed(pong) }),
    ...(subscription === undefined ? {} : { subscription: unlessRelayed(subscription) }),
  };
}

function relayOf(ws: WebSocket<unknown>): Relay | undefined {
  return (ws.getUserData() as RelayUserData | undefined)?.[relayKey];
}

/** `handler`, called for the sockets that are not relayed. */
function unlessRelayed<A extends unknown[]>(handler: (ws: WebSocket<unknown>, ...args: A) => unknown): (ws: WebSocket<unknown>, ...args: A) => void {
  return (ws, ...args) => {
    if (relayOf(ws) === undefined) {
      void handler(ws, ...args);
    }
  };
}

/** Handshake headers the WebSocket client computes itself (or that name features this relay does not offer). */
const upgradeHeaders = new Set(['sec-websocket-key', 'sec-websocket-version', 'sec-websocket-extensions', 'sec-websocket-protocol']);

class Relay {
  readonly #owner: number;
  readonly #path: string;
  readonly #headers: OutgoingHttpHeaders;
  readonly #options: LoopRelayOptions & { highWater: number };
  #client: WebSocket<unknown> | undefined;
  #clientOpen = false;
  #upstream: UpstreamSocket | undefined;
  #upstreamOpen = false;
  #upstreamFailure: string | undefined;
  #pending: { data: Buffer; binary: boolean }[] = [];
  #pendingBytes = 0;

  constructor(owner: number, path: string, headers: OutgoingHttpHeaders, options: LoopRelayOptions & { highWater: number }) {
    this.#owner = owner;
    this.#path = path;
    this.#options = options;
    const kept: OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(headers)) {
      if (!upgradeHeaders.has(name)) {
        kept[name] = value;
      }
    }
    this.#headers = kept;
  }

  open(client: WebSocket<unknown>): void {
    this.#client = client;
    this.#clientOpen = true;
    const upstream = new UpstreamSocket(`ws://127.0.0.1:${String(this.#options.privatePorts[this.#owner])}${this.#path}`, {
      headers: this.#headers as Record<string, string>,
      // The owner's uWS does not compress (engine.io's default): nothing to negotiate.
      perMessageDeflate: false,
      followRedirects: false,
      handshakeTimeout: this.#options.connectTimeoutMs,
    });
    this.#upstream = upstream;
    upstream.on('open', () => {
      this.#upstreamOpen = true;
      this.#options.reachable(this.#owner);
      const pending = this.#pending;
      this.#pending = [];
      this.#pendingBytes = 0;
      for (const { data, binary } of pending) {
        upstream.send(data, { binary });
      }
    });
    upstream.on('message', (data: RawData, isBinary: boolean) => {
      this.#fromUpstream(data, isBinary);
    });
    upstream.on('error', (error: Error) => {
      this.#upstreamFailure ??= (error as NodeJS.ErrnoException).code ?? error.message;
      // Not when the client left first (closing a connecting WebSocket reports an error too).
      if (!this.#upstreamOpen && this.#clientOpen && isConnectFailure(error)) {
        this.#options.unreachable(this.#owner, this.#upstreamFailure);
      }
    });
    upstream.on('close', (code: number, reason: Buffer) => {
      this.#upstreamClosed(code, reason);
    });
  }

  fromClient(message: ArrayBuffer, isBinary: boolean): void {
    // uWS reuses the message's memory after this callback returns: copy it.
    const data = Buffer.from(new Uint8Array(message));
    const upstream = this.#upstream;
    if (upstream !== undefined && this.#upstreamOpen) {
      upstream.send(data, { binary: isBinary });
      if (upstream.bufferedAmount > this.#options.maxBufferedBytes) {
        this.#closeBoth(1013, 'the gateway process holding this session does not keep up: reconnect');
      }
      return;
    }
    this.#pending.push({ data, binary: isBinary });
    this.#pendingBytes += data.byteLength;
    if (this.#pendingBytes > this.#options.maxBufferedBytes) {
      this.#closeBoth(1013, 'too much data before the gateway process holding this session answered: reconnect');
    }
  }

  clientDrained(): void {
    const client = this.#client;
    if (client !== undefined && this.#clientOpen && client.getBufferedAmount() <= this.#options.highWater) {
      this.#upstream?.resume();
    }
  }

  clientClosed(code: number, reason: ArrayBuffer): void {
    this.#clientOpen = false;
    this.#pending = [];
    this.#closeUpstream(code, closeReason(Buffer.from(new Uint8Array(reason))));
  }

  #fromUpstream(data: RawData, isBinary: boolean): void {
    const client = this.#client;
    if (client === undefined || !this.#clientOpen) {
      return;
    }
    const payload = Array.isArray(data) ? Buffer.concat(data) : data;
    let status = 1;
    client.cork(() => {
      status = client.send(payload, isBinary);
    });
    // 2: dropped over the behavior's maxBackpressure.
    if (status === 2 || client.getBufferedAmount() > this.#options.maxBufferedBytes) {
      this.#closeBoth(1013, 'the client does not read fast enough: reconnect');
      return;
    }
    if (client.getBufferedAmount() > this.#options.highWater) {
      this.#upstream?.pause();
    }
  }

  #upstreamClosed(code: number, reason: Buffer): void {
    const client = this.#client;
    this.#upstreamOpen = false;
    if (client === undefined || !this.#clientOpen) {
      return;
    }
    this.#clientOpen = false;
    const failure = this.#upstreamFailure;
    client.cork(() => {
      if (failure !== undefined && code === 1006) {
        client.end(1011, closeReason(Buffer.from(`gateway loop ${String(this.#owner)} holding this session: ${failure}`)));
      } else if (sendableCode(code)) {
        client.end(code, closeReason(reason));
      } else if (code === 1006) {
        client.end(1011, closeReason(Buffer.from(`gateway loop ${String(this.#owner)} holding this session is gone`)));
      } else {
        client.end();
      }
    });
  }

  #closeBoth(code: number, reason: string): void {
    const client = this.#client;
    if (client !== undefined && this.#clientOpen) {
      this.#clientOpen = false;
      client.cork(() => {
        client.end(code, reason);
      });
    }
    this.#pending = [];
    this.#closeUpstream(code, reason);
  }

  /**
   * Closes the WebSocket to the owner with `code` and `reason` when the code may be sent (without a code
   * otherwise); a handshake still running, or a cut connection (1006), is cut.
   */
  #closeUpstream(code: number, reason: string): void {
    const upstream = this.#upstream;
    if (upstream === undefined || upstream.readyState === UpstreamSocket.CLOSED || upstream.readyState === UpstreamSocket.CLOSING) {
      return;
    }
    if (upstream.readyState === UpstreamSocket.CONNECTING || code === 1006) {
      upstream.terminate();
    } else if (sendableCode(code)) {
      upstream.close(code, reason);
    } else {
      upstream.close();
    }
  }
}

/** Codes a close frame may carry (RFC 6455 section 7.4): not 1004, 1005, 1006, 1015, nor outside the ranges. */
function sendableCode(code: number): boolean {
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);
}

/** A close reason within a close frame's 123 bytes, cut at a character boundary. */
function closeReason(reason: Buffer): string {
  let text = reason.toString();
  while (Buffer.byteLength(text) > 123) {
    text = text.slice(0, -1);
  }
  return text;
}

/** The owner could not be reached (as opposed to an answer other than 101, which is the owner's word). */
function isConnectFailure(error: Error): boolean {
  return !error.message.startsWith('Unexpected server response');
}
