import { createServer } from 'node:net';

/**
 * A port free right now on 127.0.0.1. A gateway that must be restarted on its port needs one given explicitly:
 * uSockets sets SO_REUSEADDR only when listening on a non-zero port, and without it the connections the old
 * gateway closed (TIME_WAIT, 60 s) keep the new one from binding.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => {
        resolve(port);
      });
    });
  });
}
