import { randomBytes } from 'node:crypto';
import type { BenchRedis } from './redis.js';
import { answers, freePort, startServerProcess } from './server-process.js';
import type { ServerProcess } from './server-process.js';
import { writeTokenFile } from './tokens.js';

/** Secrets of the bench's own gateways (development tokens; the processes listen on 127.0.0.1 only). */
export const BENCH_JWT_SECRET = `bench-${randomBytes(12).toString('hex')}`;
export const BENCH_ADMIN_TOKEN = `bench-admin-${randomBytes(12).toString('hex')}`;

/** What every scenario gets from the runner. */
export interface BenchContext {
  /** Repository root (the gateway and the reference server are started from here). */
  root: string;
  /** Scratch directory of this run (tokens, compiled wsload, CPU profiles). */
  tmpDir: string;
  /** The compiled load generator. */
  wsload: string;
  /** Development mode: about a tenth of the connections and a few seconds per phase. */
  quick: boolean;
  /** The mixed scenario's event-loop counts (`LOOPS`), one run each (default: 1); every other scenario runs one loop. */
  loops?: readonly number[];
  /** Directory for `node --cpu-prof` output when this run profiles the gateway. */
  cpuProfileDir: string | undefined;
  /** The Redis for the Redis-bus scenarios, or why there is none. */
  redis: () => Promise<BenchRedis | string>;
  log: (message: string) => void;
}

/** Scales a connection count for `--quick` (a tenth, at least 50). */
export function scaled(ctx: BenchContext, full: number): number {
  return ctx.quick ? Math.max(50, Math.round(full / 10)) : full;
}

/** A duration in seconds, shortened for `--quick`. */
export function seconds(ctx: BenchContext, full: number, quick: number): number {
  return ctx.quick ? quick : full;
}

/**
 * A row name that states the load really run: `loadName(ctx, 'idle-ws', 10_000)` is `idle-ws-10k`, and under
 * `--quick` `idle-ws-1k`, so a quick run never shows its rows under the names of the full load.
 */
export function loadName(ctx: BenchContext, base: string, fullCount: number, suffix = ''): string {
  return `${base}-${kilo(scaled(ctx, fullCount))}${suffix}`;
}

/** `1000` → `1k`, for scenario shapes. */
export function kilo(n: number): string {
  return n >= 1000 && n % 100 === 0 ? `${n / 1000}k` : String(n);
}

const tokenFiles = new Map<string, Promise<string>>();

/** A file of `count` distinct tokens for the bench's gateways (minted once per run and count). */
export function tokenFile(ctx: BenchContext, count: number): Promise<string> {
  const key = `${ctx.tmpDir}:${count}`;
  let file = tokenFiles.get(key);
  if (file === undefined) {
    file = writeTokenFile({ dir: ctx.tmpDir, name: `tokens-${count}.txt`, secret: BENCH_JWT_SECRET, count });
    tokenFiles.set(key, file);
  }
  return file;
}

/** A running gateway started by the bench. */
export interface BenchGateway {
  process: ServerProcess;
  port: number;
  /** `http://127.0.0.1:<port>` */
  http: string;
  /** `ws://127.0.0.1:<port>` */
  ws: string;
}

/**
 * Environment of every bench gateway (besides PORT): loopback only, quiet logs (a log line per event would be
 * measured too), the bench's secrets, no drain delay, no per-address connection rate limit (every bench client
 * comes from 127.0.0.1, which a real deployment never sees), and only the heartbeat source unless a scenario
 * names others.
 */
export const gatewayDefaults: Readonly<Record<string, string>> = {
  HOST: '127.0.0.1',
  LOG_LEVEL: 'warn',
  GATEWAY_ENV: 'development',
  JWT_SECRET: '<random per run>',
  ADMIN_TOKEN: '<random per run>',
  DRAIN_TIMEOUT_MS: '0',
  CONNECTION_RATE_PER_IP: '0',
  SOURCES: 'heartbeat',
  LOOPS: '1',
};

function gatewayEnv(port: number, extra: Record<string, string>): Record<string, string> {
  return { ...gatewayDefaults, PORT: String(port), JWT_SECRET: BENCH_JWT_SECRET, ADMIN_TOKEN: BENCH_ADMIN_TOKEN, ...extra };
}

/**
 * Runs `use` against a fresh gateway process (`apps/gateway/src/main.ts` with `env` over the bench defaults),
 * profiled with `node --cpu-prof` when `profile` is set, and stops it afterwards whatever happens.
 */
export async function withGateway<T>(
  ctx: BenchContext,
  env: Record<string, string>,
  use: (gateway: BenchGateway) => Promise<T>,
  options: { profile?: boolean } = {},
): Promise<T> {
  const port = await freePort();
  const http = `http://127.0.0.1:${port}`;
  const process = await startServerProcess({
    label: 'gateway',
    cwd: ctx.root,
    script: 'apps/gateway/src/main.ts',
    env: gatewayEnv(port, env),
    cpuProfileDir: options.profile === true ? ctx.cpuProfileDir : undefined,
    isReady: () => answers(`${http}/api/ready`, 200),
    startTimeoutMs: 60_000,
  });
  try {
    return await use({ process, port, http, ws: `ws://127.0.0.1:${port}` });
  } finally {
    await process.stop();
  }
}

/**
 * Runs `use` against a fresh minimal uWS reference server: `bench/src/reference-server.ts` unless `script` names
 * another (the multi-process `loops/loop-reference.ts`), with `env` (its options, see those files).
 */
export async function withReference<T>(
  ctx: BenchContext,
  use: (server: { process: ServerProcess; port: number }) => Promise<T>,
  options: { script?: string; env?: Record<string, string> } = {},
): Promise<T> {
  const port = await freePort();
  const process = await startServerProcess({
    label: 'uws-reference',
    cwd: ctx.root,
    script: options.script ?? 'bench/src/reference-server.ts',
    env: { ...options.env, PORT: String(port) },
    isReady: () => answers(`http://127.0.0.1:${port}/ready`),
  });
  try {
    return await use({ process, port });
  } finally {
    await process.stop();
  }
}
