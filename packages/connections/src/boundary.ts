import type { Logger } from '@gw/core';
import type { GatewayMetrics } from '@gw/metrics';
import type { ClientProtocol } from './handshake.js';

/**
 * The exception boundary every client callback runs in (uWS upgrade/open/message/close, Socket.IO events):
 * whatever a handler throws is counted (`gateway_client_errors_total{code="internal_error"}`), logged once
 * with the client id and protocol, and reported to the caller, which answers that client in its protocol's
 * way. Nothing a client sends can end the process or disturb another client.
 */
export class ExceptionBoundary {
  readonly #metrics: GatewayMetrics;
  readonly #logger: Logger;

  constructor(metrics: GatewayMetrics, logger: Logger) {
    this.#metrics = metrics;
    this.#logger = logger;
  }

  /** Runs `fn`; true when it returned, false when it threw (already counted and logged). */
  run(protocol: ClientProtocol, clientId: string | undefined, where: string, fn: () => void): boolean {
    try {
      fn();
      return true;
    } catch (error) {
      this.report(protocol, clientId, where, error);
      return false;
    }
  }

  /** Counts and logs a failure caught elsewhere (a rejected promise of a handler). */
  report(protocol: ClientProtocol, clientId: string | undefined, where: string, error: unknown): void {
    this.#metrics.clientError(protocol, 'internal_error');
    this.#logger.error({ err: error, protocol, client_id: clientId, where }, 'handler failed; the client was answered with internal_error');
  }
}
