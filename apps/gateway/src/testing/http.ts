import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { RequestOptions } from 'node:https';
import { WebSocket } from 'ws';
import type { ClientOptions } from 'ws';

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json(): unknown;
}

/** A real HTTP(S) request with node's client (no fetch: the TLS tests need a custom CA). */
export function httpGet(url: string, options: RequestOptions & { body?: string } = {}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(target, { method: 'GET', timeout: 5_000, ...options }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body) as unknown });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: ${url}`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

export interface ClosedEvent {
  code: number;
  reason: string;
}

/** Opens a `ws` client and resolves once it is open; `closed` resolves with the close code and reason. */
export async function openWebSocket(
  url: string,
  options: ClientOptions = {},
): Promise<{ socket: WebSocket; closed: Promise<ClosedEvent>; messages: string[] }> {
  const socket = new WebSocket(url, options);
  const messages: string[] = [];
  socket.on('message', (data: Buffer) => messages.push(data.toString('utf8')));
  const closed = new Promise<ClosedEvent>((resolve) => {
    socket.on('close', (code: number, reason: Buffer) => {
      resolve({ code, reason: reason.toString('utf8') });
    });
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => {
      resolve();
    });
    socket.once('error', reject);
    socket.once('unexpected-response', (_req, res) => {
      reject(new Error(`upgrade refused: HTTP ${res.statusCode ?? 0}`));
    });
  });
  return { socket, closed, messages };
}
