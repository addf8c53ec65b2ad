import { readFileSync } from 'node:fs';
import { sampleProc } from './proc.js';
import type { ProcSample } from './proc.js';

/** `pid` and its descendants (a gateway with `LOOPS` > 1 is a supervisor and its loop processes). */
export function processTree(pid: number): number[] {
  let children: string;
  try {
    children = readFileSync(`/proc/${String(pid)}/task/${String(pid)}/children`, 'utf8');
  } catch {
    return [pid];
  }
  const nested = children.trim().split(/\s+/).filter(Boolean).flatMap((child) => processTree(Number(child)));
  return [pid, ...nested];
}

/**
 * CPU and RSS of a process and all its descendants, summed (a process that exited between the listing and
 * the read counts as nothing). Undefined when `pid` itself is gone.
 */
export function sampleProcTree(pid: number): ProcSample | undefined {
  const root = sampleProc(pid);
  if (root === undefined) {
    return undefined;
  }
  const total = { ...root };
  for (const child of processTree(pid).slice(1)) {
    const sample = sampleProc(child);
    if (sample !== undefined) {
      total.userS += sample.userS;
      total.systemS += sample.systemS;
      total.rssKb += sample.rssKb;
    }
  }
  return total;
}
