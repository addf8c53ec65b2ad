import { describe, expect, it } from 'vitest';
import { processOf } from './loop-env.js';

describe('processOf (the `process` label of per-process metrics)', () => {
  it('names a member’s process within its node, whatever the generation of a restarted child', () => {
    expect(processOf('gw', 'gw~0')).toBe('loop-0');
    expect(processOf('gw', 'gw~1.2')).toBe('loop-1');
    expect(processOf('gw', 'gw~sources')).toBe('sources');
    expect(processOf('gw', 'gw~sources.1')).toBe('sources');
    expect(processOf('gw', 'gw')).toBe('supervisor');
  });
});
