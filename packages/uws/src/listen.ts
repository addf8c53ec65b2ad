import type { TemplatedApp, us_listen_socket } from 'uWebSockets.js';
import { uWS } from './load-uws.js';

export interface TlsFiles {
  certFile: string;
  keyFile: string;
  passphrase?: string | undefined;
}

/** A plain App, or an SSLApp (https + wss on the same routes) when TLS files are given. */
export function createApp(tls: TlsFiles | undefined): TemplatedApp {
  if (tls === undefined) {
    return uWS.App();
  }
  return uWS.SSLApp({
    cert_file_name: tls.certFile,
    key_file_name: tls.keyFile,
    ...(tls.passphrase === undefined ? {} : { passphrase: tls.passphrase }),
  });
}

export interface Listening {
  /** The ports actually bound (a requested 0 becomes the kernel's choice). */
  ports: number[];
  /** Stops accepting connections on every port; open connections stay until closed. */
  stopListening(): void;
  /** A base URL per bound port that works from this host (`http://localhost:8080` for a wildcard host), for start-up lines. */
  urls(scheme: 'http' | 'https'): string[];
}

/** The host part of a URL to a process bound on `host`: a wildcard address is reached on localhost; IPv6 goes in brackets. */
function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') {
    return 'localhost';
  }
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * Closes every socket of the app: listen sockets, keep-alive HTTP connections, WebSockets (abruptly). The
 * method exists in the native build but is missing from its type declarations.
 */
export function closeApp(app: TemplatedApp): void {
  // The JS fallback (development only) has no close: its listen sockets are closed, its connections end with
  // the process.
  (app as unknown as { close?: () => void }).close?.();
}

/**
 * uWS.js listens with SO_REUSEPORT by default: a second process on a busy port binds too and the kernel splits
 * new connections between the two. The exclusive option makes that bind fail. The typings only declare it for
 * `listen(port, options, cb)`; the addon also takes `listen(host, port, options, cb)`.
 */
const LISTEN_EXCLUSIVE_PORT = 1;
type ListenWithOptions = (
  host: string,
  port: number,
  options: number,
  cb: (listenSocket: us_listen_socket | false) => void,
) => TemplatedApp;

export interface ListenOptions {
  /**
   * Bind with SO_REUSEPORT: the event loops of one node share its ports and the kernel spreads connections
   * over them. Only for loops whose supervisor holds the ports for them (see `reservePorts`): a shared bind
   * would also join a stray process that holds the port the same way.
   */
  shared?: boolean;
}

/**
 * Listens on every port of the list, each one exclusively (a port another process holds is an error, never
 * shared) unless `shared`; rejects (after closing what did bind) if any port cannot be bound, naming that port.
 */
export async function listenAll(app: TemplatedApp, host: string, ports: readonly number[], options: ListenOptions = {}): Promise<Listening> {
  const flags = options.shared === true ? 0 : LISTEN_EXCLUSIVE_PORT;
  const sockets: us_listen_socket[] = [];
  const stop = (): void => {
    for (const socket of sockets.splice(0)) {
      uWS.us_listen_socket_close(socket);
    }
  };
  try {
    for (const port of ports) {
      const socket = await new Promise<us_listen_socket>((resolve, reject) => {
        (app.listen as unknown as ListenWithOptions).call(app, host, port, flags, (listenSocket) => {
          if (listenSocket === false) {
            reject(new Error(`cannot listen on ${host}:${port}: the port is in use by another process, or not permitted`));
          } else {
            resolve(listenSocket);
          }
        });
      });
      sockets.push(socket);
    }
  } catch (error) {
    stop();
    throw error;
  }
  const bound = sockets.map((s) => uWS.us_socket_local_port(s));
  return {
    ports: bound,
    stopListening: stop,
    urls: (scheme) => bound.map((port) => `${scheme}://${urlHost(host)}:${String(port)}`),
  };
}

/** Ports held by a supervisor for the processes it is about to start. */
export interface PortReservation {
  /** The reserved ports, in the order asked (a requested 0 becomes the kernel's choice). */
  readonly ports: readonly number[];
  /** Closes the reservation's sockets and any connection they accepted meanwhile. Idempotent. */
  release(): void;
}

/**
 * Holds `ports` on `host` for processes that will bind them shared (`listenAll(…, { shared: true })`), from
 * before they start until they listen. A port merely found free and closed again belongs to anyone during the
 * seconds a process takes to start: another process's bind to port 0, or an outgoing connection's local port,
 * takes it, and the loop's bind fails. Each port is first bound exclusively (a port another process holds, even
 * shared, is an error naming it), then at once bound shared and kept. A connection that reaches the reservation
 * before it is released is answered 503 (the kernel spreads connections over every socket sharing the port).
 */
export async function reservePorts(host: string, ports: readonly number[]): Promise<PortReservation> {
  const app = uWS.App();
  app.any('/*', (res) => {
    res.writeStatus('503 Service Unavailable').writeHeader('Retry-After', '1').end('starting\n');
  });
  let released = false;
  const release = (): void => {
    if (!released) {
      released = true;
      closeApp(app);
    }
  };
  try {
    const probe = await listenAll(app, host, ports);
    probe.stopListening();
    const held = await listenAll(app, host, probe.ports, { shared: true });
    return { ports: held.ports, release };
  } catch (error) {
    release();
    throw error;
  }
}
