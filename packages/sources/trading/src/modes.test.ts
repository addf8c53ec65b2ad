import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createPromMetrics } from '@gw/metrics';
import { ModeTracker } from './account.js';

describe('ModeTracker', () => {
  it('keeps the per-mode gauge in line as accounts switch modes, repeat a mode and go', async () => {
    const registry = new Registry();
    const modes = new ModeTracker(createPromMetrics({ registry }));
    const gauge = async (): Promise<string> =>
      (await registry.metrics()).split('\n').filter((line) => line.startsWith('gateway_source_mode_accounts{')).join('\n');
    modes.set('1', 'poll');
    modes.set('2', 'stream');
    modes.set('2', 'stream');
    modes.set('3', 'stream');
    expect(await gauge()).toBe('gateway_source_mode_accounts{source="trading",mode="stream"} 2\ngateway_source_mode_accounts{source="trading",mode="poll"} 1');
    modes.set('3', 'poll');
    modes.set('1', 'stream');
    modes.set('2', undefined);
    modes.set('4', undefined);
    expect(await gauge()).toBe('gateway_source_mode_accounts{source="trading",mode="stream"} 1\ngateway_source_mode_accounts{source="trading",mode="poll"} 1');
    expect(modes.modeOf('1')).toBe('stream');
    expect(modes.modeOf('2')).toBeUndefined();
  });
});
