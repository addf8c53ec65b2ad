/**
 * The close codes of the two raw WebSocket protocols (signals and stock prices), chosen once for both.
 *
 * 1xxx are the standard codes; 4xxx are this gateway's and follow one rule: 4000 + the HTTP status that means
 * the same thing (4401 "token expired" is fixed by the contract; 4408 "too slow", 4429 "too many"). What a
 * client should do: after 1001 reconnect (to another node); after 4401 reconnect with a fresh token (or refresh
 * it in band before `exp`); after 4408 and 4429 reconnect with backoff (signals: with `?since=`); after 1009
 * and 1011 fix the client or report the bug before reconnecting. The legacy services never closed a client
 * themselves, so no legacy client depends on any of these.
 */
export const closeCodes = {
  /** The node is shutting down (SIGTERM drain): reconnect, a load balancer sends you elsewhere. */
  goingAway: { code: 1001, reason: 'going away' },
  /** A frame over the protocol's frame limit (up to the hard cap `HARD_MAX_FRAME_BYTES`). */
  messageTooBig: { code: 1009, reason: 'message_too_big' },
  /** The gateway failed while setting up this connection (a bug, logged with the client id). */
  internalError: { code: 1011, reason: 'internal_error' },
  /** The token's `exp` passed while connected. */
  tokenExpired: { code: 4401, reason: 'token_expired' },
  /** Unsent output stayed over the protocol's bound: the client does not read fast enough. */
  slowConsumer: { code: 4408, reason: 'slow_consumer' },
  /** Sustained messages over the inbound rate limit. */
  rateLimited: { code: 4429, reason: 'rate_limited' },
} as const;

export type CloseCodeName = keyof typeof closeCodes;
export type CloseCode = (typeof closeCodes)[CloseCodeName];

/**
 * Largest frame uWebSockets.js accepts from a client on the raw WebSocket protocols. Any frame up to this size
 * reaches the pipeline, which closes it with 1009 when it is over the protocol's own limit; a frame announcing
 * more than this is cut by uWS itself (1006, abnormal closure) before any of it is buffered. 4 MiB bounds what
 * one connection can make the server hold for a frame in flight.
 */
export const HARD_MAX_FRAME_BYTES = 4 * 1024 * 1024;
