import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/**
 * The cores this process may use, for `LOOPS=auto`: the CPUs it may run on (affinity, as
 * `os.availableParallelism()` reports them), capped by a CPU quota of its cgroup when one is set (a container
 * limited to 2 CPUs on a 16-core host runs 2 loops, not 16), at least 1.
 */
export function usableCores(readFile: (path: string) => string | undefined = readOptional): number {
  const quota = cgroupCpuQuota(readFile);
  const cpus = availableParallelism();
  return Math.max(1, quota === undefined ? cpus : Math.min(cpus, Math.ceil(quota)));
}

/**
 * The CPU quota of this process's cgroup in CPUs (e.g. 1.5), or undefined when none is set: cgroup v2's
 * `cpu.max` ("<quota> <period>" or "max <period>"), else cgroup v1's `cpu.cfs_quota_us` / `cpu.cfs_period_us`
 * (-1: no quota).
 */
export function cgroupCpuQuota(readFile: (path: string) => string | undefined): number | undefined {
  const v2 = readFile('/sys/fs/cgroup/cpu.max')?.trim().split(/\s+/);
  if (v2 !== undefined) {
    return cpus(v2[0], v2[1]);
  }
  return cpus(readFile('/sys/fs/cgroup/cpu/cpu.cfs_quota_us')?.trim(), readFile('/sys/fs/cgroup/cpu/cpu.cfs_period_us')?.trim());
}

function cpus(quota: string | undefined, period: string | undefined): number | undefined {
  const q = Number(quota);
  const p = Number(period);
  return Number.isFinite(q) && q > 0 && Number.isFinite(p) && p > 0 ? q / p : undefined;
}

function readOptional(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
