import { describe, expect, it } from 'vitest';
import { categoryOf, summarize } from './profile.js';
import type { CpuProfile } from './profile.js';

const ROOT = '/repo';

/**
 * A small profile shaped like V8's: (root) → flush (adapter-stock) → send (native), plus idle and GC.
 * Samples every 1 ms from t = 1000 µs.
 */
function profile(): CpuProfile {
  const frame = (functionName: string, url: string) => ({ functionName, url, lineNumber: 0, columnNumber: 10 });
  return {
    nodes: [
      { id: 1, callFrame: frame('(root)', ''), children: [2, 4, 5] },
      { id: 2, callFrame: frame('flush', 'file:///repo/packages/adapter-stock/src/hub.ts'), children: [3] },
      { id: 3, callFrame: frame('send', ''), children: [] },
      { id: 4, callFrame: frame('(idle)', ''), children: [] },
      { id: 5, callFrame: frame('(garbage collector)', ''), children: [] },
    ],
    startTime: 1000,
    endTime: 11_000,
    // flush self 2 ms, send 4 ms, idle 3 ms, GC 1 ms
    samples: [2, 2, 3, 3, 3, 3, 4, 4, 4, 5],
    timeDeltas: [1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000],
  };
}

describe('CPU profile summary', () => {
  it('splits self time by function and category, and gives workspace functions their total time', () => {
    const summary = summarize([profile()], ROOT);
    expect(summary.totalS).toBeCloseTo(0.01);
    expect(summary.busyS).toBeCloseTo(0.007);
    expect(summary.top.map((e) => [e.name, e.selfS])).toEqual([
      ['send', 0.004],
      ['flush', 0.002],
      ['(garbage collector)', 0.001],
    ]);
    expect(summary.top[1]?.location).toBe('packages/adapter-stock/src/hub.ts');
    expect(summary.byCategory.find((c) => c.category === '@gw/adapter-stock')?.share).toBeCloseTo(2 / 7);
    expect(summary.topInclusive).toEqual([
      expect.objectContaining({ name: 'flush', selfS: 0.006, category: '@gw/adapter-stock' }),
    ]);
  });

  it('counts only the samples inside the window when one is given', () => {
    // samples land at 2000, 3000, ... 11000 µs: the window [5500, 8500] holds 6000, 7000, 8000 (send, send, idle)
    const summary = summarize([profile()], ROOT, { startUs: 5_500, endUs: 8_500 });
    expect(summary.totalS).toBeCloseTo(0.003);
    expect(summary.busyS).toBeCloseTo(0.002);
    expect(summary.top.map((e) => e.name)).toEqual(['send']);
  });

  it('names where code lives: workspace packages, sources, apps, libraries, Node, native', () => {
    expect(categoryOf('file:///repo/packages/bus-memory/src/hub.ts', 'f', ROOT)).toBe('@gw/bus-memory');
    expect(categoryOf('file:///repo/packages/sources/trading/src/paper.ts', 'f', ROOT)).toBe('@gw/source-trading');
    expect(categoryOf('file:///repo/apps/gateway/src/gateway.ts', 'f', ROOT)).toBe('apps/gateway');
    expect(categoryOf('file:///repo/node_modules/.pnpm/zod@4.6.7/node_modules/zod/v4/core/schemas.js', 'f', ROOT)).toBe('zod');
    expect(categoryOf('file:///repo/node_modules/.pnpm/@socket.io+x@1/node_modules/@socket.io/component-emitter/index.js', 'f', ROOT)).toBe('@socket.io/component-emitter');
    expect(categoryOf('node:internal/timers', 'listOnTimeout', ROOT)).toBe('node internals');
    expect(categoryOf('', 'publish', ROOT)).toBe('native (uWS, V8 builtins)');
    expect(categoryOf('', '(program)', ROOT)).toBe('(program)');
  });
});
