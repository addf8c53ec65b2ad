// In-band token refresh driven by the Python clients the legacy services' users run (Debian's python3-socketio,
// python3-websocket = websocket-client, python3-websockets): each script connects, prints what it receives
// as JSON lines and takes commands on stdin (`refresh <token>`, `probe`, `close`), so the test mints the tokens
// and decides when to refresh, waiting on the lines the script prints.
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serverExpiry } from '../testing/gateway.js';
import type { TestGateway } from '../testing/gateway.js';
import { startAllProtocols } from '../sdk/fixture.js';
import { handToken, token } from '../protocols/socketio/harness.js';

/** Debian's interpreter, not whatever `python3` is first on PATH: the packages install into its dist-packages. */
const PYTHON = process.env['REFRESH_TEST_PYTHON'] ?? '/usr/bin/python3';

/** Tokens live 4 s and the notice comes 2 s before `exp`: a Python round trip on a loaded machine fits. */
const LIFETIME_S = 4;
const NOTICE_S = 2;

/** Shared by the three scripts: one JSON line per event, written under a lock (the clients call from threads). */
const prelude = String.raw`
import json, sys, threading
lock = threading.Lock()
def out(event, data=None):
    with lock:
        sys.stdout.write(json.dumps({"event": event, "data": data}, ensure_ascii=False) + "\n")
        sys.stdout.flush()
`;

/**
 * The legacy signal service's websocket-client example with the refresh frames; `probe` sends its `test`. As in
 * that example, the socket is closed from the message callback: this websocket-client version does not wake up
 * from a close() made on another thread, so `close` asks for one more test signal and closes on its arrival.
 */
const signalsScript = String.raw`
import websocket
url, first_token = sys.argv[1], sys.argv[2]
closing = threading.Event()

def on_message(ws, message):
    data = json.loads(message)
    out(data.get("type") if not data.get("is_test") else "test_signal", data)
    if closing.is_set() and data.get("is_test"):
        ws.close()

def on_open(ws):
    out("open")
    def commands():
        for line in sys.stdin:
            command, _, arg = line.strip().partition(" ")
            if command == "refresh":
                ws.send(json.dumps({"type": "refresh_token", "token": arg}))
            elif command == "probe":
                ws.send("test")
            elif command == "close":
                closing.set()
                ws.send("test")
                return
    threading.Thread(target=commands, daemon=True).start()

def on_close(ws, code, reason):
    out("close", {"code": code, "reason": reason})

ws = websocket.WebSocketApp(url, header=[f"Authorization: Bearer {first_token}"], on_message=on_message, on_open=on_open, on_close=on_close)
ws.run_forever()
`;

/** The legacy stock price service's websockets (asyncio) flow; no token at the upgrade: the first `refresh` authenticates. */
const stockScript = String.raw`
import asyncio
import websockets
url = sys.argv[1]

async def main():
    loop = asyncio.get_running_loop()
    async with websockets.connect(url) as ws:
        out("open")
        async def receive():
            async for message in ws:
                data = json.loads(message)
                out(data.get("type"), data)
        receiver = asyncio.create_task(receive())
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            command, _, arg = line.strip().partition(" ")
            if command == "refresh":
                await ws.send(json.dumps({"type": "refresh_token", "token": arg}))
            elif command == "probe":
                await ws.send(json.dumps({"type": "ping"}))
            elif command == "close" or line == "":
                break
        receiver.cancel()
    out("close")

asyncio.run(main())
`;

/** The legacy trading service's python-socketio client (auth={'token': ...}), subscribed to balance pushes. */
const tradingScript = String.raw`
import socketio
url, first_token = sys.argv[1], sys.argv[2]
sio = socketio.Client(reconnection=False)

@sio.event
def connected(data):
    out("connected", data)
    sio.emit("subscribe_trading", {"types": ["balance"]})

for name in ("token_expiring", "token_refreshed", "error", "balance_update"):
    sio.on(name, (lambda n: lambda data: out(n, data))(name))

@sio.event
def disconnect(*args):
    out("close")

sio.connect(url, auth={"token": first_token}, transports=["websocket"], wait_timeout=5)
for line in sys.stdin:
    command, _, arg = line.strip().partition(" ")
    if command == "refresh":
        out("refresh_ack", sio.call("refresh_token", {"token": arg}, timeout=5))
    elif command == "probe":
        out("probe_sent")
    elif command == "close":
        break
sio.disconnect()
`;

interface Line {
  event: string;
  data: Record<string, unknown> | null;
}

/** A running script: its printed lines, waited on by predicate, and its stdin for commands. */
class PythonClient {
  readonly lines: Line[] = [];
  stderr = '';
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #exited: Promise<number | null>;
  #cursor = 0;

  constructor(script: string, args: string[]) {
    this.#child = spawn(PYTHON, ['-c', prelude + script, ...args]);
    createInterface({ input: this.#child.stdout }).on('line', (line) => this.lines.push(JSON.parse(line) as Line));
    this.#child.stderr.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.#exited = new Promise((resolve) => this.#child.on('exit', resolve));
  }

  /** The next line (after the last one returned) for which `match` holds. */
  async next(match: (line: Line) => boolean, timeoutMs = 15_000): Promise<Line> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (this.#cursor < this.lines.length) {
        const line = this.lines[this.#cursor] as Line;
        this.#cursor += 1;
        if (match(line)) {
          return line;
        }
      }
      if (Date.now() > deadline || this.#child.exitCode !== null) {
        throw new Error(`no matching line within ${timeoutMs} ms; last: ${JSON.stringify(this.lines.slice(-3))}; stderr: ${this.stderr}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  command(line: string): void {
    this.#child.stdin.write(`${line}\n`);
  }

  /** `close`, then the exit code. */
  async close(): Promise<number | null> {
    this.command('close');
    this.#child.stdin.end();
    return this.#exited;
  }

  kill(): void {
    this.#child.kill();
  }
}

const event = (name: string) => (line: Line) => line.event === name;
const nowS = (): number => Math.floor(Date.now() / 1000);

let gateway: TestGateway;

beforeAll(async () => {
  const probe = spawn(PYTHON, ['-c', 'import socketio, websocket, websockets']);
  let stderr = '';
  probe.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => probe.on('exit', resolve));
  if (code !== 0) {
    throw new Error(`${PYTHON} lacks a client (apt-get install -y python3-socketio python3-websocket python3-websockets): ${stderr}`);
  }
  gateway = await startAllProtocols({ TOKEN_EXPIRY_NOTICE_S: String(NOTICE_S), MAX_CONNECTIONS_PER_USER: '0' });
}, 60_000);

afterAll(async () => {
  await gateway.shutdown();
});

interface ProtocolCase {
  protocol: 'signals' | 'stock' | 'socketio';
  client: string;
  /** Starts the script with a first token of `lifetime`; resolves once the connection is authenticated. */
  start(sub: number, lifetime: number): Promise<PythonClient>;
  /** The `expires_at` of an accepted refresh's line. */
  refreshedAt(line: Line): number;
  isRefused(line: Line): boolean;
  /** Data the connection is still served after a refresh: a predicate over lines, after `probe`. */
  served: (line: Line) => boolean;
}

const cases: ProtocolCase[] = [
  {
    protocol: 'signals',
    client: 'websocket-client (Debian python3-websocket)',
    async start(sub, lifetime) {
      const client = new PythonClient(signalsScript, [`${gateway.wsUrl}/ws/signals`, await token(sub, lifetime)]);
      await client.next(event('open'));
      return client;
    },
    refreshedAt: (line) => line.data?.['expires_at'] as number,
    isRefused: (line) => line.event === 'error' && line.data?.['error'] === 'token_refresh_failed',
    served: event('test_signal'),
  },
  {
    protocol: 'stock',
    client: 'websockets (Debian python3-websockets)',
    async start(sub, lifetime) {
      const client = new PythonClient(stockScript, [`${gateway.wsUrl}/ws/stock/prices`]);
      await client.next(event('connected'));
      client.command(`refresh ${await token(sub, lifetime)}`);
      await client.next(event('token_refreshed'));
      return client;
    },
    refreshedAt: (line) => line.data?.['expires_at'] as number,
    isRefused: (line) => line.event === 'error' && line.data?.['error'] === 'token_refresh_failed',
    served: event('pong'),
  },
  {
    protocol: 'socketio',
    client: 'python-socketio (Debian python3-socketio)',
    async start(sub, lifetime) {
      const client = new PythonClient(tradingScript, [gateway.httpUrl, await token(sub, lifetime)]);
      await client.next(event('connected'));
      return client;
    },
    // The ack answers the refresh (the `token_refreshed` event says it again).
    refreshedAt: (line) => {
      expect(line).toMatchObject({ event: 'refresh_ack', data: { status: 'success' } });
      return line.data?.['expires_at'] as number;
    },
    isRefused: (line) => line.event === 'refresh_ack' && line.data?.['status'] === 'error',
    // Balance pushes keep coming; `probe_sent` marks where the test started waiting.
    served: event('balance_update'),
  },
];

describe.each(cases)('$protocol: in-band token refresh from $client', (c) => {
  const answer = (line: Line): boolean => line.event === 'token_refreshed' || line.event === 'refresh_ack' || c.isRefused(line);

  it('refreshed at each token_expiring, stays open past three original expiries and keeps being served', async () => {
    const sub = { signals: 61, stock: 62, socketio: 63 }[c.protocol];
    const started = Date.now();
    const client = await c.start(sub, LIFETIME_S);
    try {
      let refreshes = 0;
      while (refreshes < 3 || Date.now() < started + 3 * LIFETIME_S * 1000 + 500) {
        const expiring = await client.next(event('token_expiring'));
        expect(expiring.data?.['expires_in']).toBeLessThanOrEqual(NOTICE_S);
        client.command(`refresh ${await token(sub, LIFETIME_S)}`);
        const expiresAt = c.refreshedAt(await client.next(c.protocol === 'socketio' ? event('refresh_ack') : answer));
        expect(expiresAt).toBeGreaterThanOrEqual(nowS() + LIFETIME_S - NOTICE_S);
        expect(serverExpiry(gateway, c.protocol, sub)).toBe(expiresAt * 1000);
        refreshes += 1;
        client.command('probe');
        await client.next(c.served);
      }
      expect(Date.now()).toBeGreaterThan(started + 3 * LIFETIME_S * 1000);
      expect(client.lines.filter(event('close'))).toEqual([]);
      expect(await client.close()).toBe(0);
    } finally {
      client.kill();
    }
  }, 60_000);

  it('refuses a token naming another user, a bad signature and an expired token: the old expiry stays and it is still served', async () => {
    const sub = { signals: 71, stock: 72, socketio: 73 }[c.protocol];
    const client = await c.start(sub, 600);
    try {
      const before = serverExpiry(gateway, c.protocol, sub);
      expect(before).toBeDefined();
      // (The stock script authenticated with a first accepted refresh.)
      const acceptedBefore = client.lines.filter(event('token_refreshed')).length;
      const refused = [
        await token(999, 600),
        handToken({ sub: String(sub), iat: nowS(), exp: nowS() + 600 }, { alg: 'HS256', typ: 'JWT' }, 'not-the-gateway-secret-0123456789'),
        await token(sub, -60),
      ];
      const reasons: unknown[] = [];
      for (const bad of refused) {
        client.command(`refresh ${bad}`);
        const answer = await client.next((line) => c.isRefused(line));
        // Raw WebSocket: `details` starts with the reason; Socket.IO: the ack names it.
        reasons.push(c.protocol === 'socketio' ? answer.data?.['reason'] : String(answer.data?.['details']).split(':')[0]);
        if (c.protocol === 'socketio') {
          expect(answer.data).toMatchObject({ status: 'error', code: 'token_refresh_failed' });
        }
        expect(serverExpiry(gateway, c.protocol, sub)).toBe(before);
      }
      expect(reasons).toEqual(['different_sub', 'bad_signature', 'expired']);
      if (c.protocol === 'socketio') {
        // The `error` event and the ack race each other to the script's output: either order is right.
        await expect
          .poll(() => client.lines.filter(event('error')).map((line) => line.data))
          .toEqual(['different_sub', 'bad_signature', 'expired'].map((reason): unknown => expect.objectContaining({ code: 'token_refresh_failed', reason })));
      }
      expect(client.lines.filter(event('token_refreshed'))).toHaveLength(acceptedBefore);
      client.command('probe');
      await client.next(c.served);
      expect(serverExpiry(gateway, c.protocol, sub)).toBe(before);
      expect(await client.close()).toBe(0);
    } finally {
      client.kill();
    }
  }, 60_000);
});
