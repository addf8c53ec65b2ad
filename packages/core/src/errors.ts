/**
 * The one error type of the gateway. Every package throws GatewayError (or lets `toGatewayError` wrap what it
 * caught); each protocol adapter maps `code` to its own wire form (HTTP status, Socket.IO `error` event,
 * WebSocket error frame or close code) in one table.
 */
export const gatewayErrorCodes = [
  // Authentication (one per rejection reason of @gw/auth).
  'unauthorized',
  'token_expired',
  'forbidden',
  // Input.
  'bad_request',
  'invalid_json',
  'unknown_command',
  'payload_too_large',
  'unsupported_media_type',
  'rate_limited',
  'not_found',
  // Infrastructure.
  'bus_unavailable',
  'config_invalid',
  'uws_fallback',
  'source_failed',
  'internal',
] as const;

export type GatewayErrorCode = (typeof gatewayErrorCodes)[number];

export interface GatewayErrorOptions {
  message?: string;
  cause?: unknown;
  /** Machine-readable extra data for the client (never secrets). */
  details?: Record<string, unknown>;
}

export class GatewayError extends Error {
  override readonly name = 'GatewayError';
  readonly code: GatewayErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: GatewayErrorCode, options: GatewayErrorOptions = {}) {
    super(options.message ?? code, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details;
  }
}

/** Normalises anything thrown into a GatewayError (`internal` unless it already is one), keeping the cause. */
export function toGatewayError(error: unknown): GatewayError {
  if (error instanceof GatewayError) {
    return error;
  }
  const message = error instanceof Error ? error.message : String(error);
  return new GatewayError('internal', { message, cause: error });
}
