import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { closeApp, createApp, listenAll, reservePorts } from './listen.js';
import type { Listening } from './listen.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) {
    cleanup();
  }
});

/** A Node server bound exclusively on `port` (0: the kernel's choice); resolves its port, or rejects with the bind error. */
function nodeListen(port: number): Promise<{ server: Server; port: number }> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => {
      const address = server.address();
      cleanups.push(() => {
        server.close();
      });
      resolve({ server, port: typeof address === 'object' && address !== null ? address.port : 0 });
    });
  });
}

/** A uWS app answering `name` on every path, listening shared on `port` (as a loop does). */
async function sharedApp(port: number, name: string): Promise<Listening> {
  const app = createApp(undefined);
  app.any('/*', (res) => {
    res.end(name);
  });
  const listening = await listenAll(app, '127.0.0.1', [port], { shared: true });
  cleanups.push(() => {
    listening.stopListening();
    closeApp(app);
  });
  return listening;
}

describe('reservePorts', () => {
  it('holds a port against other processes until released, while loops bind it shared; early connections get 503', async () => {
    const reservation = await reservePorts('127.0.0.1', [0]);
    cleanups.push(() => {
      reservation.release();
    });
    const port = reservation.ports[0] ?? 0;
    expect(port).toBeGreaterThan(0);

    // Nobody else can take it: the seconds a loop takes to start are covered.
    await expect(nodeListen(port)).rejects.toMatchObject({ code: 'EADDRINUSE' });
    const early = await fetch(`http://127.0.0.1:${String(port)}/api/ready`);
    expect(early.status).toBe(503);
    expect(early.headers.get('retry-after')).toBe('1');

    // The loop binds it shared; once the reservation is released every connection reaches the loop.
    await sharedApp(port, 'loop');
    reservation.release();
    reservation.release();
    for (let i = 0; i < 20; i += 1) {
      const response = await fetch(`http://127.0.0.1:${String(port)}/`, { headers: { connection: 'close' } });
      expect(await response.text()).toBe('loop');
    }
  });

  it('refuses a port another process holds, exclusively or shared, naming it', async () => {
    const taken = await nodeListen(0);
    await expect(reservePorts('127.0.0.1', [taken.port])).rejects.toThrow(`cannot listen on 127.0.0.1:${String(taken.port)}`);

    // A stray process sharing the port (an old node still running) is not joined either.
    const stray = await sharedApp(0, 'stray');
    const strayPort = stray.ports[0] ?? 0;
    await expect(reservePorts('127.0.0.1', [strayPort])).rejects.toThrow(`cannot listen on 127.0.0.1:${String(strayPort)}`);
  });

  it('after release the port is free again', async () => {
    const reservation = await reservePorts('127.0.0.1', [0]);
    const port = reservation.ports[0] ?? 0;
    reservation.release();
    const again = await nodeListen(port);
    expect(again.port).toBe(port);
  });
});
