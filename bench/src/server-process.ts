import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** Most output lines kept per process for the error message of a failed start (nothing grows unbounded). */
const KEPT_LINES = 40;

export interface ServerProcessOptions {
  /** Name in messages (`gateway`, `uws-reference`). */
  label: string;
  /** Repository root: the working directory, where `tsx` resolves. */
  cwd: string;
  /** Script run with tsx, relative to `cwd`. */
  script: string;
  /** Environment added to a minimal one (PATH, HOME). */
  env: Record<string, string>;
  /** Write a V8 CPU profile (`node --cpu-prof`) into this directory when the process exits. */
  cpuProfileDir?: string | undefined;
  /** Resolves true once the server answers; polled until `startTimeoutMs`. */
  isReady: () => Promise<boolean>;
  startTimeoutMs?: number;
}

/** A server started by the bench as a real process (node + tsx), stopped with SIGTERM. */
export interface ServerProcess {
  readonly label: string;
  readonly pid: number;
  /** The last lines it printed (stdout and stderr), for diagnostics. */
  output(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
  stop(graceMs?: number): Promise<void>;
}

/** A TCP port free on 127.0.0.1 right now (the kernel's choice, released before it is returned). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address === null || typeof address === 'string') {
          reject(new Error('no port assigned'));
        } else {
          resolve(address.port);
        }
      });
    });
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve();
  }
  return new Promise((resolve) => child.once('exit', () => { resolve(); }));
}

/**
 * Starts `node --import tsx <script>` with its open-file limit raised to the hard limit (the largest scenario
 * holds 10k sockets) and waits until `isReady`. The pid is node's own (the shell execs it), so CPU and RSS
 * sampled from /proc are the server's. Rejects, with the process's last output, when it exits or does not
 * become ready in time.
 */
export async function startServerProcess(options: ServerProcessOptions): Promise<ServerProcess> {
  const nodeArgs = ['--import', 'tsx'];
  if (process.env['BENCH_PERF_MAP'] === '1') {
    // Linux perf names the JIT-compiled functions from /tmp/perf-<pid>.map (kernel, GC and JS in one profile).
    nodeArgs.unshift('--perf-basic-prof');
  }
  // Diagnostics for one run, e.g. BENCH_NODE_ARGS='--trace-gc' or '--inspect=127.0.0.1:9300' (a gateway's loops
  // get the next ports): node flags, space-separated.
  const extraArgs = (process.env['BENCH_NODE_ARGS'] ?? '').split(' ').filter((arg) => arg !== '');
  nodeArgs.unshift(...extraArgs);
  if (options.cpuProfileDir !== undefined) {
    nodeArgs.unshift('--cpu-prof', '--cpu-prof-dir', options.cpuProfileDir);
  }
  const child = spawn(
    '/bin/sh',
    ['-c', 'ulimit -n "$(ulimit -Hn)" && exec "$@"', 'server', process.execPath, ...nodeArgs, options.script],
    {
      cwd: options.cwd,
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: process.env['HOME'] ?? '/tmp', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const lines: string[] = [];
  const keep = (chunk: Buffer): void => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.trim() !== '') {
        lines.push(line.length > 500 ? `${line.slice(0, 500)}…` : line);
        if (lines.length > KEPT_LINES) {
          lines.shift();
        }
      }
    }
  };
  const logFile = process.env['BENCH_SERVER_LOG'];
  if (logFile !== undefined && logFile !== '') {
    // Everything the server prints, kept whole (the lines above keep only the last few for errors).
    const log = createWriteStream(logFile);
    child.stdout.pipe(log, { end: false });
    child.stderr.pipe(log, { end: false });
    child.once('close', () => log.end());
  }
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const pid = child.pid;
  if (pid === undefined) {
    throw new Error(`${options.label}: could not spawn /bin/sh`);
  }

  const stop = async (graceMs = 15_000): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) {
      return;
    }
    child.kill('SIGTERM');
    const done = exited(child);
    const timer = sleep(graceMs).then(() => 'timeout' as const);
    if ((await Promise.race([done.then(() => 'exited' as const), timer])) === 'timeout') {
      child.kill('SIGKILL');
      await done;
    }
  };

  const deadline = Date.now() + (options.startTimeoutMs ?? 30_000);
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${options.label} exited during startup (code ${child.exitCode ?? child.signalCode}):\n${lines.join('\n')}`);
    }
    if (await options.isReady().catch(() => false)) {
      break;
    }
    if (Date.now() > deadline) {
      await stop(2_000);
      throw new Error(`${options.label} was not ready within ${options.startTimeoutMs ?? 30_000} ms:\n${lines.join('\n')}`);
    }
    await sleep(200);
  }
  return { label: options.label, pid, output: () => lines.join('\n'), stop };
}

/** True when `url` answers with `status` (any status when omitted) within 2 s. */
export async function answers(url: string, status?: number): Promise<boolean> {
  const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  await response.arrayBuffer();
  return status === undefined || response.status === status;
}
