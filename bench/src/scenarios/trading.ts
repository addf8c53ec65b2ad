import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { kilo, loadName, scaled, seconds, tokenFile, withGateway, withReference } from '../context.js';
import type { BenchContext } from '../context.js';
import { histogramDelta, scrape, sumOf } from '../prometheus.js';
import { mb, waitForFile, watchHeap } from '../heap-watch.js';
import type { HeapSample } from '../heap-watch.js';
import { inspectorEnv } from '../inspector.js';
import { RssRecorder, rssTrend, sampleProc } from '../proc.js';
import { freePort } from '../server-process.js';
import { baseRow, recordCpuSplit } from '../row.js';
import type { Row } from '../row.js';
import { runWsload } from '../wsload.js';
import type { Scenario } from './scenario.js';

/**
 * Every type polled every second, and the paper exchange stepping every second: balance, positions and pnl
 * change at every step (mark prices move), orders when one is placed or filled.
 */
export const tradingEnv: Record<string, string> = {
  SOURCES: 'trading',
  TRADING_BALANCE_INTERVAL_MS: '1000',
  TRADING_POSITIONS_INTERVAL_MS: '1000',
  TRADING_PNL_INTERVAL_MS: '1000',
  TRADING_ORDERS_INTERVAL_MS: '1000',
  TRADING_PAPER_TICK_MS: '1000',
};

/** The trading push types (`balance_update`, …) among the gateway's Socket.IO sent-message types. */
export const isUpdate = (type: string): boolean => type.endsWith('_update');

/**
 * wsload's client arguments of the trading scenario: `users` Socket.IO users (line i of `tokens`), subscribed
 * to all four types, pushes measured for `windowS` seconds, then unsubscribed and drained so the count can be
 * compared with the gateway's sent counter. The caller adds `--settle`, `--drain`, `--server-pid`, `--label`.
 */
export function tradingClientArgs(ws: string, tokens: string, users: number, windowS: number): string[] {
  return [
    '-u', `${ws}/socket.io/?EIO=4&transport=websocket`,
    '--sio',
    '--tokens', tokens,
    '--sio-auth', '{"token":"{token}"}',
    '--sio-emit', '["subscribe_trading",{"types":["balance","positions","pnl","orders"]}]',
    '-c', String(users),
    '--measure', String(windowS),
    '--count-match', '_update",{',
    '--ts-key', 'timestamp',
    '--ts-offset-min', '480',
    // Unsubscribing stops the pushes to these sockets: the gateway's sent counter then equals what was sent.
    '--end-msg', '42["unsubscribe_trading",{}]',
    '--end-ack', '42["unsubscribed"',
    // 5k Socket.IO handshakes while the users already connected are polled: allow for a slow connect phase.
    '--connect-timeout', '30',
    '--connect-phase-max', '150',
  ];
}

/** wsload's settle phase before the window (s). */
export const SETTLE_S = 5;

/**
 * A whole trading run's wsload arguments (the scenario's, the soak's and the reference's): the clients, the
 * settle phase, a drain long enough for the unsubscribes, `readyFile` (when given) written when the connect
 * phase ends.
 */
export function tradingRunArgs(
  gateway: { ws: string; process: { pid: number } },
  run: { tokens: string; users: number; windowS: number; readyFile?: string; label: string },
): string[] {
  return [
    ...tradingClientArgs(gateway.ws, run.tokens, run.users, run.windowS),
    '--settle', String(SETTLE_S),
    '--drain', '30',
    ...(run.readyFile === undefined ? [] : ['--ready-file', run.readyFile]),
    '--server-pid', String(gateway.process.pid),
    '--label', run.label,
  ];
}

async function measure(ctx: BenchContext, options: { profile?: boolean } = {}): Promise<Row> {
  const users = scaled(ctx, 5_000);
  // The full run is the 60 s soak as well: RSS is sampled every second to see it settle.
  const windowS = seconds(ctx, 60, 6);
  // Heap after a forced GC, read over the inspector (no product change): when the users are connected, and
  // shortly before the window ends (one full GC inside the window).
  const inspectorPort = await freePort();
  return withGateway(ctx, { ...tradingEnv, ...inspectorEnv(inspectorPort) }, async (gateway) => {
    const tokens = await tokenFile(ctx, users);
    const before = await scrape(`${gateway.http}/metrics`);
    const rss = new RssRecorder(gateway.process.pid, 1_000);
    const cpuBefore = sampleProc(gateway.process.pid);
    ctx.log(`trading: ${users} Socket.IO users, all four types, ${windowS} s window`);
    const readyFile = join(ctx.tmpDir, `trading-${gateway.port}.ready`);
    const runEnded = new AbortController();
    const heapOffsetsS = [0, SETTLE_S + Math.max(1, windowS - 3)] as const;
    // The delivery latency is read between the two forced GCs (each stops the gateway's main thread for a
    // fraction of a second, and every push due meanwhile would count that wait): from the window's start to a
    // second before the second GC. The counts above and below span the whole run.
    const latencyWindow = (async () => {
      await waitForFile(readyFile, 200_000, runEnded.signal);
      await sleep(SETTLE_S * 1000);
      const start = await scrape(`${gateway.http}/metrics`);
      await sleep(Math.max(500, (heapOffsetsS[1] - SETTLE_S - 1) * 1000));
      return { start, end: await scrape(`${gateway.http}/metrics`) };
    })().catch((error: unknown) => (error instanceof Error ? error.message : String(error)));
    const heap = watchHeap({
      inspectorPort,
      readyFile,
      offsetsS: heapOffsetsS,
      connectTimeoutMs: 200_000,
      signal: runEnded.signal,
      log: ctx.log,
    }).then(
      (samples): HeapSample[] | string => samples,
      (error: unknown) => (error instanceof Error ? error.message : String(error)),
    );
    const result = await runWsload(
      ctx.wsload,
      tradingRunArgs(gateway, { tokens, users, windowS, readyFile, label: 'trading' }),
      windowS + 240,
    ).finally(() => {
      runEnded.abort();
    });
    const heapSamples = await heap;
    rss.stop();
    const cpuAfter = sampleProc(gateway.process.pid);
    const after = await scrape(`${gateway.http}/metrics`);
    const row = baseRow(loadName(ctx, 'trading', 5_000), 'gateway', `${kilo(users)} Socket.IO users × 4 types`, result);
    recordCpuSplit(row, cpuBefore, cpuAfter);
    const passive = result.passive;
    if (passive === undefined) {
      row.notes.push('wsload reported no passive measurement');
      return row;
    }
    const sent = sumOf(after, 'gateway_messages_sent_total', { protocol: 'socketio', type: isUpdate }) -
      sumOf(before, 'gateway_messages_sent_total', { protocol: 'socketio', type: isUpdate });
    const changes = sumOf(after, 'gateway_source_polls_total', { source: 'trading', result: 'changed' }) -
      sumOf(before, 'gateway_source_polls_total', { source: 'trading', result: 'changed' });
    const polls = sumOf(after, 'gateway_source_polls_total', { source: 'trading' }) -
      sumOf(before, 'gateway_source_polls_total', { source: 'trading' });
    const window = await latencyWindow;
    const [latencyFrom, latencyTo] = typeof window === 'string' ? [before, after] : [window.start, window.end];
    if (typeof window === 'string') {
      row.notes.push(`latency over the whole run (the window's scrapes failed: ${window})`);
    }
    const latency = histogramDelta(latencyFrom, latencyTo, 'gateway_delivery_latency_seconds', { protocol: 'socketio' });
    const p50 = latency.quantile(0.5);
    const p99 = latency.quantile(0.99);
    const maxBound = latency.maxBound();
    row.deliveriesPerS = passive.window_deliveries_per_s;
    row.ratio = sent > 0 ? passive.data_frames_total / sent : undefined;
    if (p50 !== undefined && p99 !== undefined && maxBound !== undefined) {
      row.latency = { p50Ms: p50 * 1000, p99Ms: p99 * 1000, maxMs: maxBound * 1000, source: 'server' };
    }
    row.serverCpuPerMillion = result.server_cpu_s_per_million;
    row.serverCpuCores = result.window_s > 0 ? result.server_cpu_seconds / result.window_s : undefined;
    const trend = rssTrend(rss.samples, windowS >= 30 ? 20 : 2);
    Object.assign(row.facts, {
      window_s: windowS,
      pushes_received_total: passive.data_frames_total,
      pushes_sent_by_gateway: sent,
      source_changes_published: changes,
      source_polls: polls,
      source_polls_per_s: Number((polls / Math.max(1, result.duration_s)).toFixed(0)),
      pushes_per_user_per_s: Number((passive.per_conn_mean / windowS).toFixed(2)),
      users_without_pushes: passive.conns_without_data,
      lateness_p99_ms: passive.lateness_us.p99 / 1000,
      lateness_max_ms: passive.lateness_us.max / 1000,
      ...(trend === undefined
        ? {}
        : {
            rss_slope_kb_per_s: Number(trend.slopeKbPerS.toFixed(1)),
            rss_first_mb: Number((trend.firstKb / 1024).toFixed(1)),
            rss_last_mb: Number((trend.lastKb / 1024).toFixed(1)),
          }),
    });
    row.notes.push(
      'latency: gateway histogram, trading source publish → socket write (the pushes carry only a whole-second timestamp), ' +
        'over the window up to a second before its forced GC',
      `client-side lower bound (receipt − end of the push's timestamp second): p99 ${(passive.lateness_us.p99 / 1000).toFixed(0)} ms, max ${(passive.lateness_us.max / 1000).toFixed(0)} ms`,
      `ratio: pushes received / pushes the gateway wrote (${passive.data_frames_total} / ${sent}); the source published ${changes} changes in ${polls} polls`,
    );
    if (passive.end_acked + passive.end_lost < passive.end_sent) {
      row.notes.push(`only ${passive.end_acked} of ${passive.end_sent} users answered the unsubscribe before the drain limit: the ratio undercounts`);
    }
    if (typeof heapSamples === 'string') {
      row.notes.push(`heap after GC not read: ${heapSamples}`);
    } else {
      const [first, last] = [heapSamples[0], heapSamples.at(-1)];
      if (first !== undefined && last !== undefined && heapSamples.length > 1) {
        Object.assign(row.facts, { heap_after_gc_start_mb: mb(first.heapUsed), heap_after_gc_end_mb: mb(last.heapUsed) });
        row.notes.push(
          `heap in use after a forced full GC (inspector): ${mb(first.heapUsed)} MB when connected → ${mb(last.heapUsed)} MB ${last.atS.toFixed(0)} s later`,
        );
      }
    }
    if (trend !== undefined) {
      row.notes.push(`RSS after warm-up: ${(trend.firstKb / 1024).toFixed(0)} → ${(trend.lastKb / 1024).toFixed(0)} MB, slope ${trend.slopeKbPerS.toFixed(0)} KB/s`);
    }
    return row;
  }, options);
}

/** Exposed for the profile run: the trading scenario against a gateway started with `--cpu-prof`. */
export async function profileTrading(ctx: BenchContext): Promise<Row[]> {
  return [await measure(ctx, { profile: true })];
}

/** Trading (the legacy trading service's protocol): 5k Socket.IO users with distinct tokens, all four types, data changing every second. */
export const tradingPushes: Scenario = {
  name: 'trading',
  description: 'trading (legacy Socket.IO protocol): 5k Socket.IO users, distinct tokens, all four types, paper exchange stepping every second; 60 s soak',
  run: async (ctx) => [await measure(ctx)],
};

/**
 * The reference's trading periods for this scenario: balance, positions and pnl every second (they change at
 * every step of the paper exchange, so the gateway pushes each of them every second), orders every 15 s (the
 * gateway pushes them only when an order is placed or filled).
 */
const REFERENCE_PERIODS_MS = '1000,1000,1000,15000';

/**
 * The same 5k users against the minimal uWS server pushing template payloads at about the gateway's rate
 * (`addMixRoutes`): the CPU per delivery of writing these pushes at all on this machine (the kernel's writes,
 * loopback's receive side charged to the sender, uWS's framing), the floor under the gateway's figure.
 */
export const tradingReference: Scenario = {
  name: 'trading-reference',
  description:
    'the trading scenario\'s 5k Socket.IO users against the minimal uWebSockets.js server pushing template payloads ' +
    '(balance, positions, pnl every second, orders every 15 s): the CPU floor per delivery',
  run: (ctx) =>
    withReference(
      ctx,
      async ({ process, port }) => {
        const users = scaled(ctx, 5_000);
        const windowS = seconds(ctx, 60, 6);
        const tokens = await tokenFile(ctx, users);
        ctx.log(`trading-reference: ${users} Socket.IO users, ${windowS} s window`);
        const cpuBefore = sampleProc(process.pid);
        const result = await runWsload(
          ctx.wsload,
          tradingRunArgs({ ws: `ws://127.0.0.1:${String(port)}`, process }, { tokens, users, windowS, label: 'trading-reference' }),
          windowS + 240,
        );
        const row = baseRow(loadName(ctx, 'trading', 5_000), 'uWS reference', `${kilo(users)} Socket.IO users × template pushes`, result);
        // Over the whole load run (connect phase and drain included), as for the gateway's row.
        recordCpuSplit(row, cpuBefore, sampleProc(process.pid));
        row.serverCpuPerMillion = result.server_cpu_s_per_million;
        row.serverCpuCores = result.window_s > 0 ? result.server_cpu_seconds / result.window_s : undefined;
        const passive = result.passive;
        if (passive === undefined) {
          row.notes.push('wsload reported no passive measurement');
          return [row];
        }
        row.deliveriesPerS = passive.window_deliveries_per_s;
        Object.assign(row.facts, {
          window_s: windowS,
          pushes_received_total: passive.data_frames_total,
          pushes_per_user_per_s: Number((passive.per_conn_mean / windowS).toFixed(2)),
          users_without_pushes: passive.conns_without_data,
        });
        row.notes.push(
          `template pushes at ${REFERENCE_PERIODS_MS} ms (balance, positions, pnl, orders), one corked write per user and 100 ms tick; ` +
            'no auth, exchange, change detection or bus: the least CPU these deliveries cost on this machine',
        );
        return [row];
      },
      { env: { MIX_TRADING_PERIODS_MS: REFERENCE_PERIODS_MS } },
    ),
};
