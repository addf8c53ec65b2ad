import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { tokenFile, withGateway } from './context.js';
import type { BenchContext } from './context.js';
import { mb, waitForFile, watchHeap } from './heap-watch.js';
import { inspectorEnv } from './inspector.js';
import { RssRecorder, sampleProc } from './proc.js';
import { monotonicUs, summarizeProfiles } from './profile.js';
import { SETTLE_S, tradingEnv, tradingRunArgs } from './scenarios/trading.js';
import { freePort } from './server-process.js';
import { buildWsload, runWsload } from './wsload.js';

/**
 * The trading soak, run on its own (not by `pnpm bench`): 5,000 Socket.IO trading users (all four types, every
 * second, as the `trading` scenario) against one gateway for `--minutes` (default 5), the gateway's heap in
 * use after a forced full GC read every minute over the inspector. A leak shows as a rising line; garbage the
 * gateway carries between its own collections does not.
 *
 *   flock /tmp/bench.lock pnpm exec tsx bench/src/trading-soak.ts [--minutes 5] [--users 5000] [--profile DIR]
 *
 * `--profile DIR`: the gateway runs under `node --cpu-prof` (the profile is written into DIR when it exits),
 * and the summary of the measured window (where the CPU went) is printed after the heap figures.
 */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** How long the 5k users' connect phase may take (wsload's ready file). */
const CONNECT_TIMEOUT_MS = 200_000;

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { minutes: { type: 'string', default: '5' }, users: { type: 'string', default: '5000' }, profile: { type: 'string' } } });
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
      cpuProfileDir: values.profile,
      redis: () => Promise.resolve('not used by the soak'),
      log,
    };
    const windowS = minutes * 60 + 10;
    const inspectorPort = await freePort();
    const window = { startUs: 0, endUs: 0 };
    await withGateway(ctx, { ...tradingEnv, ...inspectorEnv(inspectorPort) }, async (gateway) => {
      const tokens = await tokenFile(ctx, users);
      const readyFile = join(tmpDir, 'soak.ready');
      const runEnded = new AbortController();
      log(`${users} Socket.IO trading users, all four types, ${minutes} min; heap after GC every minute`);
      const heap = watchHeap({
        inspectorPort,
        readyFile,
        offsetsS: Array.from({ length: minutes + 1 }, (_, i) => SETTLE_S + i * 60),
        connectTimeoutMs: CONNECT_TIMEOUT_MS,
        signal: runEnded.signal,
        log,
      });
      const cpuBefore = sampleProc(gateway.process.pid);
      // RSS every second (not only after a forced GC): its lowest and highest per minute of the measured
      // window show whether it only swings between collections or climbs.
      const rss = new RssRecorder(gateway.process.pid, 1_000);
      let measuredFromS: number | undefined;
      const startedAt = performance.now();
      // The measured window starts at the end of the connect phase and the settle, not with the 5k handshakes
      // before it: RSS per minute and the profile count from there.
      void waitForFile(readyFile, CONNECT_TIMEOUT_MS, runEnded.signal).then(
        () => {
          measuredFromS = (performance.now() - startedAt) / 1000 + SETTLE_S;
          window.startUs = monotonicUs() + SETTLE_S * 1e6;
          window.endUs = window.startUs + windowS * 1e6;
        },
        // The run ended before its connect phase did: there is no measured window (wsload says why).
        () => undefined,
      );
      const result = await runWsload(
        ctx.wsload,
        tradingRunArgs(gateway, { tokens, users, windowS, readyFile, label: 'trading-soak' }),
        windowS + 300,
      ).finally(() => {
        runEnded.abort();
      });
      rss.stop();
      const cpuAfter = sampleProc(gateway.process.pid);
      const rssPerMinute = new Map<number, { minute: number; min_mb: number; max_mb: number }>();
      for (const sample of rss.samples) {
        if (measuredFromS === undefined || sample.atS < measuredFromS) {
          continue;
        }
        const minute = Math.floor((sample.atS - measuredFromS) / 60);
        const mbNow = Number((sample.rssKb / 1024).toFixed(1));
        const row = rssPerMinute.get(minute) ?? { minute, min_mb: mbNow, max_mb: mbNow };
        row.min_mb = Math.min(row.min_mb, mbNow);
        row.max_mb = Math.max(row.max_mb, mbNow);
        rssPerMinute.set(minute, row);
      }
      window.endUs = Math.min(window.endUs, monotonicUs());
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
        rss_per_minute: [...rssPerMinute.values()],
        heap_growth_mb_per_min: first !== undefined && last !== undefined && last.atS > first.atS
          ? Number(((mb(last.heapUsed) - mb(first.heapUsed)) / ((last.atS - first.atS) / 60)).toFixed(2))
          : undefined,
      }, null, 1));
    }, { profile: values.profile !== undefined });
    if (values.profile !== undefined) {
      const summary = await summarizeProfiles(values.profile, ROOT, window);
      console.log(JSON.stringify(summary, null, 1));
    }
  } finally {
    await rm(tmpDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
