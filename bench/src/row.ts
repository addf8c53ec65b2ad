import type { ProcSample } from './proc.js';
import type { WsloadResult, WsloadRun } from './wsload.js';

/** Where a row's latency comes from (the report says which, per row). */
export type LatencySource =
  /** wsload: its own publish (HTTP POST) to the client's receipt of that exact message, every delivery. */
  | 'client'
  /** The gateway's delivery-latency histogram (source publish → socket write), bucket-interpolated. */
  | 'server';

/** One line of the results table: one scenario against one server. */
export interface Row {
  /** Scenario name as `--scenario` takes it. */
  scenario: string;
  server: 'gateway' | 'gateway, Redis bus' | 'uWS reference';
  /** What was measured, for the table (`5k subs × 100/s`). */
  shape: string;
  conns: number;
  connsFailed: number;
  deliveriesPerS?: number | undefined;
  offeredPerS?: number | undefined;
  /** Received / expected (wsload's exact accounting, or the gateway's own sent counter for source-driven scenarios). */
  ratio?: number | undefined;
  latency?: { p50Ms: number; p99Ms: number; maxMs: number; source: LatencySource } | undefined;
  serverCpuPerMillion?: number | undefined;
  /** Server CPU in cores (CPU seconds / wall seconds) during the measured window. */
  serverCpuCores?: number | undefined;
  rssPerConnKb?: number | undefined;
  /** Load generator CPU in cores during the window (1.0 = one core busy: the generator may be the limit). */
  toolCpuCores?: number | undefined;
  toolSaturated?: boolean | undefined;
  handshakesPerS?: number | undefined;
  /** Other processes' CPU (cores) during the window: noise from outside the benchmark. */
  otherCpuCores?: number | undefined;
  /** Facts for the reader (what the latency means, checks done, anything unusual). */
  notes: string[];
  /** Scenario-specific figures the target checks read. */
  facts: Record<string, number | string | boolean>;
  /** The wsload arguments of the measurement (scratch paths and secrets as they were; the report masks them). */
  command: readonly string[];
}

const ms = (us: number): number => us / 1000;

/** The columns every wsload-measured row shares: connections, CPU, memory, tool load. */
export function baseRow(
  scenario: string,
  server: Row['server'],
  shape: string,
  result: WsloadRun,
): Row {
  const notes: string[] = [];
  if (result.aborted) {
    notes.push(`wsload aborted: ${result.abort_reason}`);
  }
  if (result.conns_failed > 0) {
    notes.push(`${result.conns_failed} connections failed (${JSON.stringify(result.fail_reasons)})`);
  }
  if (result.conns_closed_after_open > 0) {
    notes.push(`${result.conns_closed_after_open} closed by the server (${JSON.stringify(result.close_reasons)})`);
  }
  return {
    scenario,
    server,
    shape,
    conns: result.conns_open,
    connsFailed: result.conns_failed,
    toolCpuCores: result.tool_cpu_util_publish > 0 ? result.tool_cpu_util_publish : undefined,
    toolSaturated: result.tool_saturated,
    otherCpuCores: result.other_cpu_cores,
    notes,
    facts: {},
    command: result.args,
  };
}

/** A fan-out row from wsload's exact per-message accounting (it published every message itself). */
export function fanoutRow(scenario: string, server: Row['server'], shape: string, result: WsloadRun): Row {
  const row = baseRow(scenario, server, shape, result);
  row.deliveriesPerS = result.deliveries_per_s;
  row.offeredPerS = result.offered_deliveries_per_s;
  row.ratio = result.delivery_ratio;
  row.latency = {
    p50Ms: ms(result.latency_us.p50),
    p99Ms: ms(result.latency_us.p99),
    maxMs: ms(result.latency_us.max),
    source: 'client',
  };
  row.serverCpuPerMillion = result.server_cpu_s_per_million;
  row.serverCpuCores = result.window_s > 0 ? result.server_cpu_seconds / result.window_s : undefined;
  row.facts['delivered_over_offered'] = result.delivery_ratio_offered;
  row.facts['duplicates'] = result.duplicates;
  row.facts['out_of_order'] = result.out_of_order;
  row.facts['pub_errors'] = result.pub_errors;
  if (result.delivery_ratio_offered < 0.999 && result.delivery_ratio >= 0.999) {
    row.notes.push(`publishes accepted more slowly than offered: delivered/offered ${result.delivery_ratio_offered.toFixed(3)}`);
  }
  if (result.pub_errors > 0) {
    row.notes.push(`${result.pub_errors} publish requests failed`);
  }
  // Out-of-order receipts are expected: the fan-out publisher posts through 64 keep-alive connections (`--pub-conns 64`), which race each other.
  if (result.duplicates > 0) {
    row.notes.push(`${result.duplicates} duplicate deliveries`);
  }
  return row;
}

/**
 * Records when the measured window ran on the monotonic clock (`window_start_us`, `window_end_us` facts), from
 * when wsload was launched and the phases it reports, so a CPU profile can be cut to that window.
 */
export function recordWindow(row: Row, launchedUs: number, result: WsloadResult, settleS: number): void {
  const start = launchedUs + (result.connect_phase_s + settleS) * 1e6;
  row.facts['window_start_us'] = Math.round(start);
  row.facts['window_end_us'] = Math.round(start + result.window_s * 1e6);
}

/**
 * Records the server's user and system (kernel) CPU seconds over a measurement (`server_user_s`,
 * `server_system_s` facts): the kernel's share is the socket work a JS profile cannot show.
 */
export function recordCpuSplit(row: Row, before: ProcSample | undefined, after: ProcSample | undefined): void {
  if (before !== undefined && after !== undefined) {
    row.facts['server_user_s'] = Number((after.userS - before.userS).toFixed(2));
    row.facts['server_system_s'] = Number((after.systemS - before.systemS).toFixed(2));
  }
}
