import type { GatewayErrorCode } from '@gw/core';

/**
 * Close codes of the signal protocol. 4000–4499 mean "reconnect" (with `?since=` to recover), 1008/1009 mean
 * the client broke a rule and should fix itself before reconnecting.
 */
export const signalCloseCodes = {
  /** SIGTERM drain: reconnect (to another node). */
  goingAway: { code: 1001, reason: 'going away' },
  /** Sustained flooding over the message rate limit. */
  rateLimited: { code: 1008, reason: 'rate_limited' },
  /** A frame over SIGNALS_MAX_FRAME_BYTES. */
  messageTooBig: { code: 1009, reason: 'message_too_big' },
  /** Unsent output over SIGNALS_MAX_BUFFERED_BYTES: the client does not read fast enough. */
  slowConsumer: { code: 4008, reason: 'slow_consumer' },
  /** The token's `exp` passed while connected: reconnect with a fresh token. */
  tokenExpired: { code: 4401, reason: 'token_expired' },
} as const;

/** Error frames (`{"type": "error", "error": <code>, "message"}`) for the codes this protocol answers with. */
export const signalErrorMessages: Partial<Record<GatewayErrorCode | 'binary_not_supported', string>> = {
  unknown_command: 'unknown command: the only command is the text frame "test"',
  binary_not_supported: 'binary frames are not supported: send the text frame "test"',
  rate_limited: 'too many messages: slow down or the connection will be closed',
};
