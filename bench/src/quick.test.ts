import { describe, expect, it } from 'vitest';
import { loadName } from './context.js';
import type { BenchContext } from './context.js';
import { renderReport } from './report.js';
import type { Row } from './row.js';
import { QUICK_TARGETS_NOTE, evaluateTargets } from './targets.js';

function context(quick: boolean): BenchContext {
  return { root: '/', tmpDir: '/tmp', wsload: 'wsload', quick, cpuProfileDir: undefined, redis: () => Promise.resolve('none'), log: () => undefined };
}

describe('--quick', () => {
  it('names each row after the load it really ran', () => {
    expect(loadName(context(false), 'fanout', 5_000, '-100')).toBe('fanout-5k-100');
    expect(loadName(context(true), 'fanout', 5_000, '-100')).toBe('fanout-500-100');
    expect(loadName(context(false), 'idle-ws', 10_000)).toBe('idle-ws-10k');
    expect(loadName(context(true), 'idle-ws', 10_000)).toBe('idle-ws-1k');
    expect(loadName(context(true), 'trading', 100)).toBe('trading-50');
  });

  it('writes no target verdict in a quick report, and the full run still judges its own rows', () => {
    const rows: Row[] = [
      { scenario: 'fanout-1k-100', server: 'gateway', shape: '1k subs × 100/s', conns: 1000, connsFailed: 0, notes: [], facts: {}, command: [], latency: { p50Ms: 1, p99Ms: 40, maxMs: 80, source: 'client' } },
    ];
    expect(evaluateTargets(rows).find((c) => c.target === 'signals 1k × 100/s: p99 ≤ 20 ms')?.met).toBe(false);
    const report = renderReport({
      outcome: { rows, problems: [], profiles: [], startedAt: new Date(0), elapsedS: 1 },
      targets: [],
      machine: { cpu: 'cpu', cores: 2, memoryGiB: 24, kernel: 'Linux', node: 'v20', uws: 'uws', gcc: 'gcc', loadAverage: 0 },
      quick: true,
      argv: ['--quick', '--report'],
      previous: undefined,
    });
    expect(report).toContain(QUICK_TARGETS_NOTE);
    expect(report).not.toContain('missed');
    expect(report).not.toContain('| met |');
  });
});
