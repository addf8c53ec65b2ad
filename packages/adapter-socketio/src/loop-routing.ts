import { randomBytes } from 'node:crypto';
import { Agent, request as httpRequest } from 'node:http';
import type { ClientRequest, IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { GatewayError } from '@gw/core';
import type { Logger } from '@gw/core';
import { appView, closesAfterResponse, remoteAddressOf, statusLine } from '@gw/uws';
import type { HttpRequest, HttpResponse, TemplatedApp, WebSocketBehavior } from '@gw/uws';
import { relayingBehavior } from './loop-relay.js';
import type { LoopRelayOptions } from './loop-relay.js';

/**
 * Engine.IO sessions across the event-loop processes ("loops") of one node.
 *
 * The loops share the public port (SO_REUSEPORT): the kernel hands each TCP connection to any loop. A
 * WebSocket is one connection, so it stays where it landed; an HTTP long-polling session is not: its long GET
 * and its POSTs come on different connections, hence often to a loop that does not hold the session, which
 * engine.io answers 400 "Session ID unknown". So:
 * - a session id names its loop (`loopSessionId`): `<loop index>.<20 random base64url characters>`, the
 *   index in decimal without leading zeros; the dot never occurs in engine.io's ids, so the prefix is
 *   unambiguous, and the random part is engine.io's own (15 random bytes, as base64id);
 * - a loop that receives a polling request (GET or POST with `sid`) for another loop's session forwards it to
 *   that loop's private port on 127.0.0.1 and relays the answer (`withLoopRouting`);
 * - a loop that receives the session's upgrade to WebSocket (a WebSocket handshake with `sid`) for another
 *   loop's session accepts it and relays its frames to a WebSocket it opens to the owner's private port
 *   (loop-relay.ts): a TCP connection cannot move between processes, so this loop stays in the path. The
 *   upgrade therefore succeeds whichever loop it lands on.
 *
 * What stays local: handshakes (no `sid`: the session is born on the loop that answers, on polling or directly
 * on WebSocket), a `sid` that names no loop (garbage, an index out of range, this loop's own: engine.io
 * answers as it always does, 400 for an unknown session), and other methods (CORS preflights are answered the
 * same by every loop).
 */

/** The loop that issued a session id made by `loopSessionId`, or undefined when `sid` is not of that form. */
export function sessionLoop(sid: string): number | undefined {
  const match = sessionIdForm.exec(sid);
  return match === null ? undefined : Number(match[1]);
}

const sessionIdForm = /^(0|[1-9]\d{0,3})\.[A-Za-z0-9_-]{20}$/;

/**
 * An Engine.IO id generator for loop `self`: install it as `io.engine.generateId` (after `io.attachApp`, which
 * creates the engine; engine.io calls it at each handshake). Ids are `<self>.<random>`, as random as
 * engine.io's default.
 */
export function loopSessionId(self: number): () => string {
  checkLoopIndex(self, 'loop index');
  const prefix = `${String(self)}.`;
  return () => prefix + randomBytes(15).toString('base64url');
}

export interface LoopRoutingOptions {
  /** This loop's index, 0-based: the prefix of the session ids it issues (`loopSessionId(self)`). */
  self: number;
  /**
   * Every loop's private port on 127.0.0.1, indexed by loop (this loop's own entry included, unused here). A
   * session id naming an index without an entry is not routed (engine.io answers 400).
   */
  privatePorts: readonly number[];
  /** engine.io's `maxHttpBufferSize`: a forwarded POST body over it is answered 413 here. */
  maxBodyBytes: number;
  /**
   * How long a forwarded request may wait for the owner's answer before it is answered 503. A long-poll GET
   * is answered by the owner within pingInterval (its ping); give at least pingInterval + pingTimeout.
   */
  responseTimeoutMs: number;
  /** Connections kept open to each peer for long-poll GETs (one per polling session being served); default 1024. */
  maxPollSocketsPerPeer?: number;
  /** Connections to each peer for POSTs (short); default 64. Separate from the GETs' so a POST never waits behind long polls. */
  maxPostSocketsPerPeer?: number;
  /**
   * A relayed WebSocket upgrade: bytes held for either side (the client's frames before the owner accepted
   * the upgrade, a side that does not read) before both are closed with 1013; default 1 MiB.
   */
  maxRelayBufferedBytes?: number;
  /** A relayed WebSocket upgrade: how long the owner may take to accept it; default 10 s. */
  relayConnectTimeoutMs?: number;
  /** Where an unreachable peer is reported (once per outage, per peer). */
  logger?: Logger;
}

/**
 * The app as socket.io's `attachApp` should see it on loop `options.self`: the handler engine.io registers with
 * `.any(path, handler)` first sends polling requests for other loops' sessions to their owners, and the
 * WebSocket behavior it registers with `.ws(path, behavior)` first relays upgrades of other loops' sessions to
 * their owners (see the top of this file; engine.io's handlers never see a relayed WebSocket); everything else
 * is the app itself. Compose with `withUpgradeCork` either way round: a relayed upgrade completes at once,
 * inside uWS's upgrade callback, which needs no cork of its own.
 *
 * Guarantees of a forwarded request:
 * - it reaches the owner's private port with its method, path, query, body and end-to-end headers (cookie,
 *   origin, user-agent, content-type, accept-encoding...), plus `x-forwarded-for` with this loop's peer
 *   appended (the owner can log the client) and `x-gateway-loop` naming this loop;
 * - a request carrying `x-gateway-loop` is never forwarded again (no cycle when ports are misconfigured);
 * - the client gets the owner's status, headers and body, written under one cork;
 * - a body over `maxBodyBytes` is answered 413 without forwarding;
 * - an owner that cannot be reached, fails mid-answer or does not answer within `responseTimeoutMs` gives a
 *   503 `{"code": 503, "message", "error": "loop_unavailable", "loop"}` (the gateway's error form); the
 *   client's engine.io then drops the session and reconnects (a handshake, answered locally);
 * - a client that goes away aborts the forwarded request, so the owner sees its poll end as it would have
 *   directly.
 */
export function withLoopRouting(app: TemplatedApp, options: LoopRoutingOptions): TemplatedApp {
  const router = new LoopRouter(options);
  return appView(app, {
    any: (target, pattern, handler) => {
      target.any(pattern, (res, req) => {
        if (!router.forward(res, req)) {
          void handler(res, req);
        }
      });
    },
    ws: (target, pattern, behavior) => {
      target.ws(pattern, router.relaying(behavior));
    },
  });
}

/** Names the loop a forwarded request comes from; a request carrying it is served where it arrives. */
const hopHeader = 'x-gateway-loop';

/** Per-connection headers (RFC 9110 section 7.6.1) and the ones the sending side computes itself. */
const requestHopHeaders = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'expect', 'proxy-authorization']);
/** uWS writes its own `content-length`, `date` and `uwebsockets` marker: relaying the owner's would repeat them. */
const responseDropHeaders = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'trailer', 'upgrade', 'content-length', 'date', 'uwebsockets']);

/**
 * Idle keep-alive connections to a peer are closed after this long, well before uWS closes an idle HTTP
 * connection (10 s): a request is never sent on a connection the peer is closing at that moment.
 */
const idleSocketMs = 4_000;

interface Upstream {
  request: ClientRequest | undefined;
  aborted: boolean;
}

class LoopRouter {
  readonly #self: number;
  readonly #ports: readonly number[];
  readonly #maxBodyBytes: number;
  readonly #timeoutMs: number;
  readonly #logger: Logger | undefined;
  readonly #pollAgent: Agent;
  readonly #postAgent: Agent;
  /** Peers whose last forward failed: logged once per outage. */
  readonly #down = new Set<number>();
  readonly #relay: LoopRelayOptions;

  constructor(options: LoopRoutingOptions) {
    checkLoopIndex(options.self, 'loop index');
    for (const [index, port] of options.privatePorts.entries()) {
      if (!Number.isInteger(port) || port < 1 || port > 65_535) {
        throw new GatewayError('config_invalid', { message: `private port of loop ${String(index)}: ${String(port)} is not a TCP port` });
      }
    }
    this.#self = options.self;
    this.#ports = options.privatePorts;
    this.#maxBodyBytes = options.maxBodyBytes;
    this.#timeoutMs = options.responseTimeoutMs;
    this.#logger = options.logger;
    this.#pollAgent = new Agent({ keepAlive: true, timeout: idleSocketMs, maxSockets: options.maxPollSocketsPerPeer ?? 1024 });
    this.#postAgent = new Agent({ keepAlive: true, timeout: idleSocketMs, maxSockets: options.maxPostSocketsPerPeer ?? 64 });
    this.#relay = {
      privatePorts: options.privatePorts,
      maxBufferedBytes: options.maxRelayBufferedBytes ?? 1024 * 1024,
      connectTimeoutMs: options.relayConnectTimeoutMs ?? 10_000,
      unreachable: (owner, reason) => {
        this.#reportDown(owner, reason);
      },
      reachable: (owner) => {
        this.#down.delete(owner);
      },
    };
  }

  /** engine.io's WebSocket behavior, relaying upgrades of other loops' sessions to their owners. */
  relaying(behavior: WebSocketBehavior<unknown>): WebSocketBehavior<unknown> {
    return relayingBehavior(
      behavior,
      this.#relay,
      (req) => this.#relayOwner(req),
      (req, res) => forwardedHeaders(req, remoteAddressOf(res), this.#self),
    );
  }

  /** The owner of an upgrade's session when the upgrade is to be relayed there. */
  #relayOwner(req: HttpRequest): number | undefined {
    // Typed as a string, but undefined when the URL has no query.
    const query: unknown = req.getQuery();
    // A request uWS closes once answered is no WebSocket handshake: engine.io's upgrade handler refuses it.
    if (typeof query !== 'string' || req.getHeader(hopHeader) !== '' || closesAfterResponse(req)) {
      return undefined;
    }
    return this.#ownerOf(query);
  }

  /** Takes the request over when it belongs to another loop's session (true); false leaves it to engine.io. */
  forward(res: HttpResponse, req: HttpRequest): boolean {
    const method = req.getMethod().toUpperCase();
    if (method !== 'GET' && method !== 'POST') {
      return false;
    }
    // Typed as a string, but undefined when the URL has no query (a handshake without parameters).
    const query: unknown = req.getQuery();
    if (typeof query !== 'string') {
      return false;
    }
    const owner = this.#ownerOf(query);
    if (owner === undefined || req.getHeader(hopHeader) !== '') {
      return false;
    }
    // uWS's request is only valid during this call: copy what the forward needs.
    const path = `${req.getUrl()}?${query}`;
    const headers = forwardedHeaders(req, remoteAddressOf(res), this.#self);
    const upstream: Upstream = { request: undefined, aborted: false };
    res.onAborted(() => {
      upstream.aborted = true;
      upstream.request?.destroy();
    });
    if (method === 'GET') {
      this.#send(res, upstream, owner, { method, path, headers, body: undefined });
      return true;
    }
    const declared = Number(req.getHeader('content-length'));
    if (declared > this.#maxBodyBytes) {
      this.#answerTooLarge(res, upstream);
      return true;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    res.onData((chunk, isLast) => {
      if (size > this.#maxBodyBytes) {
        return;
      }
      size += chunk.byteLength;
      if (size > this.#maxBodyBytes) {
        this.#answerTooLarge(res, upstream);
        return;
      }
      // uWS reuses the chunk's memory after this callback returns: copy it.
      chunks.push(Buffer.from(new Uint8Array(chunk)));
      if (isLast) {
        this.#send(res, upstream, owner, { method, path, headers, body: Buffer.concat(chunks) });
      }
    });
    return true;
  }

  /** The loop named by the request's `sid` when it is another loop with a private port; engine.io reads the last `sid`. */
  #ownerOf(query: string): number | undefined {
    if (!query.includes('sid=')) {
      return undefined;
    }
    const sids = new URLSearchParams(query).getAll('sid');
    const sid = sids.at(-1);
    const loop = sid === undefined ? undefined : sessionLoop(sid);
    if (loop === undefined || loop === this.#self || loop >= this.#ports.length) {
      return undefined;
    }
    return loop;
  }

  #send(res: HttpResponse, upstream: Upstream, owner: number, message: { method: string; path: string; headers: OutgoingHttpHeaders; body: Buffer | undefined }): void {
    if (upstream.aborted) {
      return;
    }
    const request = httpRequest({
      host: '127.0.0.1',
      port: this.#ports[owner],
      method: message.method,
      path: message.path,
      headers: message.headers,
      agent: message.method === 'GET' ? this.#pollAgent : this.#postAgent,
    });
    upstream.request = request;
    let failed = false;
    const fail = (reason: string): void => {
      if (failed) {
        return;
      }
      failed = true;
      request.destroy();
      if (upstream.aborted) {
        return;
      }
      this.#reportDown(owner, reason);
      writeLoopUnavailable(res, owner);
    };
    request.setTimeout(this.#timeoutMs, () => {
      fail(`no answer within ${String(this.#timeoutMs)} ms`);
    });
    request.on('error', (error) => {
      fail(errorReason(error));
    });
    request.on('response', (response: IncomingMessage) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
      });
      response.on('error', (error) => {
        fail(errorReason(error));
      });
      response.on('end', () => {
        if (failed || upstream.aborted) {
          return;
        }
        failed = true;
        this.#down.delete(owner);
        relay(res, response, Buffer.concat(chunks));
      });
      // Closed without its end (the owner died mid-answer).
      response.on('close', () => {
        fail('the answer was cut short');
      });
    });
    request.end(message.body);
  }

  #answerTooLarge(res: HttpResponse, upstream: Upstream): void {
    if (upstream.aborted) {
      return;
    }
    upstream.aborted = true;
    const body = { code: 413, message: `request body over ${String(this.#maxBodyBytes)} bytes`, error: 'payload_too_large' };
    res.cork(() => {
      res.writeStatus(statusLine(413)).writeHeader('content-type', 'application/json; charset=utf-8').end(JSON.stringify(body));
    });
  }

  #reportDown(owner: number, reason: string): void {
    if (this.#down.has(owner)) {
      return;
    }
    this.#down.add(owner);
    this.#logger?.warn({ loop: this.#self, peer: owner, port: this.#ports[owner], reason }, 'cannot reach the loop that owns a Socket.IO session: its polling clients reconnect, its upgrades fail');
  }
}

function forwardedHeaders(req: HttpRequest, peer: string, self: number): OutgoingHttpHeaders {
  const headers: Record<string, string | string[]> = {};
  req.forEach((name, value) => {
    if (requestHopHeaders.has(name)) {
      return;
    }
    const previous = headers[name];
    headers[name] = previous === undefined ? value : [...(Array.isArray(previous) ? previous : [previous]), value];
  });
  const forwardedFor = headers['x-forwarded-for'];
  const chain = forwardedFor === undefined ? [] : Array.isArray(forwardedFor) ? forwardedFor : [forwardedFor];
  headers['x-forwarded-for'] = [...chain, peer].join(', ');
  headers[hopHeader] = String(self);
  return headers;
}

function relay(res: HttpResponse, response: IncomingMessage, body: Buffer): void {
  const status = response.statusCode ?? 502;
  const raw = response.rawHeaders;
  res.cork(() => {
    res.writeStatus(response.statusMessage === undefined || response.statusMessage === '' ? statusLine(status) : `${String(status)} ${response.statusMessage}`);
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const name = raw[i] ?? '';
      if (!responseDropHeaders.has(name.toLowerCase())) {
        res.writeHeader(name, raw[i + 1] ?? '');
      }
    }
    res.end(body);
  });
}

function writeLoopUnavailable(res: HttpResponse, owner: number): void {
  const body = {
    code: 503,
    message: `the gateway process that holds this Socket.IO session (loop ${String(owner)}) cannot be reached: reconnect`,
    error: 'loop_unavailable',
    loop: owner,
  };
  res.cork(() => {
    res.writeStatus(statusLine(503)).writeHeader('content-type', 'application/json; charset=utf-8').end(JSON.stringify(body));
  });
}

function errorReason(error: Error): string {
  return (error as NodeJS.ErrnoException).code ?? error.message;
}

function checkLoopIndex(index: number, what: string): void {
  if (!Number.isInteger(index) || index < 0 || index > 9_999) {
    throw new GatewayError('config_invalid', { message: `${what}: ${String(index)} is not an integer from 0 to 9999` });
  }
}
