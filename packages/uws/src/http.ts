import { randomUUID } from 'node:crypto';
import { BlockList, isIP } from 'node:net';
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { checkAdminToken } from '@gw/auth';
import { GatewayError, toGatewayError } from '@gw/core';
import type { GatewayErrorCode, Logger } from '@gw/core';
import type { GatewayMetrics } from '@gw/metrics';

/** HTTP status for each error code: the REST mapping of the one error type. */
export const httpStatusOf: Readonly<Record<GatewayErrorCode, number>> = {
  unauthorized: 401,
  token_expired: 401,
  forbidden: 403,
  bad_request: 400,
  invalid_json: 400,
  unknown_command: 400,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  not_found: 404,
  bus_unavailable: 503,
  config_invalid: 500,
  uws_fallback: 500,
  source_failed: 502,
  internal: 500,
};

const statusText: Readonly<Record<number, string>> = {
  200: '200 OK',
  201: '201 Created',
  202: '202 Accepted',
  204: '204 No Content',
  400: '400 Bad Request',
  401: '401 Unauthorized',
  403: '403 Forbidden',
  404: '404 Not Found',
  405: '405 Method Not Allowed',
  413: '413 Payload Too Large',
  415: '415 Unsupported Media Type',
  429: '429 Too Many Requests',
  500: '500 Internal Server Error',
  502: '502 Bad Gateway',
  503: '503 Service Unavailable',
};

/** `200` → `"200 OK"`, as uWS's writeStatus wants it. */
export function statusLine(status: number): string {
  return statusText[status] ?? String(status);
}

/**
 * What a handler may read of the request. uWS's HttpRequest is only valid until the handler first returns or
 * awaits, so everything is copied out before the handler runs.
 */
export interface RequestInfo {
  method: string;
  path: string;
  query: URLSearchParams;
  /** Lower-case header names. */
  headers: ReadonlyMap<string, string>;
  /** The client's address: the peer, or what a trusted proxy forwarded (see `ClientAddressResolver`). */
  remoteAddress: string;
  /** The TCP peer (a proxy's address when the request came through one). */
  peerAddress: string;
  /** The body, read (bounded) only for routes that declare `body: true`. */
  body: Buffer | undefined;
  /**
   * When the request arrived (epoch ms): taken as uWS hands the route its request line and headers, before
   * the body is read or anything is checked. What the request starts (a published message, a push) is timed
   * from here, so the delivery-latency histogram includes the upload, the parsing and the validation rather
   * than starting after them.
   */
  receivedAt: number;
}

export interface JsonResponse {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export interface RawResponse {
  status: number;
  contentType: string;
  body: string | Buffer;
  headers?: Record<string, string>;
}

export type RouteResult = JsonResponse | RawResponse;

export type RouteHandler = (request: RequestInfo) => RouteResult | Promise<RouteResult>;

export interface RouteOptions {
  /** Read the request body (POST/PUT) up to `maxBodyBytes`. */
  body?: boolean;
  /** Larger bodies are answered 413 without being buffered. Default 64 KiB. */
  maxBodyBytes?: number;
  /**
   * An admin route. With `deps.adminToken` set, `Authorization: Bearer <ADMIN_TOKEN>` is required (401);
   * without it, only requests from this machine are served (403): a loopback peer and no proxy header. A body
   * must be `application/json` (415): a cross-site page cannot send that without a CORS preflight, which the
   * gateway never grants.
   */
  admin?: boolean;
}

export interface HttpDeps {
  logger: Logger;
  metrics: GatewayMetrics;
  /** `ADMIN_TOKEN`, checked for routes registered with `admin: true`. */
  adminToken?: string | undefined;
  /** How the client's address is found (`TRUSTED_PROXIES`); default: the peer, no proxy trusted. */
  clientAddresses?: ClientAddressResolver | undefined;
  /** Failed admin-token attempts per client address; default: one limiter per process. */
  adminAttempts?: AdminAttemptLimiter | undefined;
}

/**
 * Finds the client's address of a request or upgrade. Forwarding headers are read only when the TCP peer is
 * a trusted proxy (`TRUSTED_PROXIES`): anybody can write `X-Forwarded-For`, so from any other peer it would let
 * a client choose its own address (and its own rate limit). Through a trusted proxy the client is the
 * right-most hop of `X-Forwarded-For` that is not itself a trusted proxy (hops to its left were written by the
 * client or by proxies we do not know); without that header, `X-Real-IP`.
 */
export interface ClientAddressResolver {
  /** The client's address; `header` returns a request header by lower-case name (undefined or '' if absent). */
  clientAddress(peer: string, header: (name: string) => string | undefined): string;
  /** True when `address` is one of the trusted proxies. */
  trusts(address: string): boolean;
}

/** A TRUSTED_PROXIES item: an IPv4/IPv6 address or CIDR; undefined when it is one, else what is wrong. */
export function trustedProxyProblem(item: string): string | undefined {
  const [address = '', prefix, extra] = item.split('/');
  const family = isIP(address);
  if (family === 0 || extra !== undefined) {
    return `"${item}" is not an IP address or CIDR (e.g. 10.0.0.0/8, 127.0.0.1, fd00::/8)`;
  }
  if (prefix !== undefined) {
    const bits = Number(prefix);
    const max = family === 4 ? 32 : 128;
    if (!/^\d{1,3}$/.test(prefix) || bits > max) {
      return `"${item}": prefix length must be 0 to ${max}`;
    }
  }
  return undefined;
}

/** A forwarded hop as an address: trims, drops an IPv4 `:port` and IPv6 brackets; undefined when it is not an IP. */
function hopAddress(hop: string): string | undefined {
  let value = hop.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(value);
  if (bracketed !== null) {
    value = bracketed[1] ?? '';
  } else if (/^[\d.]+:\d+$/.test(value)) {
    value = value.slice(0, value.lastIndexOf(':'));
  }
  return isIP(value) === 0 ? undefined : value;
}

/** The resolver for a TRUSTED_PROXIES list (validated by the configuration; a bad item throws here). */
export function createClientAddressResolver(trustedProxies: readonly string[]): ClientAddressResolver {
  const trusted = new BlockList();
  for (const item of trustedProxies) {
    const problem = trustedProxyProblem(item);
    if (problem !== undefined) {
      throw new GatewayError('config_invalid', { message: `TRUSTED_PROXIES: ${problem}` });
    }
    const [address = '', prefix] = item.split('/');
    const family = isIP(address) === 4 ? 'ipv4' : 'ipv6';
    trusted.addSubnet(address, prefix === undefined ? (family === 'ipv4' ? 32 : 128) : Number(prefix), family);
  }
  const trusts = (address: string): boolean => {
    const family = isIP(address);
    return family !== 0 && trusted.check(address, family === 4 ? 'ipv4' : 'ipv6');
  };
  return {
    trusts,
    clientAddress(peer, header) {
      if (trustedProxies.length === 0 || !trusts(peer)) {
        return peer;
      }
      const forwarded = header('x-forwarded-for');
      if (forwarded !== undefined && forwarded !== '') {
        // Right to left: each trusted hop vouches for the one before it; the first hop we do not trust is the
        // client. A hop that is not an address ends the chain: the last one we could read stands.
        let client = peer;
        const hops = forwarded.split(',');
        for (let i = hops.length - 1; i >= 0; i -= 1) {
          const hop = hopAddress(hops[i] ?? '');
          if (hop === undefined) {
            break;
          }
          client = hop;
          if (!trusts(hop)) {
            break;
          }
        }
        return client;
      }
      const real = hopAddress(header('x-real-ip') ?? '');
      return real ?? peer;
    },
  };
}

/** No proxy trusted: the client is the peer. */
const peerOnly = createClientAddressResolver([]);

/**
 * Failed admin-token attempts per client address, so the token cannot be guessed at line rate: after
 * `maxFailures` failures within `windowMs`, the address is answered 429 until the window has passed.
 */
export class AdminAttemptLimiter {
  readonly #failures = new Map<string, { count: number; since: number }>();
  readonly #maxFailures: number;
  readonly #windowMs: number;

  constructor(options: { maxFailures?: number; windowMs?: number } = {}) {
    this.#maxFailures = options.maxFailures ?? 10;
    this.#windowMs = options.windowMs ?? 60_000;
  }

  blocked(address: string, now = Date.now()): boolean {
    const entry = this.#failures.get(address);
    if (entry === undefined) {
      return false;
    }
    if (now - entry.since >= this.#windowMs) {
      this.#failures.delete(address);
      return false;
    }
    return entry.count >= this.#maxFailures;
  }

  fail(address: string, now = Date.now()): void {
    const entry = this.#failures.get(address);
    if (entry === undefined || now - entry.since >= this.#windowMs) {
      // Bounded memory under a spray of addresses: forget the oldest entry (insertion order) past the cap.
      if (this.#failures.size >= 10_000) {
        const oldest = this.#failures.keys().next().value;
        if (oldest !== undefined) {
          this.#failures.delete(oldest);
        }
      }
      this.#failures.delete(address);
      this.#failures.set(address, { count: 1, since: now });
    } else {
      entry.count += 1;
    }
  }
}

const processAdminAttempts = new AdminAttemptLimiter();

/** The JSON error body every REST route answers with: `{"code": <http status>, "message", "error"}`. */
export function errorResponse(error: GatewayError): JsonResponse {
  const status = httpStatusOf[error.code];
  return {
    status,
    body: { code: status, message: error.message, error: error.code, ...(error.details ?? {}) },
  };
}

function copyHeaders(req: HttpRequest): Map<string, string> {
  const headers = new Map<string, string>();
  req.forEach((key, value) => headers.set(key, value));
  return headers;
}

export function remoteAddressOf(res: HttpResponse): string {
  return Buffer.from(res.getRemoteAddressAsText()).toString();
}

/** Reads the body without ever holding more than `limit` bytes; rejects with payload_too_large past it. */
function readBody(res: HttpResponse, limit: number, declaredLength: number | undefined): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    if (declaredLength !== undefined && declaredLength > limit) {
      reject(new GatewayError('payload_too_large', { message: `request body over ${limit} bytes` }));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    res.onData((chunk, isLast) => {
      if (failed) {
        return;
      }
      size += chunk.byteLength;
      if (size > limit) {
        failed = true;
        reject(new GatewayError('payload_too_large', { message: `request body over ${limit} bytes` }));
        return;
      }
      // uWS reuses the chunk's memory after this callback returns: copy it.
      chunks.push(Buffer.from(new Uint8Array(chunk)));
      if (isLast) {
        resolve(Buffer.concat(chunks, size));
      }
    });
  });
}

/** Parses a JSON body; invalid JSON is a 400 `invalid_json` with the parser's reason. */
export function parseJsonBody(request: RequestInfo): unknown {
  const text = request.body?.toString('utf8') ?? '';
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new GatewayError('invalid_json', {
      message: `request body is not valid JSON: ${error instanceof Error ? error.message : String(error)}`,
    });
  }
}

/** A peer on this machine (IPv4 127/8, IPv6 ::1, in any of the spellings uWS gives). */
export function isLoopbackAddress(address: string): boolean {
  const a = address.toLowerCase();
  return a.startsWith('127.') || a.startsWith('::ffff:127.') || a === '::1' || /^(0{1,4}:){7}0{0,3}1$/.test(a);
}

const proxyHeaders = ['x-forwarded-for', 'x-real-ip', 'forwarded'] as const;

/**
 * True when a request comes from this machine: its client address is loopback and, when it did not come
 * through a trusted proxy, it carries no proxy header (an untrusted proxy on this machine forwarding a remote
 * client is not local). Through a trusted proxy the resolved client decides.
 */
function isLocalRequest(request: RequestInfo, resolver: ClientAddressResolver): boolean {
  if (!isLoopbackAddress(request.remoteAddress)) {
    return false;
  }
  return resolver.trusts(request.peerAddress) || !proxyHeaders.some((h) => request.headers.has(h));
}

/**
 * The admin rules of `RouteOptions.admin`, callable from a handler for admin-only variants of a public route
 * (`?scope=cluster`); throws the refusal. With ADMIN_TOKEN: the bearer token (401), failures counted
 * (`auth_failures_total{protocol="http",reason="admin_token"}`) and limited per client address (429); without
 * it: only local requests (403).
 */
export function checkAdmin(request: RequestInfo, deps: HttpDeps): void {
  const adminToken = deps.adminToken;
  if (adminToken !== undefined && adminToken !== '') {
    const attempts = deps.adminAttempts ?? processAdminAttempts;
    if (attempts.blocked(request.remoteAddress)) {
      throw new GatewayError('rate_limited', { message: 'too many failed admin-token attempts from this address: retry later' });
    }
    if (!checkAdminToken(request.headers.get('authorization'), adminToken)) {
      attempts.fail(request.remoteAddress);
      deps.metrics.authFailure('http', 'admin_token');
      throw new GatewayError('unauthorized', { message: 'admin token required: Authorization: Bearer <ADMIN_TOKEN>' });
    }
  } else if (!isLocalRequest(request, deps.clientAddresses ?? peerOnly)) {
    throw new GatewayError('forbidden', { message: 'admin routes answer only this machine while ADMIN_TOKEN is not set' });
  }
}

function checkJsonBody(request: RequestInfo): void {
  const type = (request.headers.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json') {
    throw new GatewayError('unsupported_media_type', { message: 'admin request bodies must be application/json' });
  }
}

function write(res: HttpResponse, result: RouteResult): void {
  res.cork(() => {
    res.writeStatus(statusLine(result.status));
    for (const [key, value] of Object.entries(result.headers ?? {})) {
      res.writeHeader(key, value);
    }
    if ('contentType' in result) {
      res.writeHeader('content-type', result.contentType);
      res.end(result.body);
    } else {
      res.writeHeader('content-type', 'application/json; charset=utf-8');
      res.end(JSON.stringify(result.body));
    }
  });
}

type Method = 'get' | 'post' | 'put' | 'del' | 'any';

/**
 * Registers a route whose handler works on plain data and returns a result (or throws a GatewayError). This
 * wrapper owns the uWS rules — abort handling, corking, copying the request before any await — and turns
 * every failure into the JSON error body, so no route can crash the process or leave a request hanging.
 */
export function route(
  app: TemplatedApp,
  deps: HttpDeps,
  method: Method,
  pattern: string,
  handler: RouteHandler,
  options: RouteOptions = {},
): void {
  const maxBody = options.maxBodyBytes ?? 64 * 1024;
  app[method](pattern, (res, req) => {
    const receivedAt = Date.now();
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    const headers = copyHeaders(req);
    const lengthHeader = headers.get('content-length');
    const peerAddress = remoteAddressOf(res);
    const info: RequestInfo = {
      method: req.getCaseSensitiveMethod(),
      path: req.getUrl(),
      query: new URLSearchParams(req.getQuery()),
      headers,
      remoteAddress: (deps.clientAddresses ?? peerOnly).clientAddress(peerAddress, (name) => headers.get(name)),
      peerAddress,
      body: undefined,
      receivedAt,
    };
    const run = async (): Promise<RouteResult> => {
      if (options.admin === true) {
        checkAdmin(info, deps);
        if (options.body === true) {
          checkJsonBody(info);
        }
      }
      if (options.body === true) {
        info.body = await readBody(res, maxBody, lengthHeader === undefined ? undefined : Number(lengthHeader));
      }
      return handler(info);
    };
    run()
      .catch((error: unknown) => {
        const gatewayError = toGatewayError(error);
        if (httpStatusOf[gatewayError.code] !== 500) {
          return errorResponse(gatewayError);
        }
        // The detail (a stack, a file path, a driver's message) is for the operators: the client gets a
        // generic sentence and the id that finds the detail in the log.
        const requestId = randomUUID();
        deps.logger.error({ err: error, route: pattern, request_id: requestId, client: info.remoteAddress }, 'route failed');
        return {
          status: 500,
          headers: { 'x-request-id': requestId },
          body: { code: 500, message: 'internal error', error: gatewayError.code, request_id: requestId },
        };
      })
      .then((result) => {
        deps.metrics.httpRequest(pattern, result.status);
        if (!aborted) {
          write(res, result);
        }
      })
      .catch((error: unknown) => {
        deps.logger.error({ err: error, route: pattern }, 'writing response failed');
      });
  });
}
