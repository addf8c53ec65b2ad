import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { metricsDoc } from './metrics-doc.js';

describe('docs/metrics.md', () => {
  it('lists every metric of the registry (regenerate with `pnpm --filter @gw/metrics -s metrics-doc > docs/metrics.md`)', async () => {
    const file = readFileSync(new URL('../../../docs/metrics.md', import.meta.url), 'utf8');
    expect(file).toBe(await metricsDoc());
  });

  it('names each metric once, with a type, and the standard Node metrics unprefixed', async () => {
    const doc = await metricsDoc();
    const names = [...doc.matchAll(/^\| `([a-z0-9_]+)` \| (counter|gauge|histogram|summary) \|/gm)].map((m) => m[1]);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual(expect.arrayContaining(['gateway_connections', 'gateway_delivery_latency_seconds', 'process_cpu_seconds_total', 'nodejs_eventloop_lag_p99_seconds']));
    expect(names.filter((name) => name?.startsWith('gateway_nodejs') === true || name?.startsWith('gateway_process') === true)).toEqual([]);
  });
});
