import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectedSchema, pushSchemas, subscribedSchema } from '@gw/adapter-socketio';
import type { TestGateway } from '../../testing/gateway.js';
import { startTradingGateway, token } from './harness.js';

/**
 * The Python test client of the legacy trading service (python-socketio, `auth={'token': ...}`), run as it is by Debian's
 * python3-socketio in a subprocess. Debian's interpreter, not whatever `python3` is first on PATH: the
 * package installs into /usr/lib/python3/dist-packages.
 */
const PYTHON = process.env['SOCKETIO_TEST_PYTHON'] ?? '/usr/bin/python3';

const client = String.raw`
import json, sys, threading
import socketio

url, token, transport = sys.argv[1], sys.argv[2], sys.argv[3]
sio = socketio.Client(reconnection=False)

lock = threading.Lock()

def out(event, data):
    # One write per line under a lock: the client calls handlers from several threads.
    with lock:
        sys.stdout.write(json.dumps({"event": event, "data": data}, ensure_ascii=False) + "\n")
        sys.stdout.flush()

@sio.event
def connect():
    out("connect", None)

@sio.event
def connected(data):
    out("connected", data)
    sio.emit("subscribe_trading", {"types": ["balance", "pnl"]})

@sio.event
def subscribed(data):
    out("subscribed", data)

@sio.event
def balance_update(data):
    out("balance_update", data)
    sio.disconnect()

sio.connect(url, auth={"token": token}, transports=[transport] if transport != "default" else None, wait_timeout=5)
sio.wait()
`;

function run(args: string[], timeoutMs: number): Promise<{ stdout: string; stderr: string; code: number | null }> {
  return new Promise((resolve) => {
    execFile(PYTHON, args, { timeout: timeoutMs, encoding: 'utf8' }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
      resolve({ stdout, stderr, code });
    });
  });
}

describe('the legacy python-socketio client (Debian python3-socketio)', () => {
  let gateway: TestGateway;

  beforeAll(async () => {
    const probe = await run(['-c', 'import socketio, engineio, websocket, requests; print(socketio.Client.__module__)'], 10_000);
    if (probe.code !== 0) {
      throw new Error(
        `${PYTHON} cannot import python-socketio (${probe.stderr.trim().split('\n').at(-1) ?? 'no output'}). ` +
          'Install Debian\'s client: apt-get install -y python3-socketio python3-websocket python3-requests',
      );
    }
    gateway = await startTradingGateway();
  });
  afterAll(async () => {
    await gateway.shutdown();
  });

  for (const transport of ['default', 'websocket', 'polling']) {
    it(`connects with auth={'token': ...} (${transport} transport), gets connected, subscribed and a balance_update`, async () => {
      const { stdout, stderr, code } = await run(['-c', client, gateway.httpUrl, await token(4), transport], 20_000);
      expect(code, `python client failed: ${stderr}`).toBe(0);
      const lines = stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { event: string; data: unknown });
      const byEvent = new Map(lines.map((l) => [l.event, l.data]));
      expect(connectedSchema.parse(byEvent.get('connected'))).toEqual({ message: '连接成功', user_id: 4, authenticated: true });
      expect(subscribedSchema.parse(byEvent.get('subscribed'))).toMatchObject({ status: 'success', types: ['balance', 'pnl'], user_id: 4 });
      expect(pushSchemas.balance_update.parse(byEvent.get('balance_update'))).toMatchObject({ type: 'balance_update', user_id: 4 });
    });
  }
});
