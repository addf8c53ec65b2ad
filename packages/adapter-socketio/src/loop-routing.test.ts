import { execFile } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { createConnection, createServer } from 'node:net';
import type { Server as NetServer, Socket as NetSocket } from 'node:net';
import { Server } from 'socket.io';
import { WebSocket, WebSocketServer } from 'ws';
import type { RawData } from 'ws';
import { io as connectClient } from 'socket.io-client';
import type { Socket as ClientSocket } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import { closeApp, createApp, listenAll, withUpgradeCork } from '@gw/uws';
import type { TemplatedApp } from '@gw/uws';
import { loopSessionId, sessionLoop, withLoopRouting } from './loop-routing.js';
import type { LoopRoutingOptions } from './loop-routing.js';

/**
 * Two event loops of one node, each a uWS app with its own Socket.IO server attached through `withLoopRouting`
 * and listening on its own private port; the shared public port is played by a round-robin TCP balancer that
 * hands each new connection to the next loop, as SO_REUSEPORT spreads them.
 */

interface Loop {
  index: number;
  app: TemplatedApp;
  io: Server;
  port: number;
  /** Requests this loop served for its sessions that another loop forwarded, by method, and their x-forwarded-for. */
  forwarded: { GET: number; POST: number; forwardedFor: string[] };
  /** The sids of the requests engine.io refused here, marked `(forwarded)` when another loop sent them. */
  refused: string[];
  /** The headers of the WebSocket upgrades another loop relayed here. */
  relayedUpgrades: Record<string, string | undefined>[];
  /** Why this loop's Engine.IO sessions closed, in order. */
  sessionCloses: string[];
  /**
   * A session's `flood` (see the handler): blobs written so far, whether it waits on a peer that reads
   * nothing, and `stop` to end it.
   */
  flood: { written: number; stalled: boolean; stop: boolean };
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) {
    await cleanup();
  }
});

/**
 * Loops on kernel-chosen private ports, each given the list of all of them (`privatePorts` may change the
 * list the loops are given) and `routing` as further options; `maxBackpressure` is each loop's uWS bound for
 * a WebSocket's unsent bytes (uWS's own default when not given).
 */
async function startLoops(
  count: number,
  {
    privatePorts = (ports) => ports,
    routing = {},
    maxBackpressure,
  }: { privatePorts?: (ports: number[]) => number[]; routing?: Partial<LoopRoutingOptions>; maxBackpressure?: number } = {},
): Promise<Loop[]> {
  const apps = Array.from({ length: count }, () => createApp(undefined));
  const ports: number[] = [];
  for (const app of apps) {
    const listening = await listenAll(app, '127.0.0.1', [0]);
    ports.push(listening.ports[0] ?? 0);
  }
  const given = privatePorts(ports);
  const loops = apps.map((app, index): Loop => {
    const io = new Server({ serveClient: false, maxHttpBufferSize: 4096, ...(maxBackpressure === undefined ? {} : { maxBackpressure }) });
    io.attachApp(withLoopRouting(withUpgradeCork(app), { self: index, privatePorts: given, maxBodyBytes: 4096, responseTimeoutMs: 60_000, ...routing }));
    io.engine.generateId = loopSessionId(index);
    const forwarded = { GET: 0, POST: 0, forwardedFor: [] as string[] };
    const relayedUpgrades: Record<string, string | undefined>[] = [];
    io.engine.on('headers', (_headers: unknown, req: { method: string; headers: Record<string, string | undefined>; _query: { transport?: string } }) => {
      const forwardedFor = req.headers['x-forwarded-for'];
      if (req.headers['x-gateway-loop'] !== undefined && req._query.transport === 'websocket') {
        relayedUpgrades.push({ ...req.headers });
        return;
      }
      if (req.headers['x-gateway-loop'] !== undefined && forwardedFor !== undefined && (req.method === 'GET' || req.method === 'POST')) {
        forwarded[req.method] += 1;
        forwarded.forwardedFor.push(forwardedFor);
      }
    });
    const refused: string[] = [];
    io.engine.on('connection_error', (error: { req: { _query: { sid?: string }; headers: Record<string, string | undefined> } }) => {
      const sid = error.req._query.sid ?? '';
      refused.push(error.req.headers['x-gateway-loop'] === undefined ? sid : `${sid} (forwarded)`);
    });
    const sessionCloses: string[] = [];
    const flood = { written: 0, stalled: false, stop: false };
    io.engine.on('connection', (session: { on: (event: 'close', listener: (reason: string) => void) => void }) => {
      session.on('close', (reason) => {
        sessionCloses.push(reason);
      });
    });
    io.on('connection', (socket) => {
      socket.emit('hello', { loop: index });
      socket.on('echo', (data: unknown) => {
        socket.emit('echoed', { data, loop: index });
      });
      // Blobs written only while this loop holds nothing unsent for the session, so its unsent bytes stay put only
      // when its peer stops reading: after 100 turns in a row without a byte leaving, the flood counts as stalled.
      socket.on('flood', ({ count: blobs, size }: { count: number; size: number }) => {
        const unsent = (): number => (socket.conn.transport as unknown as { socket?: { getBufferedAmount(): number } }).socket?.getBufferedAmount() ?? 0;
        let last = -1;
        let still = 0;
        const step = (): void => {
          while (flood.written < blobs && !flood.stop && unsent() === 0 && socket.connected) {
            socket.emit('blob', { i: flood.written, pad: 'x'.repeat(size) });
            flood.written += 1;
          }
          const now = unsent();
          still = now > 0 && now >= last ? still + 1 : 0;
          last = now;
          flood.stalled = still >= 100;
          if (flood.written < blobs && !flood.stop && socket.connected) {
            setTimeout(step, 1);
          }
        };
        step();
      });
      socket.on('leave me', () => {
        socket.disconnect(true);
      });
      socket.on('echo_ack', (data: unknown, ack: (reply: unknown) => void) => {
        ack({ data, loop: index });
      });
    });
    return { index, app, io, port: ports[index] ?? 0, forwarded, refused, relayedUpgrades, sessionCloses, flood };
  });
  cleanups.push(async () => {
    for (const loop of loops) {
      await new Promise<void>((resolve) => {
        void loop.io.close(() => {
          resolve();
        });
      });
      closeApp(loop.app);
    }
  });
  return loops;
}

async function startTwoLoops(): Promise<[Loop, Loop]> {
  const [loop0, loop1] = await startLoops(2);
  if (loop0 === undefined || loop1 === undefined) {
    throw new Error('startLoops(2) started fewer loops');
  }
  return [loop0, loop1];
}

/** Listens on a free loopback port; the test's cleanup destroys the `sockets` still open and closes the server. */
async function listenForTest(server: NetServer, sockets: ReadonlySet<NetSocket>): Promise<void> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) {
          socket.destroy();
        }
        server.close(() => {
          resolve();
        });
      }),
  );
}

/**
 * The public port: the n-th new TCP connection (from 0) goes to the loop `pick(n)` (round robin by default),
 * bytes piped both ways.
 */
async function startBalancer(loops: readonly Loop[], pick: (n: number) => number = (n) => n % loops.length): Promise<string> {
  const sockets = new Set<NetSocket>();
  let next = 0;
  const server: NetServer = createServer((client) => {
    const upstream = createConnection({ host: '127.0.0.1', port: loops[pick(next)]?.port ?? 0 });
    next += 1;
    for (const [from, to] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      sockets.add(from);
      from.on('error', () => undefined);
      from.on('close', () => {
        sockets.delete(from);
        to.destroy();
      });
      from.pipe(to);
    }
  });
  await listenForTest(server, sockets);
  const address = server.address();
  return `http://127.0.0.1:${String(typeof address === 'object' && address !== null ? address.port : 0)}`;
}

interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTP request on its own connection (no pooling: the test picks the loop by port). */
function send(port: number, method: 'GET' | 'POST', path: string, body?: string, headers: Record<string, string> = {}): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        agent: false,
        headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'text/plain;charset=UTF-8', 'content-length': String(Buffer.byteLength(body)) }) },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks).toString() });
        });
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

const enginePath = '/socket.io/?EIO=4&transport=polling';

/** Opens an Engine.IO polling session directly on the loop at `port`; returns its sid. */
async function handshake(port: number): Promise<string> {
  const answer = await send(port, 'GET', enginePath);
  expect(answer.status).toBe(200);
  expect(answer.body.startsWith('0')).toBe(true);
  return (JSON.parse(answer.body.slice(1)) as { sid: string }).sid;
}

/** Engine.IO packets of one long-poll GET answer (record separator \x1e). */
async function poll(port: number, sid: string): Promise<string[]> {
  const answer = await send(port, 'GET', `${enginePath}&sid=${encodeURIComponent(sid)}`);
  expect(answer.status, answer.body).toBe(200);
  return answer.body.split('\x1e');
}

async function post(port: number, sid: string, packets: string[]): Promise<HttpAnswer> {
  return send(port, 'POST', `${enginePath}&sid=${encodeURIComponent(sid)}`, packets.join('\x1e'), { origin: 'http://app.example' });
}

/** Polls at `port` until a packet matching `wanted` arrives. */
async function pollUntil(port: number, sid: string, wanted: (packet: string) => boolean): Promise<string> {
  for (;;) {
    for (const packet of await poll(port, sid)) {
      if (wanted(packet)) {
        return packet;
      }
    }
  }
}

function nextEvent<T>(socket: ClientSocket, event: string): Promise<T> {
  return new Promise((resolve) => {
    socket.once(event, (data: T) => {
      resolve(data);
    });
  });
}

async function connected(url: string, options: Parameters<typeof connectClient>[1]): Promise<{ socket: ClientSocket; hello: { loop: number } }> {
  const socket = connectClient(url, { forceNew: true, reconnection: false, ...options });
  cleanups.push(() => {
    socket.close();
  });
  const hello = nextEvent<{ loop: number }>(socket, 'hello');
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  return { socket, hello: await hello };
}

describe('loop session ids', () => {
  it('name their loop before a dot, with 20 random base64url characters; anything else names no loop', () => {
    const ids = Array.from({ length: 200 }, loopSessionId(7));
    for (const id of ids) {
      expect(id).toMatch(/^7\.[A-Za-z0-9_-]{20}$/);
      expect(sessionLoop(id)).toBe(7);
    }
    expect(new Set(ids).size).toBe(ids.length);
    expect(sessionLoop(loopSessionId(0)())).toBe(0);
    expect(sessionLoop(loopSessionId(12)())).toBe(12);
    for (const other of ['', 'abc', 'Vq2JQ_0d5x1pJtE1AAAB', '07.aaaaaaaaaaaaaaaaaaaa', '-1.aaaaaaaaaaaaaaaaaaaa', '1.short', '1.aaaaaaaaaaaaaaaaaaaa.', '1x.aaaaaaaaaaaaaaaaaaaa']) {
      expect(sessionLoop(other)).toBeUndefined();
    }
    expect(() => loopSessionId(-1)).toThrow(/loop index/);
  });
});

describe('Engine.IO polling across event loops', () => {
  it('serves a session on its owner whichever loop each request reaches: POSTs and GETs through the wrong loop are forwarded', async () => {
    const [loop0, loop1] = await startTwoLoops();
    const sid = await handshake(loop0.port);
    expect(sessionLoop(sid)).toBe(0);

    // The Socket.IO CONNECT posted through loop 1, its answer read through loop 1: both forwarded to loop 0.
    expect(await post(loop1.port, sid, ['40'])).toMatchObject({ status: 200, body: 'ok' });
    expect(await pollUntil(loop1.port, sid, (p) => p.startsWith('42'))).toBe('42["hello",{"loop":0}]');
    // An event posted through the wrong loop reaches the session; the answer is read on the owner itself.
    expect(await post(loop1.port, sid, ['42["echo","through loop 1"]'])).toMatchObject({ status: 200, body: 'ok' });
    expect(await pollUntil(loop0.port, sid, (p) => p.startsWith('42'))).toBe('42["echoed",{"data":"through loop 1","loop":0}]');

    expect(loop0.forwarded).toMatchObject({ POST: 2 });
    expect(loop0.forwarded.GET).toBeGreaterThanOrEqual(1);
    // The owner sees the client's address in x-forwarded-for.
    expect(loop0.forwarded.forwardedFor.every((address) => /^(::ffff:)?127\.0\.0\.1$/.test(address))).toBe(true);
    expect(loop1.io.engine.clientsCount).toBe(0);
  });

  it('a socket.io-client on polling through the shared port connects, emits and receives both ways', async () => {
    const loops = await startLoops(2);
    // Two clients, each through its own round robin, one starting at loop 0, the other at loop 1: each loop owns a session.
    const first = await connected(await startBalancer(loops), { transports: ['polling'] });
    const second = await connected(await startBalancer(loops, (n) => (n + 1) % 2), { transports: ['polling'] });
    expect([first.hello.loop, second.hello.loop]).toEqual([0, 1]);
    for (const { socket, hello } of [first, second]) {
      expect(sessionLoop(socket.io.engine.id)).toBe(hello.loop);
      for (let i = 0; i < 6; i += 1) {
        const echoed = nextEvent<unknown>(socket, 'echoed');
        socket.emit('echo', { i });
        expect(await echoed).toEqual({ data: { i }, loop: hello.loop });
        expect(await socket.emitWithAck('echo_ack', i)).toEqual({ data: i, loop: hello.loop });
      }
      expect(socket.io.engine.transport.name).toBe('polling');
    }
    // Each request is a new connection (the client does not keep connections alive), so each loop received part
    // of the other's session.
    for (const loop of loops) {
      expect(loop.forwarded.GET + loop.forwarded.POST).toBeGreaterThan(0);
    }
  });

  it("answers a sid that names no live session with engine.io's own 400, wherever it is sent", async () => {
    const [loop0, loop1] = await startTwoLoops();
    const unknown = { code: 1, message: 'Session ID unknown' };
    // Garbage, loop indexes out of range or not canonical, this loop's own: answered here. A well-formed sid of
    // loop 1: forwarded, and loop 1's answer relayed.
    const local = ['garbage', '2.aaaaaaaaaaaaaaaaaaaa', '9999.aaaaaaaaaaaaaaaaaaaa', '01.aaaaaaaaaaaaaaaaaaaa', '0.aaaaaaaaaaaaaaaaaaaa'];
    const remote = '1.aaaaaaaaaaaaaaaaaaaa';
    for (const sid of [...local, remote]) {
      for (const answer of [await send(loop0.port, 'GET', `${enginePath}&sid=${sid}`), await post(loop0.port, sid, ['40'])]) {
        expect(answer.status, sid).toBe(400);
        expect(JSON.parse(answer.body), sid).toEqual(unknown);
      }
    }
    expect(loop0.refused).toEqual(local.flatMap((sid) => [sid, sid]));
    // No query at all (uWS gives no query string): engine.io's answer too.
    const bare = await send(loop0.port, 'GET', '/socket.io/');
    expect([bare.status, JSON.parse(bare.body)]).toEqual([400, { code: 0, message: 'Transport unknown' }]);
    expect(loop1.refused).toEqual([`${remote} (forwarded)`, `${remote} (forwarded)`]);
  });

  it('answers 413 for a forwarded body over maxHttpBufferSize, and the session goes on', async () => {
    const [loop0, loop1] = await startTwoLoops();
    const sid = await handshake(loop0.port);
    const tooLarge = await post(loop1.port, sid, [`42["echo","${'x'.repeat(5000)}"]`]);
    expect(tooLarge.status).toBe(413);
    expect(JSON.parse(tooLarge.body)).toMatchObject({ code: 413, error: 'payload_too_large' });
    expect(await post(loop1.port, sid, ['40'])).toMatchObject({ status: 200, body: 'ok' });
    expect(await pollUntil(loop1.port, sid, (p) => p.startsWith('42'))).toBe('42["hello",{"loop":0}]');
  });

  it('answers 503 loop_unavailable when the owner loop is gone, and keeps serving its own sessions', async () => {
    const [loop0, loop1] = await startTwoLoops();
    const sid = await handshake(loop1.port);
    expect(await post(loop0.port, sid, ['40'])).toMatchObject({ status: 200, body: 'ok' });
    expect(await pollUntil(loop0.port, sid, (p) => p.startsWith('42'))).toBe('42["hello",{"loop":1}]');

    // A long poll forwarded to loop 1 and waiting there when loop 1 dies.
    const waiting = send(loop0.port, 'GET', `${enginePath}&sid=${sid}`);
    const session = (loop1.io.engine as unknown as { clients: Record<string, { transport: { writable: boolean } }> }).clients[sid];
    await expect.poll(() => session?.transport.writable).toBe(true);
    closeApp(loop1.app);
    const unavailable = { code: 503, error: 'loop_unavailable', loop: 1 };
    const cut = await waiting;
    expect(cut.status).toBe(503);
    expect(cut.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(cut.body)).toMatchObject({ ...unavailable, message: expect.stringContaining('loop 1') as unknown });
    // Nothing listens there any more.
    for (const answer of [await send(loop0.port, 'GET', `${enginePath}&sid=${sid}`), await post(loop0.port, sid, ['42["echo",1]'])]) {
      expect(answer.status).toBe(503);
      expect(JSON.parse(answer.body)).toMatchObject(unavailable);
    }

    const own = await handshake(loop0.port);
    expect(await post(loop0.port, own, ['40'])).toMatchObject({ status: 200, body: 'ok' });
    expect(await pollUntil(loop0.port, own, (p) => p.startsWith('42'))).toBe('42["hello",{"loop":0}]');
    expect(await post(loop0.port, own, ['42["echo","still here"]'])).toMatchObject({ status: 200, body: 'ok' });
    expect(await pollUntil(loop0.port, own, (p) => p.startsWith('42["echoed"'))).toBe('42["echoed",{"data":"still here","loop":0}]');
  });

  for (const [transport, route] of [
    ['polling', 'round robin'],
    ['default', 'the handshake on loop 0, the rest on loop 1'],
  ] as const) {
    it(`the python-socketio client works through the shared port (${transport} transport, ${route})`, async () => {
      const loops = await startLoops(2);
      const url = await startBalancer(loops, route === 'round robin' ? undefined : (n) => (n === 0 ? 0 : 1));
      const { stdout, stderr, code } = await runPython(['-c', pythonClient, url, transport], 30_000);
      expect(code, `python client failed: ${stderr}`).toBe(0);
      const events = stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { event: string; data: unknown });
      const data = (event: string): unknown => events.find((e) => e.event === event)?.data;
      expect(data('hello')).toEqual({ loop: 0 });
      expect(sessionLoop(data('connect') as string)).toBe(0);
      const [loop0, loop1] = loops;
      if (transport === 'polling') {
        // Its long GET holds one connection while it posts on another: the second one reached loop 1.
        expect((loop0?.forwarded.GET ?? 0) + (loop0?.forwarded.POST ?? 0)).toBeGreaterThan(0);
        expect(data('transport')).toBe('polling');
      } else {
        // It upgrades right after the handshake, before any other request: the upgrade reached loop 1, which
        // relayed it to loop 0, and everything went over that WebSocket.
        expect(loop0?.relayedUpgrades).toHaveLength(1);
        expect(loop1?.io.engine.clientsCount).toBe(0);
        expect(data('transport')).toBe('websocket');
      }
      expect(events.filter((e) => e.event === 'echoed').map((e) => e.data)).toEqual([0, 1, 2, 3, 4, 5].map((i) => ({ data: i, loop: 0 })));
    });
  }
  it('clients upgrade to WebSocket through a round robin, whichever loop the upgrade reaches', async () => {
    const loops = await startLoops(2);
    const url = await startBalancer(loops);
    const clients = [await connected(url, {}), await connected(url, {}), await connected(url, {})];
    for (const { socket, hello } of clients) {
      await upgraded(socket);
      for (let i = 0; i < 3; i += 1) {
        expect(await socket.emitWithAck('echo_ack', i)).toEqual({ data: i, loop: hello.loop });
      }
    }
  });
});

describe('Engine.IO WebSocket upgrades across event loops', () => {
  it('a socket.io-client whose upgrade reaches another loop is upgraded through it: events both ways, its close ends the session on its loop', async () => {
    const [loop0, loop1] = await startTwoLoops();
    // The handshake on loop 0, every later connection (polls, posts, the upgrade) on loop 1.
    const url = await startBalancer([loop0, loop1], (n) => (n === 0 ? 0 : 1));
    const { socket, hello } = await connected(url, {});
    expect(hello).toEqual({ loop: 0 });
    await upgraded(socket);
    expect(sessionLoop(socket.io.engine.id)).toBe(0);
    expect(loop0.relayedUpgrades).toHaveLength(1);
    expect(loop1.io.engine.clientsCount).toBe(0);
    expect(loop1.refused).toEqual([]);
    for (let i = 0; i < 3; i += 1) {
      const echoed = nextEvent<unknown>(socket, 'echoed');
      socket.emit('echo', { i });
      expect(await echoed).toEqual({ data: { i }, loop: 0 });
      expect(await socket.emitWithAck('echo_ack', `ack ${String(i)}`)).toEqual({ data: `ack ${String(i)}`, loop: 0 });
    }
    // Binary attachments are binary frames, relayed as such.
    const bytes = Buffer.from([0, 1, 2, 253, 254, 255]);
    const binary: unknown = await socket.emitWithAck('echo_ack', bytes);
    expect(binary).toMatchObject({ loop: 0 });
    expect(Buffer.from((binary as { data: Uint8Array }).data)).toEqual(bytes);
    expect(socket.io.engine.transport.name).toBe('websocket');

    socket.close();
    await expect.poll(() => loop0.sessionCloses, { timeout: 10_000 }).toEqual(['transport close']);
    expect(loop0.io.engine.clientsCount).toBe(0);
  });

  it('a socket.io-client upgraded through another loop is disconnected when its loop goes away', async () => {
    const [loop0, loop1] = await startTwoLoops();
    const url = await startBalancer([loop0, loop1], (n) => (n === 0 ? 0 : 1));
    const { socket } = await connected(url, {});
    await upgraded(socket);
    const disconnected = nextEvent<string>(socket, 'disconnect');
    closeApp(loop0.app);
    expect(await disconnected).toBe('transport close');
  });

  it('relays the Engine.IO upgrade, text and binary frames and the end-to-end headers; a close goes through with its code', async () => {
    const [loop0, loop1] = await startTwoLoops();
    const sid = await handshake(loop0.port);
    const headers = { origin: 'http://app.example', cookie: 'io=abc', 'user-agent': 'relay-test/1', authorization: 'Bearer token' };
    const client = await upgradeRaw(loop1.port, sid, headers);
    client.ws.send('40');
    expect(await client.until((f) => f.startsWith('40'))).toMatch(/^40\{"sid":/);
    expect(await client.until((f) => f.startsWith('42'))).toBe('42["hello",{"loop":0}]');
    client.ws.send('42["echo","through loop 1"]');
    expect(await client.until((f) => f.startsWith('42'))).toBe('42["echoed",{"data":"through loop 1","loop":0}]');
    // A Socket.IO event with one binary attachment: a text frame, then a binary one; the answer likewise.
    client.ws.send('451-["echo",{"_placeholder":true,"num":0}]');
    client.ws.send(Buffer.from([9, 8, 7, 0, 255]));
    expect(await client.until((f) => f.startsWith('451-'))).toBe('451-["echoed",{"data":{"_placeholder":true,"num":0},"loop":0}]');
    expect(await client.next()).toEqual(Buffer.from([9, 8, 7, 0, 255]));

    expect(loop0.relayedUpgrades).toHaveLength(1);
    expect(loop0.relayedUpgrades[0]).toMatchObject({ ...headers, 'x-gateway-loop': '1' });
    expect(loop0.relayedUpgrades[0]?.['x-forwarded-for']).toMatch(/^(::ffff:)?127\.0\.0\.1$/);
    expect(loop1.io.engine.clientsCount).toBe(0);

    client.ws.close(4000, 'bye');
    expect(await client.closed).toEqual({ code: 4000, reason: 'bye' });
    await expect.poll(() => loop0.sessionCloses, { timeout: 10_000 }).toEqual(['transport close']);
  });

  it("closes a relayed WebSocket as its loop closes it: the same close as the loop's own WebSocket", async () => {
    const [loop0, loop1] = await startTwoLoops();
    const closes: { code: number; reason: string }[] = [];
    for (const port of [loop0.port, loop1.port]) {
      const client = await upgradeRaw(port, await handshake(loop0.port));
      client.ws.send('40');
      await client.until((f) => f.startsWith('42["hello"'));
      client.ws.send('42["leave me"]');
      expect(await client.until((f) => f.startsWith('41'))).toBe('41');
      closes.push(await client.closed);
    }
    expect(closes[1]).toEqual(closes[0]);
  });

  it("closes the client with 1011 when the session's loop refuses the upgrade or cannot be reached", async () => {
    const [loop0, loop1] = await startTwoLoops();
    // A session loop 0 does not know: its engine.io answers 400.
    const refused = await upgradeRaw(loop1.port, '0.aaaaaaaaaaaaaaaaaaaa', {}, false);
    expect(await refused.closed).toEqual({ code: 1011, reason: 'gateway loop 0 holding this session: Unexpected server response: 400' });
    expect(loop0.refused).toEqual(['0.aaaaaaaaaaaaaaaaaaaa (forwarded)']);

    const sid = await handshake(loop0.port);
    const relayed = await upgradeRaw(loop1.port, sid);
    closeApp(loop0.app);
    // Cut without a close frame: "is gone", or the socket error when the cut is a reset.
    expect(await relayed.closed).toEqual({ code: 1011, reason: expect.stringMatching(/^gateway loop 0 holding this session( is gone|: E[A-Z]+)$/) as unknown });
    const unreachable = await upgradeRaw(loop1.port, sid, {}, false);
    expect(await unreachable.closed).toEqual({ code: 1011, reason: 'gateway loop 0 holding this session: ECONNREFUSED' });
  });

  it("holds the client's frames until the session's loop answers, up to a bound, and gives up after the connect timeout", async () => {
    // Loop 1's private port accepts connections and never answers.
    const silent = new Set<NetSocket>();
    let accepted = 0;
    const server = createServer((socket) => {
      accepted += 1;
      silent.add(socket);
      // Read (and dropped) so that the relay's end of the connection is seen.
      socket.resume();
      socket.on('close', () => silent.delete(socket));
    });
    await listenForTest(server, silent);
    const silentPort = (server.address() as { port: number }).port;
    const [loop0] = await startLoops(1, { privatePorts: (ports) => [...ports, silentPort], routing: { maxRelayBufferedBytes: 1024, relayConnectTimeoutMs: 3_000 } });
    const port = loop0?.port ?? 0;

    const flooding = await upgradeRaw(port, '1.aaaaaaaaaaaaaaaaaaaa', {}, false);
    await expect.poll(() => accepted, { timeout: 10_000 }).toBe(1);
    for (let i = 0; i < 3; i += 1) {
      flooding.ws.send(`42["echo","${'x'.repeat(400)}"]`);
    }
    expect(await flooding.closed).toEqual({ code: 1013, reason: 'too much data before the gateway process holding this session answered: reconnect' });
    await expect.poll(() => silent.size, { timeout: 10_000 }).toBe(0);

    const waiting = await upgradeRaw(port, '1.aaaaaaaaaaaaaaaaaaaa', {}, false);
    waiting.ws.send('2probe');
    expect(await waiting.closed).toEqual({ code: 1011, reason: 'gateway loop 1 holding this session: Opening handshake has timed out' });
  });
});

describe('Relayed WebSockets under backpressure', () => {
  it("pauses the session's loop while the client does not read, holds no more than its bound, and delivers everything in order once the client reads", async () => {
    const maxRelayBufferedBytes = 256 * 1024;
    // uWS's default bound (64 KiB) would drop a 64 KiB blob the loop writes.
    const [loop0, loop1] = await startLoops(2, { routing: { maxRelayBufferedBytes }, maxBackpressure: 64 * 1024 * 1024 });
    if (loop0 === undefined || loop1 === undefined) {
      throw new Error('startLoops(2) started fewer loops');
    }
    const sid = await handshake(loop0.port);
    const client = await upgradeRaw(loop1.port, sid);
    client.ws.send('40');
    await client.until((f) => f.startsWith('42["hello"'));

    // The client stops reading; its session's loop sends up to 256 MiB, far more than both TCP connections'
    // kernel buffers hold.
    client.ws.pause();
    client.ws.send('42["flood",{"count":4096,"size":65536}]');
    // The relay stopped reading from the session's loop: the bytes wait there, not in the relay (which would
    // have closed the client with 1013 past its 256 KiB).
    await expect.poll(() => loop0.flood.stalled, { timeout: 30_000 }).toBe(true);
    expect(client.ws.readyState).toBe(WebSocket.OPEN);
    loop0.flood.stop = true;

    // The client reads again: every blob the loop wrote arrives, in order.
    client.ws.resume();
    for (let expected = 0; expected < loop0.flood.written; expected += 1) {
      const frame = await client.until((f) => f.startsWith('42["blob"'));
      expect((JSON.parse(frame.slice(2)) as [string, { i: number }])[1].i).toBe(expected);
    }
    // The session goes on both ways.
    client.ws.send('42["echo","after the flood"]');
    expect(await client.until((f) => f.startsWith('42["echoed"'))).toBe('42["echoed",{"data":"after the flood","loop":0}]');
  });

  it("closes both sides with 1013 when the session's loop stops reading what the client sends, past the bound", async () => {
    // Loop 1's private port: a WebSocket server that accepts the relayed upgrade, then reads nothing more.
    const stalled = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          for (const peer of stalled.clients) {
            peer.terminate();
          }
          stalled.close(() => {
            resolve();
          });
        }),
    );
    await new Promise<void>((resolve) => stalled.once('listening', resolve));
    const peers: WebSocket[] = [];
    const upstreamClosed = new Promise<number>((resolve) => {
      stalled.on('connection', (peer) => {
        peer.pause();
        peers.push(peer);
        peer.on('close', (code: number) => {
          resolve(code);
        });
      });
    });
    const stalledPort = (stalled.address() as { port: number }).port;
    const [loop0] = await startLoops(1, { privatePorts: (ports) => [...ports, stalledPort], routing: { maxRelayBufferedBytes: 256 * 1024 } });
    const client = await upgradeRaw(loop0?.port ?? 0, '1.aaaaaaaaaaaaaaaaaaaa', {}, false);
    // The first frame is held until the owner's upgrade is answered; the rest go straight to it.
    client.ws.send('2probe');

    // Frames just under the loop's maxHttpBufferSize, each once the client's socket took the last one, until the
    // relay's close frame arrives; at most 256 MiB (far more than the kernel buffers hold).
    const frame = `42["echo","${'y'.repeat(4000)}"]`;
    for (let sent = 0; client.ws.readyState === WebSocket.OPEN && sent < 65_536; sent += 1) {
      await new Promise<void>((resolve) => {
        client.ws.send(frame, () => {
          resolve();
        });
      });
    }
    expect(await client.closed).toEqual({ code: 1013, reason: 'the gateway process holding this session does not keep up: reconnect' });
    // The session's loop reads again: behind what the relay had sent, the relay's close with the same code.
    expect(peers).toHaveLength(1);
    for (const peer of peers) {
      peer.resume();
    }
    expect(await upstreamClosed).toBe(1013);
  });
});

/** Resolves once `socket`'s Engine.IO is on WebSocket; rejects when its upgrade fails. */
async function upgraded(socket: ClientSocket): Promise<void> {
  const engine = socket.io.engine;
  if (engine.transport.name === 'websocket') {
    return;
  }
  await new Promise<void>((resolve, reject) => {
    engine.once('upgrade', () => {
      resolve();
    });
    engine.once('upgradeError', (error: Error) => {
      reject(error);
    });
  });
}

interface RawClient {
  ws: WebSocket;
  /** The next frame: text as a string, binary as a Buffer. */
  next: () => Promise<string | Buffer>;
  /** The next text frame matching `wanted`, skipping the others. */
  until: (wanted: (frame: string) => boolean) => Promise<string>;
  closed: Promise<{ code: number; reason: string }>;
}

/**
 * A raw WebSocket to `port` for Engine.IO session `sid`, upgraded as engine.io-client does (2probe, 3probe, 5)
 * unless `probe` is false.
 */
async function upgradeRaw(port: number, sid: string, headers: Record<string, string> = {}, probe = true): Promise<RawClient> {
  const ws = new WebSocket(`ws://127.0.0.1:${String(port)}/socket.io/?EIO=4&transport=websocket&sid=${encodeURIComponent(sid)}`, { headers, perMessageDeflate: false });
  cleanups.push(() => {
    ws.terminate();
  });
  const frames: (string | Buffer)[] = [];
  const waiters: ((frame: string | Buffer) => void)[] = [];
  ws.on('message', (data: RawData, isBinary: boolean) => {
    const buffer = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as Buffer);
    const frame = isBinary ? buffer : buffer.toString();
    const waiter = waiters.shift();
    if (waiter === undefined) {
      frames.push(frame);
    } else {
      waiter(frame);
    }
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on('close', (code: number, reason: Buffer) => {
      resolve({ code, reason: reason.toString() });
    });
  });
  ws.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const next = (): Promise<string | Buffer> => {
    const frame = frames.shift();
    return frame === undefined ? new Promise((resolve) => waiters.push(resolve)) : Promise.resolve(frame);
  };
  const until = async (wanted: (frame: string) => boolean): Promise<string> => {
    for (;;) {
      const frame = await next();
      if (typeof frame === 'string' && wanted(frame)) {
        return frame;
      }
    }
  };
  if (probe) {
    ws.send('2probe');
    expect(await until((f) => f.endsWith('probe'))).toBe('3probe');
    ws.send('5');
  }
  return { ws, next, until, closed };
}

/**
 * The python-socketio client (Debian's python3-socketio, as the other python tests run it): connects, sends six
 * events one after the other, prints what it gets as JSON lines, and exits. Not through `disconnect()`: on
 * polling, its write loop may stop before sending the CLOSE packet, and the client then waits for the server's
 * next ping (pingInterval) to end its long poll.
 */
const PYTHON = '/usr/bin/python3';
const pythonClient = String.raw`
import json, os, sys, threading
import socketio

url, transport = sys.argv[1], sys.argv[2]
sio = socketio.Client(reconnection=False)
lock = threading.Lock()
count = [0]

def out(event, data):
    with lock:
        sys.stdout.write(json.dumps({"event": event, "data": data}) + "\n")
        sys.stdout.flush()

@sio.event
def connect():
    out("connect", sio.eio.sid)

@sio.event
def hello(data):
    out("hello", data)
    out("transport", sio.transport())
    sio.emit("echo", 0)

@sio.event
def echoed(data):
    out("echoed", data)
    count[0] += 1
    if count[0] == 6:
        os._exit(0)
    else:
        sio.emit("echo", count[0])

sio.connect(url, transports=[transport] if transport != "default" else None, wait_timeout=10)
sio.wait()
`;

function runPython(args: string[], timeoutMs: number): Promise<{ stdout: string; stderr: string; code: number | null }> {
  return new Promise((resolve) => {
    execFile(PYTHON, args, { timeout: timeoutMs, encoding: 'utf8' }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
      resolve({ stdout, stderr, code });
    });
  });
}
