import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
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
  remoteAddress: string;
  /** The body, read (bounded) only for routes that declare `body: true`. */
  body: Buffer | undefined;
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
}

export interface HttpDeps {
  logger: Logger;
  metrics: GatewayMetrics;
}

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
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    const headers = copyHeaders(req);
    const lengthHeader = headers.get('content-length');
    const info: RequestInfo = {
      method: req.getCaseSensitiveMethod(),
      path: req.getUrl(),
      query: new URLSearchParams(req.getQuery()),
      headers,
      remoteAddress: remoteAddressOf(res),
      body: undefined,
    };
    const run = async (): Promise<RouteResult> => {
      if (options.body === true) {
        info.body = await readBody(res, maxBody, lengthHeader === undefined ? undefined : Number(lengthHeader));
      }
      return handler(info);
    };
    run()
      .catch((error: unknown) => {
        const gatewayError = toGatewayError(error);
        if (gatewayError.code === 'internal') {
          deps.logger.error({ err: error, route: pattern }, 'route failed');
        }
        return errorResponse(gatewayError);
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
