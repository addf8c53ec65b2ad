import { extractToken, isAuthError } from '@gw/auth';
import type { Principal, TokenInput, TokenVerifier } from '@gw/auth';
import type { Logger } from '@gw/core';
import type { GatewayMetrics, Protocol } from '@gw/metrics';
import type { Admission, UserSlot } from '@gw/node-services';
import type { RefreshOutcome } from './refresh.js';
import { refusals } from './refusal.js';
import type { Refusal } from './refusal.js';

export type ClientProtocol = Exclude<Protocol, 'http'>;

/** How a protocol authenticates its connections. */
export type AuthMode =
  /** A token is required (401 without one) and verified; the connection has a principal. */
  | 'required'
  /** No token is read at the handshake (the stock protocol's default, as the legacy service). */
  | 'none';

export interface HandshakeGateDeps {
  verifier: TokenVerifier;
  admission: Admission;
  metrics: GatewayMetrics;
  logger: Logger;
  /** While draining (after SIGTERM) every handshake is refused with 503 `draining`. */
  lifecycle: { readonly draining: boolean };
}

export interface HandshakeRequest extends TokenInput {
  protocol: ClientProtocol;
  authMode: AuthMode;
  /** The request was abandoned by the client (checked after every await). */
  isAborted(): boolean;
}

/** A handshake that may proceed: who it is (undefined for `authMode: 'none'`) and the user's connection slot. */
export interface Admitted {
  principal: Principal | undefined;
  /** Released exactly once by whoever ends up owning it (the connection's close, or the gate on abort). */
  slot: UserSlot;
}

const noSlot: UserSlot = { release: () => undefined };

/**
 * The handshake steps every protocol takes, in one order:
 * `precheck` (synchronous, before any token work): draining → per-address connection rate;
 * `authenticate` (async): token from its places → verify → per-user slot → abort check.
 *
 * Each refusal is counted (auth failures by reason, others as client errors) and returned in the one
 * `Refusal` form; the caller only writes it in its protocol's way. A slot taken for a handshake that was
 * aborted meanwhile is released here, so an abandoned handshake never holds one.
 */
export class HandshakeGate {
  readonly #deps: HandshakeGateDeps;

  constructor(deps: HandshakeGateDeps) {
    this.#deps = deps;
  }

  precheck(protocol: ClientProtocol, remoteAddress: string): Refusal | undefined {
    if (this.#deps.lifecycle.draining) {
      return refusals.draining;
    }
    if (!this.#deps.admission.allowAttemptFrom(remoteAddress)) {
      this.#deps.metrics.clientError(protocol, refusals.too_many_connections.error);
      return refusals.too_many_connections;
    }
    return undefined;
  }

  /** Resolves to the admitted connection, a refusal, or `'aborted'` (nothing to answer). Never rejects. */
  async authenticate(request: HandshakeRequest): Promise<Admitted | Refusal | 'aborted'> {
    const { metrics, logger } = this.#deps;
    if (request.authMode === 'none') {
      return { principal: undefined, slot: noSlot };
    }
    const found = extractToken(request);
    if (found === undefined) {
      metrics.authFailure(request.protocol, 'missing');
      return {
        status: 401,
        error: 'unauthorized',
        reason: 'missing',
        message: 'unauthorized: token missing (Authorization: Bearer <token>, ?token= or Socket.IO auth.token)',
      };
    }
    let principal: Principal;
    try {
      principal = await this.#deps.verifier.verify(found.token);
    } catch (error) {
      if (isAuthError(error)) {
        metrics.authFailure(request.protocol, error.reason);
        return { status: 401, error: error.code === 'token_expired' ? 'token_expired' : 'unauthorized', reason: error.reason, message: error.message };
      }
      logger.error({ err: error, protocol: request.protocol }, 'token verification failed');
      return refusals.auth_unavailable;
    }
    if (request.isAborted()) {
      return 'aborted';
    }
    let slot: UserSlot | 'user_connection_limit';
    try {
      slot = await this.#deps.admission.acquireUserSlot(principal.userId);
    } catch (error) {
      // The per-user count lives on the bus: while it is down, new connections wait outside.
      logger.warn({ err: error, protocol: request.protocol }, 'connection not admitted: bus unavailable');
      return refusals.bus_unavailable;
    }
    if (slot === 'user_connection_limit') {
      metrics.clientError(request.protocol, refusals.connection_limit.error);
      return refusals.connection_limit;
    }
    if (request.isAborted()) {
      slot.release();
      return 'aborted';
    }
    return { principal, slot };
  }

  /**
   * Verifies a token sent in band to replace the connection's (`refresh_token`). The new token must verify and
   * name the same `sub`; a connection without a user becomes the token's user, taking a per-user slot as a new
   * connection would. The protocol answers (and counts) a refusal in its own form. Never rejects.
   */
  async refresh(request: RefreshRequest): Promise<RefreshOutcome> {
    const { logger } = this.#deps;
    const refuse = (reason: Exclude<RefreshOutcome, { principal: Principal }>['refused']): RefreshOutcome => ({ refused: reason });
    if (typeof request.token !== 'string' || request.token.trim() === '') {
      return refuse('missing');
    }
    let principal: Principal;
    try {
      principal = await this.#deps.verifier.verify(request.token);
    } catch (error) {
      if (isAuthError(error)) {
        return refuse(error.reason);
      }
      logger.error({ err: error, protocol: request.protocol }, 'token verification failed (refresh)');
      return refuse('auth_unavailable');
    }
    if (request.current !== undefined) {
      return principal.sub === request.current.sub ? { principal } : refuse('different_sub');
    }
    let slot: UserSlot | 'user_connection_limit';
    try {
      slot = await this.#deps.admission.acquireUserSlot(principal.userId);
    } catch (error) {
      logger.warn({ err: error, protocol: request.protocol }, 'refresh not admitted: bus unavailable');
      return refuse('auth_unavailable');
    }
    return slot === 'user_connection_limit' ? refuse('connection_limit') : { principal, slot };
  }
}

/** An in-band token refresh on an open connection. */
export interface RefreshRequest {
  protocol: ClientProtocol;
  /** As the client sent it: anything but a non-empty string is refused (`missing`). */
  token: unknown;
  /** The connection's current principal; undefined for a connection without a user (stock, auth not required). */
  current: Principal | undefined;
}

export function isRefusal(outcome: Admitted | Refusal | 'aborted'): outcome is Refusal {
  return typeof outcome === 'object' && 'status' in outcome;
}
