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
}

/**
 * Closes every socket of the app: listen sockets, keep-alive HTTP connections, WebSockets (abruptly). The
 * method exists in this uWS build but is missing from its type declarations.
 */
export function closeApp(app: TemplatedApp): void {
  (app as unknown as { close(): void }).close();
}

/** Listens on every port of the list; rejects (after closing what did bind) if any port cannot be bound. */
export async function listenAll(app: TemplatedApp, host: string, ports: readonly number[]): Promise<Listening> {
  const sockets: us_listen_socket[] = [];
  const stop = (): void => {
    for (const socket of sockets.splice(0)) {
      uWS.us_listen_socket_close(socket);
    }
  };
  try {
    for (const port of ports) {
      const socket = await new Promise<us_listen_socket>((resolve, reject) => {
        app.listen(host, port, (listenSocket) => {
          if (listenSocket === false) {
            reject(new Error(`cannot listen on ${host}:${port} (in use or not permitted)`));
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
  return { ports: sockets.map((s) => uWS.us_socket_local_port(s)), stopListening: stop };
}
