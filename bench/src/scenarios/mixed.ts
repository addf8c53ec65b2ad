import { readFile, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { kilo, loadName, scaled, seconds, tokenFile, withGateway, withReference } from '../context.js';
import type { BenchContext } from '../context.js';
import { histogramDelta, scrape, sumOf } from '../prometheus.js';
import type { HistogramDelta, MetricSample } from '../prometheus.js';
import { processTree, sampleProcTree } from '../proc-tree.js';
import type { ProcSample } from '../proc.js';
import { baseRow, fanoutRow, recordCpuSplit } from '../row.js';
import { answers } from '../server-process.js';
import type { Row } from '../row.js';
import { runWsload } from '../wsload.js';
import type { WsloadRun } from '../wsload.js';
import { SIGNAL_PUBLISH_BODY, signalsTarget } from './fanout.js';
import type { FanoutTarget } from './fanout.js';
import type { Scenario } from './scenario.js';
import { PUSH_INTERVAL_MS, stockClientArgs, stockEnv, waitForBuyList, writeStockCodes } from './stock.js';
import { isUpdate, tradingClientArgs } from './trading.js';

/** The full load: every protocol on one gateway process at once. */
const SIGNAL_CLIENTS = 10_000;
const SIGNALS_PER_S = 10;
const TRADING_USERS = 5_000;
const STOCK_CLIENTS = 2_000;
/** Seconds every load generator waits after the common start before its window (the same for all three). */
const SETTLE_S = 3;
/**
 * Seconds the trading and stock clients keep measuring after the signal window: their teardown (thousands of
 * unsubscribes and closes at once) must come after the signal group's last delivery (its drain is 5 s at most),
 * or the last second's signals (1.7% of all) would wait behind it and make the signal p99.
 */
const BACKGROUND_TAIL_S = 8;
/** Period of the gateway samples (CPU, RSS, /metrics) within the window. */
const SAMPLE_EVERY_MS = 5_000;
/** Upper bound of each client group's connect phase as the bench waits for it (wsload's own limit + margin). */
const CONNECT_WAIT_S = { stock: 90, trading: 180, signals: 90 } as const;

/**
 * The gateway of the mixed run: the stock scenario's market (500 stocks, 1,000 ticks/s, volume_wave held) and
 * the trading source at its default intervals (balance 10 s, positions 5 s, pnl 5 s, orders 15 s; paper
 * exchange stepping every second). Signals need no source: they are published through POST /api/signals.
 */
export const mixedEnv: Record<string, string> = { ...stockEnv, SOURCES: `${stockEnv['SOURCES'] ?? ''},trading` };

/** prom-client's event-loop delay figures of one scrape (each scrape resets its histogram: one interval). */
export interface LagInterval {
  p50S: number;
  p99S: number;
  maxS: number;
  /** The `process` label (`loop-0`, `sources`, …) of the series with the highest p99, on a node of several. */
  p99Process?: string;
  /** The same for the highest max. */
  maxProcess?: string;
}

/**
 * The event-loop lag of one scrape, or undefined when the gateway does not expose it. A node of several
 * processes exports one series per process (label `process`): each figure is the laggiest process's, and the
 * p99 and max name it.
 */
export function lagOf(samples: readonly MetricSample[]): LagInterval | undefined {
  const worst = (name: string): MetricSample | undefined => {
    let top: MetricSample | undefined;
    for (const sample of samples) {
      if (sample.name === name && (top === undefined || sample.value > top.value)) {
        top = sample;
      }
    }
    return top;
  };
  const p50 = worst('nodejs_eventloop_lag_p50_seconds');
  const p99 = worst('nodejs_eventloop_lag_p99_seconds');
  const max = worst('nodejs_eventloop_lag_max_seconds');
  if (p50 === undefined || p99 === undefined || max === undefined) {
    return undefined;
  }
  const p99Process = p99.labels['process'];
  const maxProcess = max.labels['process'];
  return {
    p50S: p50.value,
    p99S: p99.value,
    maxS: max.value,
    ...(p99Process === undefined ? {} : { p99Process }),
    ...(maxProcess === undefined ? {} : { maxProcess }),
  };
}

/** The lag of a window (see `summarizeLag`). */
export interface LagSummary {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  intervals: number;
  /** The process of the worst interval's p99, when the node names its processes. */
  p99Process?: string;
  /** The process of the largest max, likewise. */
  maxProcess?: string;
}

/**
 * The lag over a window from its intervals: the median of the intervals' p50, the worst interval's p99 and the
 * largest max (an interval's p99 cannot be merged into a window p99; the worst one bounds it from above), with
 * the processes they came from. Undefined without intervals.
 */
export function summarizeLag(intervals: readonly LagInterval[]): LagSummary | undefined {
  if (intervals.length === 0) {
    return undefined;
  }
  const p50s = intervals.map((i) => i.p50S).sort((a, b) => a - b);
  const median = p50s.length % 2 === 1 ? (p50s[(p50s.length - 1) / 2] ?? 0) : ((p50s[p50s.length / 2 - 1] ?? 0) + (p50s[p50s.length / 2] ?? 0)) / 2;
  const worstP99 = intervals.reduce((a, b) => (b.p99S > a.p99S ? b : a));
  const worstMax = intervals.reduce((a, b) => (b.maxS > a.maxS ? b : a));
  return {
    p50Ms: median * 1000,
    p99Ms: worstP99.p99S * 1000,
    maxMs: worstMax.maxS * 1000,
    intervals: intervals.length,
    ...(worstP99.p99Process === undefined ? {} : { p99Process: worstP99.p99Process }),
    ...(worstMax.maxProcess === undefined ? {} : { maxProcess: worstMax.maxProcess }),
  };
}

/** ` (loop-1)`, or nothing for a node of one process. */
function inProcess(process: string | undefined): string {
  return process === undefined ? '' : ` (${process})`;
}

/** A count of the window scaled to a minute (updates per connection per minute). */
export function perMinute(count: number, windowS: number): number {
  return windowS > 0 ? (count * 60) / windowS : 0;
}

/** One gateway sample within the window. */
interface GatewaySample {
  atS: number;
  proc: ProcSample | undefined;
  metrics: MetricSample[];
}

/**
 * The server under the mix: the gateway, or the minimal uWS reference (`addMixRoutes`) serving the same clients
 * on the same paths, to see how close the gateway runs to the least a server must do for them on this machine.
 */
interface MixServer {
  server: Row['server'];
  pid: number;
  /** `ws://host:port`: the trading clients' `/socket.io/` and the stock clients' `/ws/stock/prices`. */
  ws: string;
  signals: FanoutTarget;
  /** The node's `/metrics` (the gateway's), or undefined: the reference counts nothing. */
  metricsUrl: string | undefined;
  /** Stocks on the buy list when the clients connect (the gateway's), for the record. */
  buyList: number | undefined;
}

/** The metrics of a server that has them; none of the reference. */
async function scrapeOf(server: MixServer): Promise<MetricSample[]> {
  return server.metricsUrl === undefined ? [] : scrape(server.metricsUrl);
}

async function sampleGateway(gateway: MixServer, startedAt: number): Promise<GatewaySample> {
  // The supervisor and its loops when LOOPS > 1.
  const proc = sampleProcTree(gateway.pid);
  const metrics = await scrapeOf(gateway);
  return { atS: (performance.now() - startedAt) / 1000, proc, metrics };
}

/**
 * When the window's last interval of event-loop lag ends, before the window itself: the load generators end
 * their windows together with it and at once unsubscribe and close thousands of connections, and that
 * teardown (a loop handling 2,500 closes in one turn of its poll phase stalls for about a second here) is no
 * part of the load being measured.
 */
const LAG_END_BEFORE_MS = 1_000;

/**
 * Samples the gateway from the window's start to its end: every {@link SAMPLE_EVERY_MS}, at
 * {@link LAG_END_BEFORE_MS} before the end (the last sample whose lag counts), and at the end.
 */
async function sampleWindow(gateway: MixServer, windowS: number): Promise<GatewaySample[]> {
  const startedAt = performance.now();
  const endMs = windowS * 1000;
  const lagEndMs = Math.max(0, endMs - LAG_END_BEFORE_MS);
  const times: number[] = [];
  for (let at = SAMPLE_EVERY_MS; at < lagEndMs; at += SAMPLE_EVERY_MS) {
    times.push(at);
  }
  times.push(lagEndMs, endMs);
  const samples = [await sampleGateway(gateway, startedAt)];
  for (const at of times) {
    await sleep(Math.max(0, at - (performance.now() - startedAt)));
    samples.push(await sampleGateway(gateway, startedAt));
  }
  return samples;
}

/**
 * Waits until wsload wrote its `--ready-file` (its connect phase ended) and returns the open connections it
 * wrote there. Throws when the run ended first or after `timeoutS`.
 */
async function whenConnected(file: string, run: Promise<WsloadRun>, timeoutS: number, what: string): Promise<number> {
  const state = { ended: false };
  run.then(
    () => { state.ended = true; },
    () => { state.ended = true; },
  );
  const deadline = Date.now() + timeoutS * 1000;
  for (;;) {
    const text = await readFile(file, 'utf8').catch(() => undefined);
    if (text !== undefined) {
      return Number(text.trim());
    }
    if (state.ended) {
      throw new Error(`${what}: wsload ended before its connect phase did`);
    }
    if (Date.now() > deadline) {
      throw new Error(`${what}: not connected within ${String(timeoutS)} s`);
    }
    await sleep(200);
  }
}

function gatewayLatency(delta: HistogramDelta): { p50Ms?: number; p99Ms?: number; maxBoundMs?: number; count: number } {
  const p50 = delta.quantile(0.5);
  const p99 = delta.quantile(0.99);
  const max = delta.maxBound();
  return {
    count: delta.count,
    ...(p50 === undefined ? {} : { p50Ms: Number((p50 * 1000).toFixed(2)) }),
    ...(p99 === undefined ? {} : { p99Ms: Number((p99 * 1000).toFixed(2)) }),
    ...(max === undefined ? {} : { maxBoundMs: max * 1000 }),
  };
}

/** Connections a run opened and how many were still open when it ended its window. */
function connections(result: WsloadRun): { opened: number; stillOpen: number } {
  const opened = result.conns_requested - result.conns_failed;
  return { opened, stillOpen: result.passive?.conns_measured ?? opened - result.conns_closed_after_open };
}

/** The mix on the gateway with `loops` event loops. */
async function measureGateway(ctx: BenchContext, loops: number): Promise<Row[]> {
  return withGateway(ctx, { ...mixedEnv, LOOPS: String(loops) }, async (gateway) => {
    const [signals, buyList] = await Promise.all([
      signalsTarget(ctx, gateway.http, gateway.ws, gateway.process.pid, scaled(ctx, SIGNAL_CLIENTS)),
      waitForBuyList(gateway.http),
    ]);
    const server: MixServer = {
      server: 'gateway',
      pid: gateway.process.pid,
      ws: gateway.ws,
      signals,
      metricsUrl: `${gateway.http}/metrics`,
      buyList: buyList.length,
    };
    return measure(ctx, loops, server);
  });
}

/**
 * The mix on the minimal uWS reference with `loops` processes (`loop-reference.ts`, `MIX=1`: each process
 * listens on the port, pushes its own trading users and stock clients, and relays each signal to the others).
 */
async function measureReference(ctx: BenchContext, loops: number): Promise<Row[]> {
  const env = { LOOPS: String(loops), LOOP_MODE: 'processes', MIX: '1' };
  return withReference(
    ctx,
    async ({ process: reference, port }) => {
      const http = `http://127.0.0.1:${String(port)}`;
      // The port answers once one loop listens; the clients connect once every loop process exists and has had
      // time to listen too (SO_REUSEPORT spreads the connections over the listening ones).
      for (let tries = 0; processTree(reference.pid).length <= loops; tries += 1) {
        if (tries > 300) {
          throw new Error(`uws-reference (mix): ${String(loops)} loop processes did not start`);
        }
        await sleep(100);
      }
      for (let answered = 0; answered < 20; answered += (await answers(`${http}/ready`, 404)) ? 1 : 0) {
        await sleep(100);
      }
      const server: MixServer = {
        server: 'uWS reference',
        pid: reference.pid,
        ws: `ws://127.0.0.1:${String(port)}`,
        // The gateway's publish body, SEQ marker included: the reference writes it as it came.
        signals: {
          url: `ws://127.0.0.1:${String(port)}/ws`,
          subscriberArgs: [],
          pubArgs: ['--pub-http', `${http}/pub`, '--content-type', 'application/json', '--payload', SIGNAL_PUBLISH_BODY],
          serverPid: reference.pid,
        },
        metricsUrl: undefined,
        buyList: undefined,
      };
      return measure(ctx, loops, server);
    },
    { script: 'bench/src/loops/loop-reference.ts', env },
  );
}

async function measure(ctx: BenchContext, loops: number, target: MixServer): Promise<Row[]> {
  const counts = { signals: scaled(ctx, SIGNAL_CLIENTS), trading: scaled(ctx, TRADING_USERS), stock: scaled(ctx, STOCK_CLIENTS) };
  const windowS = seconds(ctx, 60, 10);
  // Every run is bounded by wsload itself: the connect waits of the groups launched after it, its window, its drain.
  const maxRuntimeS = CONNECT_WAIT_S.stock + CONNECT_WAIT_S.trading + CONNECT_WAIT_S.signals + SETTLE_S + windowS + BACKGROUND_TAIL_S + 60;
  // Trading and stock clients measure from the common start until after the signal group's end.
  const backgroundWindowS = windowS + BACKGROUND_TAIL_S;
  const signals = target.signals;
  const [tradingTokens, stock] = await Promise.all([tokenFile(ctx, counts.trading), writeStockCodes(ctx)]);
  const file = (name: string): string => join(ctx.tmpDir, `mixed-${name}`);
  const goFile = file('go');
  const sync = (name: string): string[] => ['--ready-file', file(`${name}.ready`), '--go-file', goFile, '--settle', String(SETTLE_S)];
  const label = (name: string): string[] => ['--server-pid', String(target.pid), '--label', `mixed ${name}`];
  ctx.log(
    `mixed: ${kilo(counts.signals)} signal clients × ${String(SIGNALS_PER_S)}/s, ${kilo(counts.trading)} Socket.IO trading users, ` +
      `${kilo(counts.stock)} stock clients${target.buyList === undefined ? '' : ` (buy list ${String(target.buyList)})`}, ` +
      `one ${target.server} on ${String(loops)} event loop(s), ${String(windowS)} s window`,
  );
  const initial = await scrapeOf(target);
  const runs: Promise<WsloadRun>[] = [];
  const opened: Record<string, number> = {};
  let window: GatewaySample[] = [];
  let results: WsloadRun[];
  let final: MetricSample[];
  try {
    // One group after the other (each handshake storm alone), the earlier ones idling in their settle phase.
    // The run is returned in an object: an async function returning the promise itself would wait for its end.
    const launch = async (group: keyof typeof CONNECT_WAIT_S, what: string, args: string[], drainS: number): Promise<{ run: Promise<WsloadRun> }> => {
      const run = runWsload(ctx.wsload, [...args, ...sync(group), '--drain', String(drainS), ...label(group)], maxRuntimeS);
      runs.push(run);
      opened[group] = await whenConnected(file(`${group}.ready`), run, CONNECT_WAIT_S[group], what);
      ctx.log(`mixed: ${String(opened[group])} ${what} connected`);
      return { run };
    };
    const { run: stockRun } = await launch('stock', 'stock clients', stockClientArgs(target.ws, counts.stock, stock.codesFile, backgroundWindowS), 30);
    const { run: tradingRun } = await launch('trading', 'trading users', tradingClientArgs(target.ws, tradingTokens, counts.trading, backgroundWindowS), 30);
    const { run: signalsRun } = await launch(
      'signals',
      'signal clients',
      [
        '-u', signals.url, ...signals.subscriberArgs, ...signals.pubArgs,
        '-c', String(counts.signals),
        '-r', String(SIGNALS_PER_S),
        '-d', String(windowS),
      ],
      5,
    );
    ctx.log(`mixed: the window starts in ${String(SETTLE_S)} s`);
    await writeFile(goFile, '');
    // wsload sees the go file within 20 ms and starts its window SETTLE_S later: so does the server sampler.
    await sleep(SETTLE_S * 1000);
    window = await sampleWindow(target, windowS);
    results = await Promise.all([stockRun, tradingRun, signalsRun]);
    final = await scrapeOf(target);
  } finally {
    // Whatever failed: release the runs still waiting, and let each end by itself (its --max-runtime bounds it).
    await writeFile(goFile, '');
    await Promise.allSettled(runs);
  }
  const [stockResult, tradingResult, signalsResult] = results;
  const start = window[0];
  const end = window.at(-1);
  if (stockResult === undefined || tradingResult === undefined || signalsResult === undefined || start === undefined || end === undefined) {
    throw new Error('mixed: a run or the window samples are missing');
  }
  return buildRows(ctx, { server: target.server, counted: target.metricsUrl !== undefined, buyList: target.buyList, loops, counts, windowS, backgroundWindowS, initial, window, start, end, final, stockResult, tradingResult, signalsResult });
}

interface Measured {
  server: Row['server'];
  /** The server counts what it writes (the gateway's metrics); the reference does not. */
  counted: boolean;
  buyList: number | undefined;
  loops: number;
  counts: { signals: number; trading: number; stock: number };
  /** The signal window, over which the server is sampled. */
  windowS: number;
  /** The trading and stock clients' window: the signal window and {@link BACKGROUND_TAIL_S} after it. */
  backgroundWindowS: number;
  initial: MetricSample[];
  window: GatewaySample[];
  start: GatewaySample;
  end: GatewaySample;
  final: MetricSample[];
  stockResult: WsloadRun;
  tradingResult: WsloadRun;
  signalsResult: WsloadRun;
}

function buildRows(ctx: BenchContext, m: Measured): Row[] {
  const { backgroundWindowS } = m;
  // Rows of a run on several event loops are told apart by name: mixed-signals-10k-2loops, ...
  const tag = m.loops > 1 ? `-${String(m.loops)}loops` : '';
  const sent = (protocol: string, type: string | ((t: string) => boolean)): number =>
    sumOf(m.final, 'gateway_messages_sent_total', { protocol, type }) - sumOf(m.initial, 'gateway_messages_sent_total', { protocol, type });
  // The gateway's own count from the last sample before the end: the signal clients leave as soon as their last
  // message is delivered, which is right at the window's end.
  const serverOpen = (protocol: string): number => sumOf(nearEnd(m).metrics, 'gateway_connections', { protocol });
  // Facts and notes from the server's own counts: the reference has none.
  const ifCounted = <T extends object>(value: T): T | Record<string, never> => (m.counted ? value : {});
  const countedNote = (row: Row, note: string): void => {
    if (m.counted) {
      row.notes.push(note);
    }
  };

  // Signals: wsload published every message and accounts every delivery; the gateway histogram from the window's
  // start to after the drain (signals are published only in the window).
  const sig = m.signalsResult;
  const sigConns = connections(sig);
  const sigGateway = gatewayLatency(histogramDelta(m.start.metrics, m.final, 'gateway_delivery_latency_seconds', { protocol: 'signals' }));
  const lost = Math.max(0, sig.expected_deliveries - sig.received_deliveries);
  const subscribers = sig.publish_count > 0 ? sig.expected_deliveries / sig.publish_count : sigConns.opened;
  const signalsRow = fanoutRow(loadName(ctx, 'mixed-signals', SIGNAL_CLIENTS, tag), m.server, `${kilo(m.counts.signals)} signal clients × ${String(SIGNALS_PER_S)}/s (mixed)`, sig);
  Object.assign(signalsRow.facts, {
    conns_opened: sigConns.opened,
    conns_still_open: sigConns.stillOpen,
    ...ifCounted({ gateway_open_before_end: serverOpen('signals') }),
    published: sig.publish_count,
    expected_deliveries: sig.expected_deliveries,
    received_deliveries: sig.received_deliveries,
    lost,
    ...(sigGateway.p50Ms === undefined ? {} : { gateway_latency_p50_ms: sigGateway.p50Ms }),
    ...(sigGateway.p99Ms === undefined ? {} : { gateway_latency_p99_ms: sigGateway.p99Ms }),
  });
  signalsRow.notes.push(
    `${String(sig.received_deliveries)} of ${String(sig.expected_deliveries)} deliveries (${String(sig.publish_count)} published × ${String(subscribers)} clients), ${String(lost)} lost`,
    `latency client (publish → receipt) p50 ${(sig.latency_us.p50 / 1000).toFixed(1)} / p99 ${(sig.latency_us.p99 / 1000).toFixed(1)} / max ${(sig.latency_us.max / 1000).toFixed(1)} ms`,
  );
  countedNote(signalsRow, `gateway histogram (publish → socket write) p50 ${sigGateway.p50Ms?.toFixed(2) ?? '–'} / p99 ${sigGateway.p99Ms?.toFixed(2) ?? '–'} ms`);

  // Stock: every connection should get one price_update a second; wsload's count against the gateway's sent counter.
  const st = m.stockResult;
  const stConns = connections(st);
  const stSent = sent('stock', 'price_update');
  const stockRow = baseRow(loadName(ctx, 'mixed-stock', STOCK_CLIENTS, tag), m.server, `${kilo(m.counts.stock)} stock clients × (volume_wave + 1 stock) (mixed)`, st);
  const stGateway = gatewayLatency(histogramDelta(m.start.metrics, m.end.metrics, 'gateway_delivery_latency_seconds', { protocol: 'stock' }));
  applyServerLatency(stockRow, stGateway);
  const expectedPerMin = perMinute(backgroundWindowS / (PUSH_INTERVAL_MS / 1000), backgroundWindowS);
  if (st.passive !== undefined) {
    const p = st.passive;
    stockRow.deliveriesPerS = p.window_deliveries_per_s;
    stockRow.ratio = stSent > 0 ? p.data_frames_total / stSent : undefined;
    Object.assign(stockRow.facts, {
      conns_opened: stConns.opened,
      conns_still_open: stConns.stillOpen,
      ...ifCounted({ gateway_open_before_end: serverOpen('stock'), frames_sent_by_gateway: stSent }),
      updates_per_conn_per_min_min: Number(perMinute(p.per_conn_min, backgroundWindowS).toFixed(1)),
      updates_per_conn_per_min_median: Number(perMinute(p.per_conn_p50, backgroundWindowS).toFixed(1)),
      updates_per_conn_per_min_expected: expectedPerMin,
      conns_without_updates: p.conns_without_data,
      frames_received_total: p.data_frames_total,
      ...(m.buyList === undefined ? {} : { buy_list: m.buyList }),
    });
    stockRow.notes.push(
      `updates per connection per minute: min ${perMinute(p.per_conn_min, backgroundWindowS).toFixed(1)}, median ${perMinute(p.per_conn_p50, backgroundWindowS).toFixed(1)} (expected ${expectedPerMin.toFixed(0)}; over the ${String(backgroundWindowS)} s the stock clients measured); ` +
        `${String(p.conns_without_data)} connections without updates`,
      `flush → client receipt p99 ${(p.burst_us.p99 / 1000).toFixed(1)} ms (flushes less than 300 ms apart merge into one: an upper bound when the server falls behind)`,
    );
    countedNote(stockRow, `received ${String(p.data_frames_total)} price_update frames, the gateway wrote ${String(stSent)}`);
    countedNote(stockRow, `latency: gateway histogram, quote published → socket write (includes the up-to-${String(PUSH_INTERVAL_MS)} ms conflation wait by design)`);
  } else {
    stockRow.notes.push('wsload reported no passive measurement');
  }

  // Trading: pushes received against the pushes the gateway wrote (after every user unsubscribed and drained).
  const tr = m.tradingResult;
  const trConns = connections(tr);
  const trSent = sent('socketio', isUpdate);
  const tradingRow = baseRow(loadName(ctx, 'mixed-trading', TRADING_USERS, tag), m.server, `${kilo(m.counts.trading)} Socket.IO users × 4 types, default intervals (mixed)`, tr);
  const trGateway = gatewayLatency(histogramDelta(m.start.metrics, m.end.metrics, 'gateway_delivery_latency_seconds', { protocol: 'socketio' }));
  applyServerLatency(tradingRow, trGateway);
  if (tr.passive !== undefined) {
    const p = tr.passive;
    tradingRow.deliveriesPerS = p.window_deliveries_per_s;
    tradingRow.ratio = trSent > 0 ? p.data_frames_total / trSent : undefined;
    Object.assign(tradingRow.facts, {
      conns_opened: trConns.opened,
      conns_still_open: trConns.stillOpen,
      ...ifCounted({ gateway_open_before_end: serverOpen('socketio'), pushes_sent_by_gateway: trSent }),
      pushes_received_total: p.data_frames_total,
      users_without_pushes: p.conns_without_data,
      lateness_p99_ms: p.lateness_us.p99 / 1000,
    });
    countedNote(tradingRow, `received ${String(p.data_frames_total)} pushes = written ${String(trSent)}: ${p.data_frames_total === trSent ? 'yes' : 'NO'}`);
    countedNote(tradingRow, 'latency: gateway histogram, trading source publish → socket write');
    tradingRow.notes.push(`client-side lower bound of the latency (receipt − end of the push's timestamp second) p99 ${(p.lateness_us.p99 / 1000).toFixed(0)} ms`);
    if (p.end_acked + p.end_lost < p.end_sent) {
      tradingRow.notes.push(`only ${String(p.end_acked)} of ${String(p.end_sent)} users answered the unsubscribe before the drain limit: the ratio undercounts`);
    }
  } else {
    tradingRow.notes.push('wsload reported no passive measurement');
  }

  // The gateway as a whole over the window: CPU and RSS from /proc, event-loop lag and heap from /metrics.
  const total = totalRow(ctx, m);
  // Per-protocol rows share one gateway: its CPU is on the total row only.
  for (const row of [signalsRow, stockRow, tradingRow]) {
    row.serverCpuCores = undefined;
    row.serverCpuPerMillion = undefined;
    row.notes.push(`${m.server} CPU, memory and event-loop lag: see the mixed total row (one server serves all three)`);
  }
  return [signalsRow, tradingRow, stockRow, total];
}

/** The last gateway sample before the window's end ({@link LAG_END_BEFORE_MS} before it). */
function nearEnd(m: Measured): GatewaySample {
  return m.window.at(-2) ?? m.start;
}

function applyServerLatency(row: Row, latency: { p50Ms?: number; p99Ms?: number; maxBoundMs?: number }): void {
  if (latency.p50Ms !== undefined && latency.p99Ms !== undefined && latency.maxBoundMs !== undefined) {
    row.latency = { p50Ms: latency.p50Ms, p99Ms: latency.p99Ms, maxMs: latency.maxBoundMs, source: 'server' };
  }
}

function totalRow(ctx: BenchContext, m: Measured): Row {
  const runs = [m.signalsResult, m.tradingResult, m.stockResult];
  const conns = m.counts.signals + m.counts.trading + m.counts.stock;
  const stillOpen = runs.reduce((sum, r) => sum + connections(r).stillOpen, 0);
  const elapsedS = m.end.atS - m.start.atS;
  const cpu = (s: ProcSample | undefined): number | undefined => (s === undefined ? undefined : s.userS + s.systemS);
  const cpuStart = cpu(m.start.proc);
  const cpuEnd = cpu(m.end.proc);
  const cores = cpuStart !== undefined && cpuEnd !== undefined && elapsedS > 0 ? (cpuEnd - cpuStart) / elapsedS : undefined;
  // Each wsload's CPU over its own window (the signal publisher's includes its drain).
  const toolCores = runs.reduce((sum, r) => sum + r.tool_cpu_util_publish, 0);
  // The first sample resets prom-client's delay histogram: each later scrape covers one interval of the window,
  // up to the one a second before its end (the last sample's interval holds the load generators' teardown).
  const lag = summarizeLag(m.window.slice(1, -1).flatMap((s) => lagOf(s.metrics) ?? []));
  const rssKb = m.window.flatMap((s) => (s.proc === undefined ? [] : [s.proc.rssKb]));
  const heap = m.window.map((s) => sumOf(s.metrics, 'nodejs_heap_size_used_bytes'));
  const heapEndMb = (heap.at(-1) ?? 0) / 2 ** 20;
  const load = loadavg();
  const row: Row = {
    scenario: loadName(ctx, 'mixed', SIGNAL_CLIENTS + TRADING_USERS + STOCK_CLIENTS, `-total${m.loops > 1 ? `-${String(m.loops)}loops` : ''}`),
    server: m.server,
    shape: `${kilo(m.counts.signals)} signals + ${kilo(m.counts.trading)} trading + ${kilo(m.counts.stock)} stock, ${String(m.windowS)} s`,
    conns: stillOpen,
    connsFailed: runs.reduce((sum, r) => sum + r.conns_failed, 0),
    serverCpuCores: cores,
    toolCpuCores: toolCores,
    toolSaturated: runs.some((r) => r.tool_saturated),
    otherCpuCores: m.stockResult.other_cpu_cores,
    notes: [],
    facts: {
      window_s: m.windowS,
      conns_requested: conns,
      conns_still_open: stillOpen,
      ...(m.counted ? { gateway_open_before_end: sumOf(nearEnd(m).metrics, 'gateway_connections') } : {}),
      load_tool_cores_signals: m.signalsResult.tool_cpu_util_publish,
      load_tool_cores_trading: m.tradingResult.tool_cpu_util_publish,
      load_tool_cores_stock: m.stockResult.tool_cpu_util_publish,
      rss_end_mb: Number(((rssKb.at(-1) ?? 0) / 1024).toFixed(1)),
      rss_max_mb: Number((Math.max(0, ...rssKb) / 1024).toFixed(1)),
      ...(m.counted ? { heap_used_end_mb: Number(heapEndMb.toFixed(1)), heap_used_max_mb: Number((Math.max(0, ...heap) / 2 ** 20).toFixed(1)) } : {}),
      load_avg_1m: Number((load[0] ?? 0).toFixed(2)),
      load_avg_5m: Number((load[1] ?? 0).toFixed(2)),
      ...(lag === undefined
        ? {}
        : {
            eventloop_lag_p50_ms: Number(lag.p50Ms.toFixed(2)),
            eventloop_lag_p99_ms: Number(lag.p99Ms.toFixed(2)),
            eventloop_lag_max_ms: Number(lag.maxMs.toFixed(2)),
            ...(lag.p99Process === undefined ? {} : { eventloop_lag_p99_process: lag.p99Process }),
            ...(lag.maxProcess === undefined ? {} : { eventloop_lag_max_process: lag.maxProcess }),
          }),
    },
    command: [],
  };
  recordCpuSplit(row, m.start.proc, m.end.proc);
  row.notes.push(
    `${m.server} CPU ${cores === undefined ? '–' : cores.toFixed(2)} cores over the window (/proc, user ${String(row.facts['server_user_s'] ?? '–')} s + system ${String(row.facts['server_system_s'] ?? '–')} s)`,
    lag === undefined
      ? `event-loop lag: the ${m.server} exposes no nodejs_eventloop_lag_* figures`
      : `event-loop lag (nodejs_eventloop_lag_*, prom-client's delay monitor at 10 ms resolution, so an idle loop reads about 10 ms; ` +
        `of several processes, the laggiest in each interval; ${String(lag.intervals)} intervals of up to ${String(SAMPLE_EVERY_MS / 1000)} s, the last ending ${String(LAG_END_BEFORE_MS / 1000)} s before the window's end, before the load generators' teardown): median p50 ${lag.p50Ms.toFixed(1)} ms, worst p99 ${lag.p99Ms.toFixed(1)} ms${inProcess(lag.p99Process)}, max ${lag.maxMs.toFixed(1)} ms${inProcess(lag.maxProcess)}`,
    `RSS ${String(row.facts['rss_end_mb'])} MB at the window's end (max ${String(row.facts['rss_max_mb'])} MB)` +
      (m.counted ? `; heap used ${heapEndMb.toFixed(1)} MB (nodejs_heap_size_used_bytes: the gateway exposes no forced GC, so this includes garbage not yet collected)` : ''),
    `load generators ${toolCores.toFixed(2)} cores (signals ${m.signalsResult.tool_cpu_util_publish.toFixed(2)}, trading ${m.tradingResult.tool_cpu_util_publish.toFixed(2)}, stock ${m.stockResult.tool_cpu_util_publish.toFixed(2)}); ` +
      `load average ${load.map((l) => l.toFixed(2)).join(' ')} at the end`,
    `${String(stillOpen)} of ${String(conns)} connections still open at the end of the window` +
      (m.counted ? `; the gateway counted ${String(row.facts['gateway_open_before_end'])} open ${String(Math.round(m.end.atS - nearEnd(m).atS))} s before it` : ''),
  );
  const lagText =
    lag === undefined ? '–' : `${lag.p50Ms.toFixed(1)}/${lag.p99Ms.toFixed(1)}${inProcess(lag.p99Process)}/${lag.maxMs.toFixed(1)}${inProcess(lag.maxProcess)}`;
  ctx.log(
    `mixed: ${m.server} ${cores?.toFixed(2) ?? '–'} cores, event-loop lag p50/p99/max ${lagText} ms, RSS ${String(row.facts['rss_end_mb'])} MB, ` +
      `${m.counted ? `heap ${heapEndMb.toFixed(1)} MB, ` : ''}load generators ${toolCores.toFixed(2)} cores`,
  );
  return row;
}

/** Every protocol at once on one gateway: signals fan-out, Socket.IO trading and stock prices. */
export const mixedLoad: Scenario = {
  name: 'mixed',
  description:
    'one gateway serving every protocol at once: 10k signal clients × 10/s, 5k Socket.IO trading users (all four types, default intervals), ' +
    '2k stock clients (volume_wave + 1 stock, 1 s pushes); 60 s window',
  run: (ctx) => perLoopCount(ctx, measureGateway),
};

/**
 * The same mix against the minimal uWS server (`addMixRoutes`): what the clients see of the least a server can
 * do for them on this machine, beside the gateway's mixed rows.
 */
export const mixedReference: Scenario = {
  name: 'mixed-reference',
  description:
    'the mixed scenario\'s clients against the minimal uWebSockets.js server (signals relayed between its processes, template trading pushes ' +
    'at the default intervals, one shared 61-stock price_update a second): the floor beside the gateway\'s mixed rows',
  run: (ctx) => perLoopCount(ctx, measureReference),
};

/** One run per `--loops` count, one after the other. */
async function perLoopCount(ctx: BenchContext, measureWith: (ctx: BenchContext, loops: number) => Promise<Row[]>): Promise<Row[]> {
  const rows: Row[] = [];
  for (const loops of ctx.loops ?? [1]) {
    rows.push(...(await measureWith(ctx, loops)));
  }
  return rows;
}
