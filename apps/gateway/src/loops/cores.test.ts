import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { cgroupCpuQuota, usableCores } from './cores.js';

const files = (entries: Record<string, string>) => (path: string): string | undefined => entries[path];

describe('LOOPS=auto: the cores a process may use', () => {
  it('reads a cgroup v2 quota, and none when it says max', () => {
    expect(cgroupCpuQuota(files({ '/sys/fs/cgroup/cpu.max': '150000 100000\n' }))).toBe(1.5);
    expect(cgroupCpuQuota(files({ '/sys/fs/cgroup/cpu.max': 'max 100000\n' }))).toBeUndefined();
  });

  it('reads a cgroup v1 quota, and none when it is -1 or the files are missing', () => {
    const v1 = (quota: string): Record<string, string> => ({ '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': quota, '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000\n' });
    expect(cgroupCpuQuota(files(v1('200000\n')))).toBe(2);
    expect(cgroupCpuQuota(files(v1('-1\n')))).toBeUndefined();
    expect(cgroupCpuQuota(files({}))).toBeUndefined();
  });

  it('caps the CPUs by the quota, rounding a fraction up, and never goes below 1', () => {
    expect(usableCores(files({}))).toBe(availableParallelism());
    expect(usableCores(files({ '/sys/fs/cgroup/cpu.max': '50000 100000' }))).toBe(1);
    expect(usableCores(files({ '/sys/fs/cgroup/cpu.max': `${String(availableParallelism() * 100000 + 1)} 100000` }))).toBe(availableParallelism());
    expect(usableCores(files({ '/sys/fs/cgroup/cpu.max': '1 100000' }))).toBe(1);
  });

  it('reads this machine without failing', () => {
    expect(usableCores()).toBeGreaterThanOrEqual(1);
  });
});
