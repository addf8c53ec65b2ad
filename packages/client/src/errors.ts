/**
 * Where an error came from:
 * - `server`: the gateway answered with an error (an `error` frame or event, a refused subscription);
 * - `connection`: connecting failed or the connection was refused (HTTP 401 at the upgrade, `connect_error`);
 * - `token`: the `getToken` hook threw or returned something that is not a non-empty string;
 * - `client`: a call this client refuses (closed, not connected, over a bound, timed out).
 */
export type ClientErrorSource = 'server' | 'connection' | 'token' | 'client';

/**
 * Codes of errors the client itself raises (`source: 'client'`); server errors keep the gateway's own code
 * (`unknown_stock`, `invalid_types`, `token_expired`, ...).
 */
export type ClientErrorCode =
  /** `close()` was called: the call can never complete. */
  | 'closed'
  /** The call needs a live connection (a ping) and there is none. */
  | 'not_connected'
  /** More targets than `maxSubscriptions`. */
  | 'too_many_subscriptions'
  /** More requests waiting to be sent than the client holds. */
  | 'queue_full'
  /** The server did not answer in time. */
  | 'timeout'
  /** `unsubscribe` was called before the server confirmed the subscription. */
  | 'cancelled'
  /** The server sent something that is not one of the protocol's frames. */
  | 'invalid_frame';

/** Every error a client reports, through a rejected promise or its `onError` listeners. */
export class GatewayClientError extends Error {
  override readonly name = 'GatewayClientError';
  readonly code: string;
  readonly source: ClientErrorSource;
  /** The server's error payload or frame, when there is one. */
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(source: ClientErrorSource, code: string, message: string, options: { details?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.source = source;
    this.code = code;
    this.details = options.details;
  }
}

export function clientError(code: ClientErrorCode, message: string): GatewayClientError {
  return new GatewayClientError('client', code, message);
}
