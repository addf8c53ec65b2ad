import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { availableParallelism, loadavg, release, totalmem } from 'node:os';
import { promisify } from 'node:util';
import { describeUwsBuild } from '@gw/uws';

/** The machine a run was measured on, for the report (numbers are only comparable on the same machine). */
export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  node: string;
  uws: string;
  gcc: string;
  /** 1-minute load average when the run started: anything well above 0 means other work shared the cores. */
  loadAverage: number;
}

export async function describeMachine(): Promise<Machine> {
  const cpuinfo = await readFile('/proc/cpuinfo', 'utf8').catch(() => '');
  const gcc = await promisify(execFile)('gcc', ['--version'])
    .then(({ stdout }) => stdout.split('\n')[0] ?? 'gcc')
    .catch(() => 'gcc (unknown)');
  const uws = describeUwsBuild();
  return {
    cpu: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? 'unknown CPU',
    cores: availableParallelism(),
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: `Linux ${release()}`,
    node: process.version,
    uws: `${uws.packageName}@${uws.packageVersion} (${uws.native ? 'native' : 'JS fallback'})`,
    gcc,
    loadAverage: loadavg()[0] ?? 0,
  };
}
