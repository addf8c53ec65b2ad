import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { TemplatedApp, WebSocket } from 'uWebSockets.js';
import { closeApp, createApp, listenAll } from './listen.js';
import { AfterPublishWrites } from './written.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) {
    cleanup();
  }
});

const nextTurn = (): Promise<void> =>
  new Promise((resolve) => {
    setImmediate(resolve);
  });

/**
 * A uWS app whose one subscriber (of topic `t`) reads nothing after its upgrade, over a Unix socket: once the
 * socket's fixed buffer is full, every byte uWS writes to it stays in the socket's buffered amount, so a write
 * is visible the moment it happens. (Over loopback TCP the receive window can open again later on its own, as
 * the kernel compacts the unread data, and take what uWS held.) The app also listens on a TCP port.
 */
async function stalledSubscriber(): Promise<{ app: TemplatedApp; port: number; server: WebSocket<unknown> }> {
  let opened: (ws: WebSocket<unknown>) => void = () => undefined;
  const open = new Promise<WebSocket<unknown>>((resolve) => {
    opened = resolve;
  });
  const app = createApp(undefined).ws('/*', {
    maxBackpressure: 256 * 1024 * 1024,
    open: (ws) => {
      ws.subscribe('t');
      opened(ws);
    },
  });
  const listening = await listenAll(app, '127.0.0.1', [0]);
  const port = listening.ports[0] ?? 0;
  const scratch = mkdtempSync(join(tmpdir(), 'uws-written-'));
  const path = join(scratch, 'app.sock');
  await new Promise<void>((resolve, reject) => {
    // The typings promise a socket; a failed listen passes false.
    app.listen_unix((socket: unknown) => {
      if (socket) {
        resolve();
      } else {
        reject(new Error(`cannot listen on ${path}`));
      }
    }, path);
  });
  const client: Socket = connect(path);
  cleanups.push(() => {
    client.destroy();
    listening.stopListening();
    closeApp(app);
    rmSync(scratch, { recursive: true, force: true });
  });
  client.write('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
  client.once('data', () => {
    client.pause();
  });
  const server = await open;
  // Fill the socket's buffer (at most 1 GiB offered): from then on uWS keeps what it writes.
  const filler = 'f'.repeat(64 * 1024);
  for (let sent = 0; server.getBufferedAmount() === 0 && sent < 16_384; sent += 1) {
    app.publish('t', filler, false);
    await nextTurn();
  }
  expect(server.getBufferedAmount()).toBeGreaterThan(0);
  return { app, port, server };
}

describe('AfterPublishWrites', () => {
  it('observes a fan-out once uWS wrote it, which app.publish itself has not done yet', async () => {
    const { app, server } = await stalledSubscriber();
    const before = server.getBufferedAmount();
    const seen: { elapsedMs: number; buffered: number }[] = [];
    const clock = new AfterPublishWrites((elapsedMs) => {
      seen.push({ elapsedMs, buffered: server.getBufferedAmount() });
    });

    app.publish('t', 'm'.repeat(1000), false);
    // Queued in uWS's topic tree, not written yet.
    expect(server.getBufferedAmount()).toBe(before);
    clock.add(Date.now() - 5);
    clock.add(Date.now() + 60_000);
    expect(seen).toEqual([]);

    await nextTurn();
    expect(seen).toHaveLength(2);
    for (const { buffered } of seen) {
      expect(buffered).toBeGreaterThanOrEqual(before + 1000);
    }
    expect(seen[0]?.elapsedMs).toBeGreaterThanOrEqual(5);
    // A clock ahead of this host's counts as 0, never negative.
    expect(seen[1]?.elapsedMs).toBe(0);
  });

  it('also when the fan-out runs inside a uWS request handler', async () => {
    const { app, port, server } = await stalledSubscriber();
    const seen: number[] = [];
    const clock = new AfterPublishWrites(() => {
      seen.push(server.getBufferedAmount());
    });
    let inHandler = -1;
    let before = -1;
    app.get('/push', (res) => {
      before = server.getBufferedAmount();
      app.publish('t', 'm'.repeat(1000), false);
      inHandler = server.getBufferedAmount();
      clock.add(Date.now());
      res.end('ok');
    });
    const response = await fetch(`http://127.0.0.1:${String(port)}/push`);
    expect(await response.text()).toBe('ok');
    await expect.poll(() => seen.length).toBe(1);
    expect(inHandler).toBe(before);
    expect(seen[0]).toBeGreaterThanOrEqual(before + 1000);
  });
});
