import type { Logger } from '@gw/core';
import type { GatewayMetrics } from '@gw/metrics';
import { closesAfterResponse, remoteAddressOf, upgradeCork } from '@gw/uws';
import type { ClientAddressResolver, HttpResponse, TemplatedApp, WebSocketBehavior } from '@gw/uws';
import type { ExceptionBoundary } from './boundary.js';
import { HARD_MAX_FRAME_BYTES, closeCodes } from './close-codes.js';
import { WsConnection } from './connection.js';
import type { ProtocolSession, SocketData } from './connection.js';
import type { AuthMode, HandshakeGate } from './handshake.js';
import { isRefusal } from './handshake.js';
import { InboundRateLimit } from './inbound-rate.js';
import { expiresAtSeconds, isRefreshRefused, noteRefreshedExpiry, readRefreshFrame, refreshFailureDetails } from './refresh.js';
import { badRequest, refuseUpgrade, refusals } from './refusal.js';
import type { Refusal } from './refusal.js';
import type { ClientRegistry } from './registry.js';
import type { ConnectionSweep } from './sweep.js';

/** The errors the pipeline itself answers on an open connection, in the protocol's error frame. */
export type PipelineErrorCode = 'rate_limited' | 'binary_not_supported' | 'internal_error' | 'token_refresh_failed';

/** Inbound and outbound bounds of one raw WebSocket protocol. */
export interface WebSocketLimits {
  /** Larger frames close the connection with 1009 (at most `HARD_MAX_FRAME_BYTES`). */
  maxFrameBytes: number;
  messagesPerSecond: number;
  messageBurst: number;
  /** Unsent output per connection over which it is a slow consumer ... */
  maxBufferedBytes: number;
  /** ... once it stays over for this long (0: at once), closed with 4408. */
  slowConsumerGraceMs: number;
  /** Server pings; a peer silent this long is dropped (0 = off). */
  idleTimeoutSec: number;
}

/**
 * What a raw WebSocket protocol declares to be served by the pipeline: where, whether a token is required,
 * its limits, how it reads its own upgrade parameters, and its session per connection. Everything else —
 * admission, tokens, limits, expiry, slow consumers, close codes, the exception boundary — is the pipeline's.
 */
export interface WebSocketProtocol<Context extends object | undefined> {
  readonly protocol: 'signals' | 'stock';
  readonly paths: readonly string[];
  readonly auth: AuthMode;
  readonly limits: WebSocketLimits;
  /** A new client id, in the protocol's form (`client_<hex>`, `signals_<n>`). */
  newClientId(): string;
  /**
   * Reads the protocol's own query parameters before any token work: its per-connection context, or a
   * sentence saying what is wrong (the upgrade is refused with 400 `bad_request`).
   */
  prepare(query: URLSearchParams): Context | string;
  /** The connection is open: its session. Called once; may send (e.g. a welcome frame). */
  open(connection: WsConnection<Context>): ProtocolSession;
  /** The protocol's error frame for the pipeline's own errors. */
  errorFrame(code: PipelineErrorCode, message: string): string;
}

export interface WebSocketPipelineDeps {
  app: TemplatedApp;
  gate: HandshakeGate;
  sweep: ConnectionSweep;
  boundary: ExceptionBoundary;
  clients: ClientRegistry;
  clientAddresses: ClientAddressResolver;
  metrics: GatewayMetrics;
  logger: Logger;
}

/** What a served protocol's stats read from the pipeline. */
export interface WebSocketEndpoint {
  readonly connections: number;
  readonly totalConnections: number;
  readonly messagesReceived: number;
  readonly rateLimitCloses: number;
  readonly slowConsumerCloses: number;
}

const pipelineErrorMessages: Readonly<Record<PipelineErrorCode, string>> = {
  rate_limited: 'too many messages: this one was dropped; slow down or the connection will be closed',
  binary_not_supported: 'binary frames are not supported: send JSON text',
  internal_error: 'internal error: the message was not handled (reported to the operators)',
  token_refresh_failed: 'the new token was refused; the current token stays in force',
};

/**
 * Serves a raw WebSocket protocol on its paths of the app. Upgrade: precheck (draining, per-address rate) →
 * the protocol's query parameters (400) → token and per-user slot (401/429/503) → abort check → upgrade.
 * Each frame: size (1009) → rate (error `rate_limited`, at most once a second; 4429 when abusive) → kind
 * (binary: error) → the session's handler, inside the exception boundary.
 */
export function serveWebSocket<Context extends object | undefined>(deps: WebSocketPipelineDeps, protocol: WebSocketProtocol<Context>): WebSocketEndpoint {
  const { gate, sweep, boundary, clients, clientAddresses, metrics, logger } = deps;
  const name = protocol.protocol;
  const limits = protocol.limits;
  if (limits.maxFrameBytes > HARD_MAX_FRAME_BYTES) {
    throw new RangeError(`${name}: maxFrameBytes ${limits.maxFrameBytes} is over the hard cap ${HARD_MAX_FRAME_BYTES}`);
  }
  // One object for every connection of the protocol: memory per idle connection is what the bench measures.
  const slowConsumer = { maxBufferedBytes: limits.maxBufferedBytes, graceMs: limits.slowConsumerGraceMs };
  const endpoint = { connections: 0, totalConnections: 0, messagesReceived: 0, rateLimitCloses: 0, slowConsumerCloses: 0 };

  const sendError = (connection: WsConnection<Context>, code: PipelineErrorCode): void => {
    metrics.clientError(name, code);
    connection.send(protocol.errorFrame(code, pipelineErrorMessages[code]));
  };

  const newConnection = (remoteAddress: string, context: Context, admitted: { principal: WsConnection['principal']; slot: WsConnection['slot'] }): WsConnection<Context> =>
    new WsConnection<Context>({
      protocol: name,
      clientId: protocol.newClientId(),
      remoteAddress,
      principal: admitted.principal,
      slot: admitted.slot,
      context,
      rate: new InboundRateLimit(limits),
      slowConsumer,
      onExpiring: (connection, expiresInS) => {
        metrics.messagesSent(name, 'token_expiring');
        connection.send(JSON.stringify({ type: 'token_expiring', expires_in: expiresInS }));
      },
      onExpired: (connection) => {
        metrics.authFailure(name, 'expired');
        connection.end(closeCodes.tokenExpired);
      },
      onSlowConsumer: (connection) => {
        endpoint.slowConsumerCloses += 1;
        metrics.backpressureDisconnected(name);
        logger.warn({ client_id: connection.clientId, buffered: connection.bufferedAmount() }, 'slow consumer: closing');
        connection.end(closeCodes.slowConsumer);
      },
    });

  /**
   * `{"type": "refresh_token", "token"}`: the gate verifies the new token (same `sub`); on success the
   * connection takes its principal and expiry (the sweep reads it; a new `token_expiring` notice will come) and
   * the client gets `{"type": "token_refreshed", "expires_at"}`; on refusal nothing changes and the client gets
   * the protocol's error frame `token_refresh_failed` naming the reason. Refreshes of one connection are applied
   * in the order they were sent.
   */
  const refreshChains = new WeakMap<WsConnection<Context>, Promise<void>>();
  const refresh = (connection: WsConnection<Context>, token: unknown): void => {
    const previous = refreshChains.get(connection) ?? Promise.resolve();
    const next = previous
      .then(async () => {
        const outcome = await gate.refresh({ protocol: name, token, current: connection.principal });
        if (connection.closed) {
          if (!isRefreshRefused(outcome)) {
            outcome.slot?.release();
          }
          return;
        }
        if (isRefreshRefused(outcome)) {
          metrics.clientError(name, 'token_refresh_failed');
          connection.send(protocol.errorFrame('token_refresh_failed', refreshFailureDetails(outcome.refused)));
          return;
        }
        if (outcome.slot !== undefined) {
          connection.slot.release();
          connection.slot = outcome.slot;
        }
        connection.principal = outcome.principal;
        noteRefreshedExpiry(connection, outcome.principal.expiresAt);
        metrics.messagesSent(name, 'token_refreshed');
        connection.send(JSON.stringify({ type: 'token_refreshed', expires_at: expiresAtSeconds(outcome.principal) }));
      })
      .catch((error: unknown) => {
        boundary.report(name, connection.clientId, 'refresh', error);
        connection.send(protocol.errorFrame('internal_error', pipelineErrorMessages.internal_error));
      });
    refreshChains.set(connection, next);
  };

  const upgrade = (res: HttpResponse, req: Parameters<NonNullable<WebSocketBehavior<SocketData>['upgrade']>>[1], context: unknown): void => {
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    const refuse = (refusal: Refusal): void => {
      if (!aborted) {
        refuseUpgrade(res, refusal);
      }
    };
    if (closesAfterResponse(req)) {
      metrics.clientError(name, 'bad_request');
      refuse(badRequest('a WebSocket handshake must say "Connection: Upgrade"'));
      return;
    }
    const remoteAddress = clientAddresses.clientAddress(remoteAddressOf(res), (header) => req.getHeader(header));
    const early = gate.precheck(name, remoteAddress);
    if (early !== undefined) {
      refuse(early);
      return;
    }
    // The request object is valid only until this callback returns: everything is copied out first.
    const query = new URLSearchParams(req.getQuery());
    const authorization = req.getHeader('authorization');
    const key = req.getHeader('sec-websocket-key');
    const wsProtocol = req.getHeader('sec-websocket-protocol');
    const extensions = req.getHeader('sec-websocket-extensions');
    const prepared = protocol.prepare(query);
    if (typeof prepared === 'string') {
      metrics.clientError(name, 'bad_request');
      refuse(badRequest(prepared));
      return;
    }
    void gate
      .authenticate({ protocol: name, authMode: protocol.auth, authorization: authorization === '' ? undefined : authorization, query, isAborted: () => aborted })
      .then((outcome) => {
        if (outcome === 'aborted') {
          return;
        }
        if (isRefusal(outcome)) {
          refuse(outcome);
          return;
        }
        if (aborted) {
          outcome.slot.release();
          return;
        }
        const connection = newConnection(remoteAddress, prepared, outcome);
        // Completed after an await: see `upgradeCork` for why it does not run under this response's cork alone.
        upgradeCork.run(() => {
          res.cork(() => {
            res.upgrade<SocketData>({ connection: connection as WsConnection }, key, wsProtocol, extensions, context as never);
          });
        });
      })
      .catch((error: unknown) => {
        boundary.report(name, undefined, 'upgrade', error);
        refuse(refusals.internal);
      });
  };

  const behavior: WebSocketBehavior<SocketData> = {
    maxPayloadLength: HARD_MAX_FRAME_BYTES,
    // uWS's own hard bound on queued output; slow consumers are closed (4408) well before it.
    maxBackpressure: limits.maxBufferedBytes * 4,
    idleTimeout: limits.idleTimeoutSec,
    sendPingsAutomatically: limits.idleTimeoutSec > 0,
    upgrade: (res, req, context) => {
      try {
        upgrade(res, req, context);
      } catch (error) {
        boundary.report(name, undefined, 'upgrade', error);
        refuseUpgrade(res, refusals.internal);
      }
    },
    open: (ws) => {
      const connection = ws.getUserData().connection as WsConnection<Context>;
      connection.bind(ws);
      clients.add(connection);
      sweep.track(connection);
      endpoint.connections += 1;
      endpoint.totalConnections += 1;
      metrics.connectionOpened(name);
      const opened = boundary.run(name, connection.clientId, 'open', () => {
        connection.session = protocol.open(connection);
      });
      if (!opened) {
        connection.end(closeCodes.internalError);
      }
    },
    message: (ws, message, isBinary) => {
      const connection = ws.getUserData().connection as WsConnection<Context>;
      if (connection.closed) {
        return;
      }
      connection.messagesReceived += 1;
      endpoint.messagesReceived += 1;
      if (message.byteLength > limits.maxFrameBytes) {
        metrics.messageReceived(name, 'too_big');
        metrics.clientError(name, 'message_too_big');
        connection.end(closeCodes.messageTooBig);
        return;
      }
      const verdict = connection.rate.take();
      if (verdict !== 'ok') {
        metrics.messageReceived(name, 'rate_limited');
        if (verdict === 'abusive') {
          endpoint.rateLimitCloses += 1;
          metrics.clientError(name, 'rate_limited');
          logger.info({ client_id: connection.clientId }, 'closing a client for sustained message flooding');
          connection.end(closeCodes.rateLimited);
        } else if (connection.rate.shouldAnswer()) {
          sendError(connection, 'rate_limited');
        }
        return;
      }
      if (isBinary) {
        metrics.messageReceived(name, 'binary');
        sendError(connection, 'binary_not_supported');
        return;
      }
      // uWS has already closed connections that send invalid UTF-8 in a text frame.
      const text = Buffer.from(message).toString('utf8');
      const refreshFrame = readRefreshFrame(text);
      if (refreshFrame !== undefined) {
        metrics.messageReceived(name, 'refresh_token');
        refresh(connection, refreshFrame.token);
        return;
      }
      const handled = boundary.run(name, connection.clientId, 'message', () => {
        connection.session.onMessage(text);
      });
      if (!handled) {
        sendError(connection, 'internal_error');
      }
    },
    close: (ws, code) => {
      const connection = ws.getUserData().connection as WsConnection<Context>;
      connection.bind(undefined);
      sweep.untrack(connection);
      clients.remove(connection.clientId);
      connection.slot.release();
      endpoint.connections -= 1;
      metrics.connectionClosed(name, code);
      boundary.run(name, connection.clientId, 'close', () => {
        connection.session.onClose?.(code);
      });
    },
  };
  for (const path of protocol.paths) {
    deps.app.ws<SocketData>(path, behavior);
  }
  return endpoint;
}
