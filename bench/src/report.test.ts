import { describe, expect, it } from 'vitest';
import { parseBenchArgs } from './cli.js';
import { BENCH_ADMIN_TOKEN } from './context.js';
import { ANALYSIS_END, ANALYSIS_START, displayCommand, keptAnalysis, renderReport } from './report.js';
import type { Row } from './row.js';
import { selectScenarios } from './scenarios/index.js';
import { renderTable } from './table.js';
import { evaluateTargets } from './targets.js';

function row(partial: Partial<Row> & Pick<Row, 'scenario' | 'server'>): Row {
  return { shape: 'x', conns: 1, connsFailed: 0, notes: [], facts: {}, command: [], ...partial };
}

const client = (p99Ms: number) => ({ p50Ms: 1, p99Ms, maxMs: p99Ms * 2, source: 'client' as const });

describe('command line', () => {
  it('reads scenarios as comma lists or repeated, and --report implies the profiling passes', () => {
    expect(parseBenchArgs(['--scenario', 'signals,stock', '--scenario', 'idle']).scenarios).toEqual(['signals', 'stock', 'idle']);
    expect(parseBenchArgs(['--report']).profile).toBe(true);
    expect(parseBenchArgs(['--report', '--scenario', 'stock']).profile).toBe(false);
    expect(parseBenchArgs([]).scenarios).toBeUndefined();
  });

  it('refuses unknown options and unknown scenario names, naming the known ones', () => {
    expect(() => parseBenchArgs(['--fast'])).toThrow(/fast/);
    expect(() => selectScenarios(['signals', 'nope'])).toThrow(/unknown scenario nope; known: reference, signals/);
  });
});

describe('targets', () => {
  it('compares the gateway with the reference row of the same run', () => {
    const rows = [
      row({ scenario: 'fanout-5k-100', server: 'uWS reference', deliveriesPerS: 500_000, latency: client(100) }),
      row({ scenario: 'fanout-5k-100', server: 'gateway', deliveriesPerS: 480_000, ratio: 1, latency: client(160) }),
      row({ scenario: 'fanout-1k-100', server: 'gateway', latency: client(12) }),
      row({ scenario: 'idle-ws-10k', server: 'gateway', rssPerConnKb: 3.4 }),
    ];
    const byTarget = new Map(evaluateTargets(rows).map((c) => [c.target, c.met]));
    expect(byTarget.get("signals 5k × 100/s: ≥ 95% of the minimal uWS server's deliveries/s")).toBe(true);
    expect(byTarget.get('signals 5k × 100/s: delivery ratio 1.0')).toBe(true);
    expect(byTarget.get("signals 5k × 100/s: p99 ≤ 1.5 × the uWS server's p99")).toBe(false);
    expect(byTarget.get('signals 1k × 100/s: p99 ≤ 20 ms')).toBe(true);
    expect(byTarget.get('idle memory: ≤ 3 KB per raw WebSocket connection')).toBe(false);
    expect(byTarget.get('trading: p99 ≤ 50 ms')).toBeUndefined();
  });

  it('judges the CPU per delivery of signals and trading, with the reference figures beside', () => {
    const byTarget = new Map(
      evaluateTargets([
        row({ scenario: 'fanout-5k-100', server: 'uWS reference', serverCpuPerMillion: 2.0 }),
        row({ scenario: 'fanout-5k-100', server: 'gateway', serverCpuPerMillion: 2.2 }),
        row({ scenario: 'trading-5k', server: 'uWS reference', serverCpuPerMillion: 11.5 }),
        row({ scenario: 'trading-5k', server: 'gateway', serverCpuPerMillion: 9.5 }),
      ]).map((c) => [c.target, c]),
    );
    expect(byTarget.get("signals 5k × 100/s: ≤ 1.05 × the uWS server's CPU per delivery")).toMatchObject({ met: false, measured: expect.stringContaining('1.10×') as unknown });
    expect(byTarget.get('trading 5k users: ≤ 10 CPU s per million deliveries')).toMatchObject({
      met: true,
      measured: '9.5 CPU s per million; the minimal uWS server writing template pushes: 11.5',
    });
  });

  it('judges the mixed load per event-loop count, the reference beside the gateway', () => {
    const mixed = (tag: string, p99Ms: number, perMinuteMin: number, lost: number): Row[] => [
      row({ scenario: `mixed-17k-total${tag}`, server: 'gateway', serverCpuCores: 1.2, facts: { conns_requested: 17_000, conns_still_open: 17_000 } }),
      row({ scenario: `mixed-signals-10k${tag}`, server: 'gateway', latency: client(p99Ms), facts: { lost } }),
      row({ scenario: `mixed-trading-5k${tag}`, server: 'gateway', facts: { pushes_received_total: 10, pushes_sent_by_gateway: 10 } }),
      row({ scenario: `mixed-stock-2k${tag}`, server: 'gateway', facts: { updates_per_conn_per_min_min: perMinuteMin } }),
      row({ scenario: `mixed-signals-10k${tag}`, server: 'uWS reference', latency: client(500) }),
    ];
    const checks = new Map(evaluateTargets([...mixed('', 240, 59, 0), ...mixed('-2loops', 600, 42, 3)]).map((c) => [c.target, c]));
    expect(checks.get('mixed, 1 loop: signal p99 ≤ 250 ms client-side')).toMatchObject({ met: true, measured: '240 ms; the minimal uWS server under the same clients: 500 ms' });
    expect(checks.get('mixed, 1 loop: every connection open, nothing lost')?.met).toBe(true);
    expect(checks.get('mixed, 1 loop: stock ≥ 59 of 60 updates per connection per minute')?.met).toBe(true);
    expect(checks.get('mixed, 1 loop: gateway CPU < 1.8 cores')?.met).toBe(true);
    expect(checks.get('mixed, 2 loops: signal p99 ≤ 250 ms client-side')?.met).toBe(false);
    expect(checks.get('mixed, 2 loops: every connection open, nothing lost')?.met).toBe(false);
    expect(checks.get('mixed, 2 loops: stock ≥ 59 of 60 updates per connection per minute')?.met).toBe(false);
  });

  it('judges growth on the heap after a full GC when the run read it, on the RSS slope otherwise', () => {
    const rssGrowing = { rss_slope_kb_per_s: 6_000, rss_last_mb: 400 };
    const judged = (facts: Record<string, number>) =>
      evaluateTargets([row({ scenario: 'trading-5k', server: 'gateway', facts })]).find((c) => c.target.startsWith('nothing grows'));
    expect(judged({ ...rssGrowing, heap_after_gc_start_mb: 228.7, heap_after_gc_end_mb: 229.0 })).toMatchObject({
      target: 'nothing grows without bound: heap after a full GC flat (trading, 60 s)',
      met: true,
    });
    expect(judged({ ...rssGrowing, heap_after_gc_start_mb: 228.7, heap_after_gc_end_mb: 240 })?.met).toBe(false);
    expect(judged(rssGrowing)).toMatchObject({ target: 'nothing grows without bound: RSS flat after warm-up (trading, 60 s)', met: false });
    expect(judged({ rss_slope_kb_per_s: 10, rss_last_mb: 400 })?.met).toBe(true);
  });
});

describe('report', () => {
  it('masks scratch paths, ports and the admin token in commands, and quotes what the shell would split', () => {
    const shown = displayCommand([
      '-u', 'ws://127.0.0.1:41234/ws/signals',
      '--tokens', '/tmp/gw-bench-AbC123/tokens-5000.txt',
      '--pub-header', `Authorization: Bearer ${BENCH_ADMIN_TOKEN}`,
      '--server-pid', '4242',
    ]);
    expect(shown).toBe(
      "wsload -u ws://127.0.0.1:$PORT/ws/signals --tokens $TMP/tokens-5000.txt --pub-header 'Authorization: Bearer $ADMIN_TOKEN' --server-pid $SERVER_PID",
    );
  });

  it('keeps the written analysis of the previous report when it regenerates', () => {
    const previous = `# old\n\n${ANALYSIS_START}\nwhat costs what\n${ANALYSIS_END}\n`;
    expect(keptAnalysis(previous)).toBe(`${ANALYSIS_START}\nwhat costs what\n${ANALYSIS_END}`);
    expect(keptAnalysis(undefined)).toContain(ANALYSIS_START);
    const rows = [row({ scenario: 'fanout-1k-100', server: 'gateway', deliveriesPerS: 99_500, ratio: 1, latency: client(12) })];
    const report = renderReport({
      outcome: { rows, problems: [], profiles: [], startedAt: new Date(0), elapsedS: 1 },
      targets: evaluateTargets(rows),
      machine: { cpu: 'cpu', cores: 2, memoryGiB: 24, kernel: 'Linux', node: 'v20', uws: 'uws', gcc: 'gcc', loadAverage: 0 },
      quick: false,
      argv: ['--report'],
      previous,
    });
    expect(report).toContain('what costs what');
    expect(report).toContain('| fanout-1k-100 | gateway | x | 1 | 100k | 1.000 | 1.0 / 12 / 24 | client |');
    expect(renderTable(rows).split('\n')).toHaveLength(3);
  });
});
