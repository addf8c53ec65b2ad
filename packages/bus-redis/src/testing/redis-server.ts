/**
 * The one way tests run a Redis of their own: `redis-server` processes on 127.0.0.1, on free ports, without
 * persistence, that a test can kill (a crash) and start again empty. Never the machine's shared Redis.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';

// Killed when the test process exits, whatever happened before: a failed test never leaves servers behind.
const running = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Starts `redis-server` with `args`; the child is SIGKILLed if the test process exits first. */
export function spawnRedisServer(args: readonly string[], options: { cwd?: string } = {}): ChildProcess {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const child of running) {
        child.kill('SIGKILL');
      }
    });
  }
  const child = spawn('redis-server', [...args], { stdio: 'ignore', ...options });
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
}

/** Ports below this are left to well-known services. */
const LOWEST_TEST_PORT = 10_000;
/** Ports this process handed out: never handed out twice. */
const handedOut = new Set<number>();

/**
 * The first port of the kernel's ephemeral range (Linux; 32768 when unknown): ports from there up are what
 * `listen(0)` and every outgoing connection take, at any moment.
 */
function ephemeralPortsFrom(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 0 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

/** Resolves with whether `port` could be listened on (127.0.0.1) just now. */
function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => {
      resolve(false);
    });
    server.listen(port, '127.0.0.1', () => {
      server.close(() => {
        resolve(true);
      });
    });
  });
}

/**
 * A TCP port free on 127.0.0.1 a moment ago, for a server the test starts (and may restart) on that port later.
 * It is chosen below the kernel's ephemeral range: a port from `listen(0)` could be the local port of any
 * outgoing connection the moment later the server binds it (load tests open thousands), but no connection
 * ever takes a port outside that range by itself.
 */
export async function freePort(): Promise<number> {
  const from = LOWEST_TEST_PORT;
  const to = Math.min(65_535, ephemeralPortsFrom() - 1);
  for (let attempt = 0; to - from > 1_000 && attempt < 200; attempt += 1) {
    const port = from + Math.floor(Math.random() * (to - from + 1));
    if (!handedOut.has(port) && (await canListen(port))) {
      handedOut.add(port);
      return port;
    }
  }
  // No room below the ephemeral range: a port the kernel chose.
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

/** Whether a Redis answers PING on `port` within half a second (raw RESP: no client library needed). */
export function pingRedis(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => {
      done(false);
    });
    socket.once('error', () => {
      done(false);
    });
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) {
        done(reply.startsWith('+PONG'));
      }
    });
  });
}

/** SIGKILLs `child` (no shutdown, no save) and resolves once it exited. */
export async function killProcess(child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) {
    return;
  }
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

/**
 * A private `redis-server` for one test: `kill()` SIGKILLs it, `restart()` starts it again on the same port,
 * empty — what a Redis crash does to everything using it. `stop()` kills it for good.
 */
export class PrivateRedisServer {
  readonly port: number;
  #child: ChildProcess | undefined;

  private constructor(port: number) {
    this.port = port;
  }

  /** Starts a server on a free port; resolves once it answers. */
  static async start(): Promise<PrivateRedisServer> {
    const server = new PrivateRedisServer(await freePort());
    await server.#up();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${String(this.port)}`;
  }

  /** True while the server process runs. */
  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** SIGKILLs the server; resolves once it exited. */
  async kill(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    await killProcess(child);
  }

  /** Kills the server if it runs, then starts it again on the same port, empty; resolves once it answers. */
  async restart(): Promise<void> {
    await this.kill();
    await this.#up();
  }

  stop(): Promise<void> {
    return this.kill();
  }

  async #up(): Promise<void> {
    // The port was free a moment ago; after a kill the old socket is gone at once (SO_REUSEADDR).
    const child = spawnRedisServer(['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);
    this.#child = child;
    for (let attempt = 0; attempt < 400; attempt += 1) {
      if (await pingRedis(this.port)) {
        return;
      }
      if (child.exitCode !== null) {
        throw new Error(`redis-server exited (code ${String(child.exitCode)}) before answering on port ${String(this.port)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error(`redis-server did not answer on port ${String(this.port)} within 10 s`);
  }
}
