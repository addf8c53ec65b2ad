/**
 * Real processes for the deployment tests: the gateway and the worker started as the image starts them
 * (`node --import tsx src/main.ts`), plus nginx, promtool and other tools. Every process a test starts is
 * registered and killed by {@link stopAll} (call it in afterEach/afterAll), and every wait has a deadline.
 */
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is infra/tests/support/processes.ts). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** The infra folder. */
export const INFRA_DIR = fileURLToPath(new URL('../../', import.meta.url));

const running = new Set<ChildProcessWithoutNullStreams>();

/** How a process ended. */
export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A started process whose output is kept, with JSON log lines searchable by their `msg`. */
export interface Spawned {
  readonly child: ChildProcessWithoutNullStreams;
  readonly exited: Promise<Exit>;
  /** Resolves with the first JSON log line whose `msg` is `msg`; rejects on exit or after `timeoutMs`. */
  logLine(msg: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Everything written so far, for failure messages. */
  output(): string;
}

/**
 * Starts `command args` with exactly `env` (plus PATH): tests never leak this machine's environment (such as
 * REDIS_URL) into the processes they check.
 */
export function spawnLogged(command: string, args: readonly string[], options: { cwd: string; env: Record<string, string> }): Spawned {
  const child = spawn(command, args, { cwd: options.cwd, env: { PATH: process.env['PATH'] ?? '', ...options.env } });
  running.add(child);
  let stdout = '';
  let stderr = '';
  const lines: Record<string, unknown>[] = [];
  const waiters = new Set<{ msg: string; resolve: (line: Record<string, unknown>) => void }>();
  createInterface({ input: child.stdout }).on('line', (line) => {
    stdout += `${line}\n`;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      return; // not a log line
    }
    if (typeof parsed === 'object' && parsed !== null) {
      const entry = parsed as Record<string, unknown>;
      lines.push(entry);
      for (const waiter of waiters) {
        if (waiter.msg === entry['msg']) {
          waiter.resolve(entry);
        }
      }
    }
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<Exit>((resolve) => {
    // A program that is not installed never exits: say so instead of letting the test time out.
    child.on('error', (error) => {
      running.delete(child);
      resolve({ code: null, signal: null, stdout, stderr: `${stderr}cannot run ${command}: ${error.message}\n` });
    });
    child.on('exit', (code, signal) => {
      running.delete(child);
      // Let readline deliver the last lines first.
      setImmediate(() => {
        resolve({ code, signal, stdout, stderr });
      });
    });
  });
  const output = (): string => `${stdout}${stderr}`;
  return {
    child,
    exited,
    output,
    logLine: (msg, timeoutMs = 20_000) =>
      new Promise((resolve, reject) => {
        const found = lines.find((line) => line['msg'] === msg);
        if (found !== undefined) {
          resolve(found);
          return;
        }
        const waiter = {
          msg,
          resolve: (line: Record<string, unknown>) => {
            clearTimeout(timer);
            waiters.delete(waiter);
            resolve(line);
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`no "${msg}" log line within ${timeoutMs} ms:\n${output()}`));
        }, timeoutMs);
        waiters.add(waiter);
        void exited.then((exit) => {
          clearTimeout(timer);
          reject(new Error(`process exited (${String(exit.code ?? exit.signal)}) before logging "${msg}":\n${output()}`));
        });
      }),
  };
}

/** Runs a command to completion (killed after `timeoutMs`) and returns how it ended. */
export async function run(
  command: string,
  args: readonly string[],
  options: { cwd: string; env?: Record<string, string>; timeoutMs?: number; stdin?: string },
): Promise<Exit> {
  const spawned = spawnLogged(command, args, { cwd: options.cwd, env: options.env ?? {} });
  spawned.child.stdin.end(options.stdin ?? '');
  const timer = setTimeout(() => spawned.child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
  try {
    return await spawned.exited;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Stops every process still running: the safety net after each test. SIGTERM first, because a process that
 * has children must stop them itself (SIGKILL on an nginx master leaves its workers behind); SIGKILL after 5 s.
 */
export async function stopAll(): Promise<void> {
  const exits = [...running].map(
    (child) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  );
  await Promise.all(exits);
}

/** A TCP port free on 127.0.0.1 right now (for programs that cannot listen on port 0 and report it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address === null || typeof address === 'string') {
          reject(new Error('no port'));
        } else {
          resolve(address.port);
        }
      });
    });
  });
}

/** A running gateway or worker process and the port it serves. */
export interface ServiceProcess extends Spawned {
  readonly port: number;
  /** SIGTERM, then the exit (the process drains first). */
  stop(): Promise<Exit>;
}

/** The settings every test gateway gets: loopback, a short drain, development auth, no Redis. */
const GATEWAY_TEST_ENV: Record<string, string> = {
  HOST: '127.0.0.1',
  PORT: '0',
  GATEWAY_ENV: 'development',
  LOG_LEVEL: 'info',
  DRAIN_TIMEOUT_MS: '100',
  // Only the heartbeat: the tests here check deployment wiring, not market data, and the machine is small.
  SOURCES: 'heartbeat',
};

/** Starts `apps/gateway/src/main.ts` the way the image does, with the test settings; does not wait for anything. */
export function spawnGateway(env: Record<string, string> = {}, appDir = `${REPO_ROOT}apps/gateway`): Spawned {
  return spawnLogged(process.execPath, ['--import', 'tsx', 'src/main.ts'], { cwd: appDir, env: { ...GATEWAY_TEST_ENV, ...env } });
}

/**
 * Starts `apps/gateway/src/main.ts` the way the image does (`node --import tsx`, from `appDir`), waits for
 * "gateway listening" and returns its first port.
 */
export async function startGateway(env: Record<string, string> = {}, appDir = `${REPO_ROOT}apps/gateway`): Promise<ServiceProcess> {
  const spawned = spawnGateway(env, appDir);
  const listening = await spawned.logLine('gateway listening', 30_000);
  const ports = listening['ports'];
  if (!Array.isArray(ports) || typeof ports[0] !== 'number') {
    throw new Error(`"gateway listening" without ports: ${JSON.stringify(listening)}`);
  }
  return withStop(spawned, ports[0]);
}

/**
 * Starts `apps/worker/src/main.ts --source <sources>` on the Redis at `redisUrl`, waits for "worker running" and
 * returns its metrics port.
 */
export async function startWorker(sources: string, env: Record<string, string>): Promise<ServiceProcess> {
  const spawned = spawnLogged(process.execPath, ['--import', 'tsx', 'src/main.ts', '--source', sources], {
    cwd: `${REPO_ROOT}apps/worker`,
    env: { GATEWAY_ENV: 'development', METRICS_HOST: '127.0.0.1', METRICS_PORT: '0', ...env },
  });
  const runningLine = await spawned.logLine('worker running', 30_000);
  const port = runningLine['metricsPort'];
  if (typeof port !== 'number') {
    throw new Error(`"worker running" without metricsPort: ${JSON.stringify(runningLine)}`);
  }
  return withStop(spawned, port);
}

function withStop(spawned: Spawned, port: number): ServiceProcess {
  return {
    ...spawned,
    port,
    stop: async () => {
      spawned.child.kill('SIGTERM');
      const timer = setTimeout(() => spawned.child.kill('SIGKILL'), 10_000);
      try {
        return await spawned.exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** GET `url` and return status and body (no retries; a network error rejects). */
export async function httpGet(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const response = await fetch(url, { headers, signal: AbortSignal.timeout(5000) });
  return { status: response.status, body: await response.text() };
}

/** Polls `probe` until it returns true, at most `timeoutMs`; rejects with `what` otherwise. */
export async function waitUntil(what: string, probe: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe().catch(() => false)) {
      return;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
