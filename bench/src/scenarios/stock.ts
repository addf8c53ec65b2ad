import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { listedStocks, selectStocks } from '@gw/source-stock-market';
import { kilo, loadName, scaled, seconds, withGateway } from '../context.js';
import type { BenchContext, BenchGateway } from '../context.js';
import { histogramDelta, scrape, sumOf } from '../prometheus.js';
import type { MetricSample } from '../prometheus.js';
import { RssRecorder, rssTrend, sampleProc } from '../proc.js';
import { monotonicUs } from '../profile.js';
import { baseRow, recordCpuSplit, recordWindow } from '../row.js';
import type { Row } from '../row.js';
import { runWsload } from '../wsload.js';
import type { Scenario } from './scenario.js';

/** The market: 500 stocks ticking 1,000 times a second, price_update at most once a second. */
const UNIVERSE = 500;
export const PUSH_INTERVAL_MS = 1_000;
/** The buy list the scenario wants before measuring (the issue: at least 50 stocks). */
const MIN_BUY_LIST = 50;
/** Idle seconds after the last connection (its snapshot and first updates) before measuring. */
const SETTLE_S = 3;
/**
 * How often the gateway's /metrics is read during the run, for the event-loop figures: prom-client resets its
 * delay histogram at every scrape, so each scrape covers the interval since the previous one.
 */
const SAMPLE_EVERY_MS = 2_000;

/** One scrape of the gateway's /metrics, with when it was read (monotonic µs). */
interface TimedScrape {
  atUs: number;
  samples: MetricSample[];
}

/** Reads `url` every `everyMs` until stopped; `stop()` resolves with every scrape, oldest first. */
function sampleMetrics(url: string, everyMs: number): { stop: () => Promise<TimedScrape[]> } {
  const scrapes: TimedScrape[] = [];
  const stopped = new AbortController();
  const loop = (async () => {
    while (!stopped.signal.aborted) {
      // Stopping cuts the wait short: no scrape after the run.
      const waited = await sleep(everyMs, true, { signal: stopped.signal }).catch(() => false);
      if (!waited) {
        break;
      }
      // A failed read (the gateway busy past the timeout) leaves a longer interval, not a wrong one.
      const samples = await scrape(url).catch(() => undefined);
      if (samples !== undefined) {
        scrapes.push({ atUs: monotonicUs(), samples });
      }
    }
  })();
  return {
    stop: async () => {
      stopped.abort();
      await loop;
      return scrapes;
    },
  };
}

/**
 * The event loop over the measured window, from the scrapes whose interval lies inside it: the median of the
 * intervals' p50, the worst interval's p99 and the largest max of prom-client's delay monitor (10 ms
 * resolution: an idle loop reads about 10 ms), and what the stock flush's synchronous steps took
 * (`gateway_stock_flush_slice_seconds` between the first and last of those scrapes).
 */
function loopFigures(scrapes: readonly TimedScrape[], startUs: number, endUs: number): Record<string, number> | undefined {
  const inside: { previous: TimedScrape; current: TimedScrape }[] = [];
  for (let i = 1; i < scrapes.length; i += 1) {
    const previous = scrapes[i - 1] as TimedScrape;
    const current = scrapes[i] as TimedScrape;
    if (previous.atUs >= startUs && current.atUs <= endUs) {
      inside.push({ previous, current });
    }
  }
  const first = inside[0];
  const last = inside.at(-1);
  if (first === undefined || last === undefined) {
    return undefined;
  }
  const lag = (name: string): number[] => inside.map(({ current }) => sumOf(current.samples, name) * 1000);
  const p50s = lag('nodejs_eventloop_lag_p50_seconds').sort((a, b) => a - b);
  const slices = histogramDelta(first.previous.samples, last.current.samples, 'gateway_stock_flush_slice_seconds');
  const sliceSum = sumOf(last.current.samples, 'gateway_stock_flush_slice_seconds_sum') - sumOf(first.previous.samples, 'gateway_stock_flush_slice_seconds_sum');
  const ms = (seconds: number | undefined): number => Number(((seconds ?? 0) * 1000).toFixed(2));
  return {
    loop_intervals: inside.length,
    loop_interval_s: Number(((last.current.atUs - first.previous.atUs) / 1e6).toFixed(1)),
    eventloop_lag_p50_ms: Number((p50s[Math.floor(p50s.length / 2)] ?? 0).toFixed(2)),
    eventloop_lag_p99_worst_ms: Number(Math.max(...lag('nodejs_eventloop_lag_p99_seconds')).toFixed(2)),
    eventloop_lag_max_ms: Number(Math.max(...lag('nodejs_eventloop_lag_max_seconds')).toFixed(2)),
    flush_steps: slices.count,
    flush_step_mean_ms: slices.count > 0 ? ms(sliceSum / slices.count) : 0,
    flush_step_p99_ms: ms(slices.quantile(0.99)),
    flush_step_max_bound_ms: ms(slices.maxBound()),
  };
}

/**
 * The gateway's stock environment. The volume_wave list is filled at start from the simulator's seed bars:
 * waves are made likelier and held for the whole run, and the list is capped at 60, so every connection
 * covers 60 or 61 stocks and the list does not change while measuring.
 */
export const stockEnv: Record<string, string> = {
  SOURCES: 'stock-market,volume-wave',
  MARKET_HOURS: 'always',
  STOCK_UNIVERSE_SIZE: String(UNIVERSE),
  STOCK_TICKS_PER_SEC: '1000',
  STOCK_PUSH_INTERVAL_MS: String(PUSH_INTERVAL_MS),
  STOCK_RANDOM_SEED: '7',
  STOCK_WAVE_PROBABILITY: '0.05',
  VOLUME_WAVE_HOLD_BARS: '60',
  VOLUME_WAVE_MAX_STOCKS: '60',
};

const buyListSchema = z.object({
  data: z.object({ count: z.number(), signals: z.array(z.object({ code: z.string() })) }),
});

export async function buyList(http: string): Promise<string[]> {
  const response = await fetch(`${http}/api/signals/buy?strategy=volume_wave`, { signal: AbortSignal.timeout(5_000) });
  const parsed = buyListSchema.safeParse(await response.json());
  return parsed.success ? parsed.data.data.signals.map((s) => s.code) : [];
}

/** Waits (at most 30 s) for the buy list to reach {@link MIN_BUY_LIST} stocks; returns it as it is then. */
export async function waitForBuyList(http: string): Promise<string[]> {
  const deadline = Date.now() + 30_000;
  let codes = await buyList(http);
  while (codes.length < MIN_BUY_LIST && Date.now() < deadline) {
    await sleep(500);
    codes = await buyList(http);
  }
  return codes;
}

/** The simulator's universe (the codes the gateway lists), written one a line for wsload's `--values`. */
export async function writeStockCodes(ctx: BenchContext): Promise<{ universe: string[]; codesFile: string }> {
  const universe = selectStocks(listedStocks(), undefined, UNIVERSE).map((s) => s.code);
  const codesFile = join(ctx.tmpDir, 'stock-codes.txt');
  await writeFile(codesFile, `${universe.join('\n')}\n`);
  return { universe, codesFile };
}

/**
 * wsload's client arguments of the stock scenario: `clients` connections each subscribed to volume_wave and
 * one stock (connection i: line i of `codesFile`), price_update frames measured for `windowS` seconds, then
 * both unsubscribed and drained so the count can be compared with the gateway's sent counter. The caller adds
 * the phases (`--settle`, `--drain`), `--server-pid` and `--label`.
 */
export function stockClientArgs(ws: string, clients: number, codesFile: string, windowS: number): string[] {
  const strategy = '{"type":"%s","subscription_type":"strategy","target":"volume_wave"}';
  const stock = '{"type":"%s","subscription_type":"stock","target":"{value}"}';
  return [
    '-u', `${ws}/ws/stock/prices`,
    '-c', String(clients),
    '--values', codesFile,
    '--sub-msg', strategy.replace('%s', 'subscribe'),
    '--sub-msg', stock.replace('%s', 'subscribe'),
    '--measure', String(windowS),
    '--count-match', '"type":"price_update"',
    '--ts-key', 'timestamp',
    '--ts-offset-min', '480',
    '--burst-gap-ms', '300',
    '--item-key', '"code":"',
    // Unsubscribing stops the pushes: afterwards the gateway's sent counter and wsload's count must agree.
    '--end-msg', strategy.replace('%s', 'unsubscribe'),
    '--end-msg', stock.replace('%s', 'unsubscribe'),
    '--end-ack', '"type":"unsubscribed"',
  ];
}

async function measure(ctx: BenchContext, gateway: BenchGateway, scenario: string, profile: boolean): Promise<Row> {
  const clients = scaled(ctx, 2_000);
  const windowS = seconds(ctx, 20, 6);
  const { universe, codesFile } = await writeStockCodes(ctx);
  const listBefore = await waitForBuyList(gateway.http);
  const before = await scrape(`${gateway.http}/metrics`);
  const rss = new RssRecorder(gateway.process.pid, 1_000);
  ctx.log(`${scenario}: ${clients} clients, buy list ${listBefore.length} stocks, ${windowS} s window`);
  const launchedUs = monotonicUs();
  const cpuBefore = sampleProc(gateway.process.pid);
  const sampler = sampleMetrics(`${gateway.http}/metrics`, SAMPLE_EVERY_MS);
  const result = await runWsload(
    ctx.wsload,
    [
      ...stockClientArgs(gateway.ws, clients, codesFile, windowS),
      '--settle', String(SETTLE_S),
      '--drain', '30',
      '--server-pid', String(gateway.process.pid),
      '--label', scenario,
    ],
    180,
  ).finally(() => sampler.stop());
  const scrapes = await sampler.stop();
  rss.stop();
  const cpuAfter = sampleProc(gateway.process.pid);
  const after = await scrape(`${gateway.http}/metrics`);
  const listAfter = await buyList(gateway.http);
  const passive = result.passive;
  const row = baseRow(scenario, 'gateway', `${kilo(clients)} clients × (volume_wave + 1 stock)`, result);
  recordWindow(row, launchedUs, result, SETTLE_S);
  recordCpuSplit(row, cpuBefore, cpuAfter);
  if (passive === undefined) {
    row.notes.push('wsload reported no passive measurement');
    return row;
  }
  const sent = sumOf(after, 'gateway_messages_sent_total', { protocol: 'stock', type: 'price_update' }) -
    sumOf(before, 'gateway_messages_sent_total', { protocol: 'stock', type: 'price_update' });
  const latency = histogramDelta(before, after, 'gateway_delivery_latency_seconds', { protocol: 'stock' });
  const inList = new Set(listBefore);
  let expectedItems = 0;
  for (let i = 0; i < result.conns_open; i += 1) {
    expectedItems += listBefore.length + (inList.has(universe[i % universe.length] ?? '') ? 0 : 1);
  }
  const itemsMean = passive.data_frames_window > 0 ? passive.items_total / passive.data_frames_window : 0;
  const itemsExpected = result.conns_open > 0 ? expectedItems / result.conns_open : 0;
  const updatesExpected = windowS / (PUSH_INTERVAL_MS / 1000);

  row.deliveriesPerS = passive.window_deliveries_per_s;
  row.offeredPerS = undefined;
  row.ratio = sent > 0 ? passive.data_frames_total / sent : undefined;
  const p50 = latency.quantile(0.5);
  const p99 = latency.quantile(0.99);
  const maxBound = latency.maxBound();
  if (p50 !== undefined && p99 !== undefined && maxBound !== undefined) {
    row.latency = { p50Ms: p50 * 1000, p99Ms: p99 * 1000, maxMs: maxBound * 1000, source: 'server' };
  }
  row.serverCpuPerMillion = result.server_cpu_s_per_million;
  row.serverCpuCores = result.window_s > 0 ? result.server_cpu_seconds / result.window_s : undefined;
  const trend = rssTrend(rss.samples, windowS > 10 ? 8 : 2);
  Object.assign(row.facts, {
    window_s: windowS,
    updates_per_conn_min: passive.per_conn_min,
    updates_per_conn_max: passive.per_conn_max,
    updates_per_conn_expected: updatesExpected,
    conns_without_updates: passive.conns_without_data,
    items_per_update_mean: Number(itemsMean.toFixed(2)),
    items_per_update_expected: Number(itemsExpected.toFixed(2)),
    dup_items: passive.dup_items,
    stock_items_per_s: Math.round(passive.items_total / windowS),
    buy_list_before: listBefore.length,
    buy_list_after: listAfter.length,
    buy_list_unchanged: listBefore.join() === listAfter.join(),
    frames_received_total: passive.data_frames_total,
    frames_sent_by_gateway: sent,
    flush_spread_p99_ms: passive.burst_us.p99 / 1000,
    flush_spread_max_ms: passive.burst_us.max / 1000,
    lateness_max_ms: passive.lateness_us.max / 1000,
    ...(trend === undefined ? {} : { rss_slope_kb_per_s: Number(trend.slopeKbPerS.toFixed(1)), rss_last_mb: Number((trend.lastKb / 1024).toFixed(1)) }),
  });
  const windowStartUs = launchedUs + (result.connect_phase_s + SETTLE_S) * 1e6;
  const loop = loopFigures(scrapes, windowStartUs, windowStartUs + result.window_s * 1e6);
  if (loop !== undefined) {
    Object.assign(row.facts, loop);
  }
  const perMinute = (count: number): number => Number(((count * 60) / windowS).toFixed(1));
  Object.assign(row.facts, {
    updates_per_conn_per_min_min: perMinute(passive.per_conn_min),
    updates_per_conn_per_min_expected: perMinute(updatesExpected),
  });
  row.notes.push(
    `latency: gateway histogram, quote published → last write of its flush (includes the up-to-${PUSH_INTERVAL_MS} ms conflation wait by design)`,
    loop === undefined
      ? 'event loop: no two gateway scrapes inside the window'
      : `event loop over ${String(loop['loop_intervals'])} scrapes (${String(loop['loop_interval_s'])} s) of the window: lag p50 ${String(loop['eventloop_lag_p50_ms'])} ms, ` +
          `worst p99 ${String(loop['eventloop_lag_p99_worst_ms'])} ms, max ${String(loop['eventloop_lag_max_ms'])} ms (prom-client monitor, 10 ms resolution); ` +
          `flush steps: ${String(loop['flush_steps'])}, mean ${String(loop['flush_step_mean_ms'])} ms, p99 ${String(loop['flush_step_p99_ms'])} ms, longest ≤ ${String(loop['flush_step_max_bound_ms'])} ms (bucket bound)`,
    `flush → client receipt, from the first receipt of each flush: p99 ${(passive.burst_us.p99 / 1000).toFixed(1)} ms, max ${(passive.burst_us.max / 1000).toFixed(1)} ms`,
    `per connection ${passive.per_conn_min}–${passive.per_conn_max} updates in ${windowS} s (expected ${updatesExpected}); ` +
      `${itemsMean.toFixed(2)} stocks per update (expected ${itemsExpected.toFixed(2)}), ${passive.dup_items} repeated within an update`,
  );
  if (passive.end_acked + passive.end_lost < passive.end_sent) {
    row.notes.push(`only ${passive.end_acked} of ${passive.end_sent} clients answered the unsubscribes before the drain limit: the ratio undercounts`);
  }
  if (profile) {
    row.notes.push('profiled run (node --cpu-prof): figures include the profiler overhead');
  }
  return row;
}

/** Stock prices (the legacy stock price service's protocol): 2k clients each on volume_wave (≥ 50 stocks) and one stock, market at 1,000 ticks/s. */
export const stockPrices: Scenario = {
  name: 'stock',
  description: 'stock prices (legacy stock price protocol): 2k clients × (volume_wave list of 60 + one stock), 500 stocks at 1,000 ticks/s, 1 s conflation',
  run: (ctx) => withGateway(ctx, stockEnv, async (gateway) => [await measure(ctx, gateway, loadName(ctx, 'stock', 2_000), false)]),
};

/** The stock scenario under `node --cpu-prof`. */
export function profileStock(ctx: BenchContext): Promise<Row[]> {
  return withGateway(ctx, stockEnv, async (gateway) => [await measure(ctx, gateway, loadName(ctx, 'profile-stock', 2_000), true)], { profile: true });
}
