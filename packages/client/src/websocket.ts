/**
 * The part of the WebSocket API the raw-WebSocket clients use, satisfied by the browser's `WebSocket` and by the
 * `ws` package's. Declared here (instead of using the DOM's types) so the SDK type-checks in Node projects too.
 */
export interface WebSocketLike {
  /** 0 connecting, 1 open, 2 closing, 3 closed. */
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open', listener: () => void): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  addEventListener(type: 'close', listener: (event: { code: number; reason: string }) => void): void;
  addEventListener(type: 'error', listener: (event: { message?: unknown }) => void): void;
}

/**
 * A WebSocket constructor: the browser's `WebSocket`, or `WebSocket` from the `ws` package in Node (Node 20 has
 * no global one). The third argument is only passed when the token goes in a header (`ws` reads `headers`).
 */
export type WebSocketConstructor = new (
  url: string,
  protocols?: string | string[],
  options?: { headers?: Record<string, string> },
) => WebSocketLike;

/** Where the token travels: `?token=` (browsers cannot set headers) or `Authorization: Bearer` (Node). */
export type TokenPlacement = 'query' | 'header';

export const OPEN = 1;

/**
 * The implementation to use: the one given, else the global `WebSocket` (browsers, Node 22+). Throws a
 * `TypeError` saying what to pass when there is none (Node 20).
 */
export function resolveWebSocket(given: WebSocketConstructor | undefined): WebSocketConstructor {
  if (given !== undefined) {
    return given;
  }
  const global = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (global === undefined) {
    throw new TypeError('no WebSocket implementation: in Node 20 pass `WebSocket` from the "ws" package (options.WebSocket)');
  }
  return global;
}

function runsOnNode(): boolean {
  const process = (globalThis as { process?: { versions?: { node?: unknown } } }).process;
  return typeof process?.versions?.node === 'string';
}

/**
 * Default token placement: a header when running on Node with an injected implementation (the `ws` package
 * sends headers; tokens then stay out of URLs and access logs), `?token=` otherwise (browsers, and global
 * WebSocket implementations, which cannot send headers).
 */
export function defaultTokenPlacement(given: WebSocketConstructor | undefined): TokenPlacement {
  return given !== undefined && runsOnNode() ? 'header' : 'query';
}
