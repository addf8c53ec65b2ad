import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** The repository root: entry points are given relative to it (`apps/gateway/src/main.ts`). */
export const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));

/**
 * A gateway or worker as a real process (node + tsx), as the process, fault and cluster tests need it: its JSON
 * log lines, its output, its exit. The environment is given explicitly (PATH, HOST=127.0.0.1 and LOG_LEVEL=info
 * unless given): nothing of the test runner's leaks in.
 */
export interface NodeProcess {
  readonly name: string;
  readonly child: ChildProcessWithoutNullStreams;
  /** Every JSON log line so far. */
  readonly logs: Record<string, unknown>[];
  /** Resolves with the exit code, once the last output line has been read. */
  readonly exited: Promise<number | null>;
  /** Everything written so far. */
  output(): { stdout: string; stderr: string };
  /** Resolves with the first log line whose `msg` is `msg` (already seen ones count); rejects on exit first. */
  logLine(msg: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Resident memory of the process, from /proc (kilobytes). */
  rssKb(): number;
  kill(signal: NodeJS.Signals): void;
}

const running = new Set<NodeProcess>();

export function spawnNode(name: string, entry: string, args: string[], env: Record<string, string>): NodeProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', entry, ...args], {
    cwd: repoRoot,
    env: { PATH: process.env['PATH'] ?? '', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
  });
  const logs: Record<string, unknown>[] = [];
  const waiters = new Set<() => void>();
  let stdout = '';
  let stderr = '';
  createInterface({ input: child.stdout }).on('line', (line) => {
    stdout += `${line}\n`;
    try {
      logs.push(JSON.parse(line) as Record<string, unknown>);
      for (const wake of [...waiters]) {
        wake();
      }
    } catch {
      // not a log line (e.g. --print-config output)
    }
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      // Let the readline interface deliver the last lines first.
      setImmediate(() => {
        resolve(code);
      });
    });
  });
  const node: NodeProcess = {
    name,
    child,
    logs,
    exited,
    output: () => ({ stdout, stderr }),
    logLine: (msg, timeoutMs = 60_000) =>
      new Promise((resolve, reject) => {
        const check = (): boolean => {
          const found = logs.find((l) => l['msg'] === msg);
          if (found !== undefined) {
            waiters.delete(wake);
            clearTimeout(timer);
            resolve(found);
            return true;
          }
          return false;
        };
        const wake = (): void => {
          check();
        };
        const timer = setTimeout(() => {
          waiters.delete(wake);
          reject(new Error(`${name}: no "${msg}" log within ${timeoutMs} ms; stderr: ${stderr.slice(-2_000)}`));
        }, timeoutMs);
        if (!check()) {
          waiters.add(wake);
          void exited.then((code) => {
            if (waiters.delete(wake)) {
              clearTimeout(timer);
              reject(new Error(`${name} exited (${code}) before "${msg}": ${stderr.slice(-2_000)}`));
            }
          });
        }
      }),
    rssKb: () => {
      const status = readFileSync(`/proc/${child.pid ?? 0}/status`, 'utf8');
      return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    },
    kill: (signal) => {
      if (child.exitCode === null) {
        child.kill(signal);
      }
    },
  };
  running.add(node);
  void exited.then(() => running.delete(node));
  return node;
}

/** SIGKILLs every process spawned here that is still running, and waits for them (afterEach / stopAll). */
export async function stopSpawnedNodes(): Promise<void> {
  await Promise.all(
    [...running].map(async (node) => {
      node.kill('SIGKILL');
      await node.exited;
    }),
  );
}
