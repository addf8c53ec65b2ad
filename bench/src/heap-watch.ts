import { access } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { heapAfterGc } from './inspector.js';
import type { HeapAfterGc } from './inspector.js';

/** One heap-after-GC reading, `atS` seconds after the load's connect phase ended. */
export interface HeapSample extends HeapAfterGc {
  atS: number;
}

/** Resolves once `path` exists (wsload's `--ready-file`), or rejects after `timeoutMs`. */
export async function waitForFile(path: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await access(path).then(() => true, () => false)) {
      return;
    }
    if (Date.now() > deadline || signal?.aborted === true) {
      throw new Error(`${path} did not appear within ${timeoutMs} ms`);
    }
    await sleep(200);
  }
}

/**
 * Reads the gateway's heap after a forced full GC (`heapAfterGc`) at each of `offsetsS` seconds after wsload's
 * ready file appeared (its connect phase ended). Each reading is one full GC in the gateway (a fraction of a
 * second of its main thread), so a schedule of a few readings barely moves the CPU figures. Stops early when
 * `signal` aborts (the run ended) and returns what it has.
 */
export async function watchHeap(options: {
  inspectorPort: number;
  readyFile: string;
  offsetsS: readonly number[];
  connectTimeoutMs: number;
  signal: AbortSignal;
  log?: (message: string) => void;
}): Promise<HeapSample[]> {
  await waitForFile(options.readyFile, options.connectTimeoutMs, options.signal);
  const readyAt = performance.now();
  const samples: HeapSample[] = [];
  for (const offsetS of options.offsetsS) {
    const wait = readyAt + offsetS * 1000 - performance.now();
    if (wait > 0) {
      await sleep(wait, undefined, { signal: options.signal }).catch(() => undefined);
    }
    if (options.signal.aborted) {
      break;
    }
    const heap = await heapAfterGc(options.inspectorPort);
    const sample = { atS: Number(((performance.now() - readyAt) / 1000).toFixed(1)), ...heap };
    samples.push(sample);
    options.log?.(`heap after GC at +${sample.atS} s: ${mb(sample.heapUsed)} MB used (RSS ${mb(sample.rss)} MB)`);
  }
  return samples;
}

/** Bytes as MB with one decimal. */
export function mb(bytes: number): number {
  return Number((bytes / 1024 / 1024).toFixed(1));
}
