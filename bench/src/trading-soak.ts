import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { tokenFile, withGateway } from './context.js';
import type { BenchContext } from './context.js';
import { mb, watchHeap } from './heap-watch.js';
import { inspectorEnv } from './inspector.js';
import { sampleProc } from './proc.js';
import { SETTLE_S, tradingEnv, tradingRunArgs } from './scenarios/trading.js';
import { freePort } from './server-process.js';
import { buildWsload, runWsload } from './wsload.js';

/**
 * The trading soak, run on its own (not by `pnpm bench`): 5,000 Socket.IO trading users (all four types, every
 * second, as the `trading` scenario) against one gateway for `--minutes` (default 5), the gateway's heap in
 * use after a forced full GC read every minute over the inspector. A leak shows as a rising line; garbage the
 * gateway carries between its own collections does not.
 *
 *   flock /tmp/bench.lock pnpm exec tsx bench/src/trading-soak.ts [--minutes 5] [--users 5000]
 */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { minutes: { type: 'string', default: '5' }, users: { type: 'string', default: '5000' } } });
  const minutes = Math.max(1, Number(values.minutes));
  const users = Math.max(1, Number(values.users));
  const log = (message: string): void => {
    console.log(`[soak ${new Date().toISOString().slice(11, 19)}] ${message}`);
  };
  const tmpDir = await mkdtemp(join(tmpdir(), 'gw-soak-'));
  try {
    const ctx: BenchContext = {
      root: ROOT,
      tmpDir,
      wsload: await buildWsload(tmpDir),
      quick: false,
      cpuProfileDir: undefined,
      redis: () => Promise.resolve('not used by the soak'),
      log,
    };
    const windowS = minutes * 60 + 10;
    const inspectorPort = await freePort();
    await withGateway(ctx, { ...tradingEnv, ...inspectorEnv(inspectorPort) }, async (gateway) => {
      const tokens = await tokenFile(ctx, users);
      const readyFile = join(tmpDir, 'soak.ready');
      const runEnded = new AbortController();
      log(`${users} Socket.IO trading users, all four types, ${minutes} min; heap after GC every minute`);
      const heap = watchHeap({
        inspectorPort,
        readyFile,
        offsetsS: Array.from({ length: minutes + 1 }, (_, i) => SETTLE_S + i * 60),
        connectTimeoutMs: 200_000,
        signal: runEnded.signal,
        log,
      });
      const cpuBefore = sampleProc(gateway.process.pid);
      const result = await runWsload(
        ctx.wsload,
        tradingRunArgs(gateway, { tokens, users, windowS, readyFile, label: 'trading-soak' }),
        windowS + 300,
      ).finally(() => {
        runEnded.abort();
      });
      const cpuAfter = sampleProc(gateway.process.pid);
      const samples = await heap;
      const first = samples[0];
      const last = samples.at(-1);
      console.log(JSON.stringify({
        users,
        minutes,
        deliveries_per_s: result.passive?.window_deliveries_per_s,
        server_cpu_s_per_million: result.server_cpu_s_per_million,
        server_cpu_user_s: cpuBefore && cpuAfter ? Number((cpuAfter.userS - cpuBefore.userS).toFixed(1)) : undefined,
        server_cpu_system_s: cpuBefore && cpuAfter ? Number((cpuAfter.systemS - cpuBefore.systemS).toFixed(1)) : undefined,
        heap_after_gc_mb: samples.map((s) => ({ at_s: s.atS, heap_used_mb: mb(s.heapUsed), heap_total_mb: mb(s.heapTotal), rss_mb: mb(s.rss) })),
        heap_growth_mb_per_min: first !== undefined && last !== undefined && last.atS > first.atS
          ? Number(((mb(last.heapUsed) - mb(first.heapUsed)) / ((last.atS - first.atS) / 60)).toFixed(2))
          : undefined,
      }, null, 1));
    });
  } finally {
    await rm(tmpDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
