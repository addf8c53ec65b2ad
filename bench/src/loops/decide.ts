/**
 * Threads or processes? Runs the minimal uWS broadcast server on one loop, on N worker threads and on N
 * processes (loop-reference.ts), under the same wsload fan-out, and prints deliveries/s, delivery ratio,
 * latency and the server's CPU per million deliveries (summed over every process of the server).
 *
 * `node --import tsx bench/src/loops/decide.ts [--loops 2] [--quick]` (about 2 minutes; run alone on the machine).
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { sampleProc } from '../proc.js';
import { answers, freePort, startServerProcess } from '../server-process.js';
import { buildWsload, runWsload } from '../wsload.js';

const { values } = parseArgs({ options: { loops: { type: 'string', default: '2' }, quick: { type: 'boolean', default: false } } });
const loops = Number(values.loops);
const repo = fileURLToPath(new URL('../../..', import.meta.url));

/** The pid and every descendant's (cluster workers are children of the primary). */
async function processTree(pid: number): Promise<number[]> {
  const children = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
  const nested = await Promise.all(children.trim().split(/\s+/).filter(Boolean).map((child) => processTree(Number(child))));
  return [pid, ...nested.flat()];
}

function cpuOf(pids: readonly number[]): number {
  return pids.reduce((sum, pid) => {
    const sample = sampleProc(pid);
    return sum + (sample === undefined ? 0 : sample.userS + sample.systemS);
  }, 0);
}

const variants = [
  { name: 'one loop', script: 'bench/src/reference-server.ts', env: {} },
  { name: `${loops} threads`, script: 'bench/src/loops/loop-reference.ts', env: { LOOPS: String(loops), LOOP_MODE: 'threads' } },
  { name: `${loops} processes`, script: 'bench/src/loops/loop-reference.ts', env: { LOOPS: String(loops), LOOP_MODE: 'processes' } },
];
const shapes = values.quick ? [{ subscribers: 1_000, rate: 100 }] : [{ subscribers: 5_000, rate: 100 }, { subscribers: 10_000, rate: 10 }, { subscribers: 1_000, rate: 1_000 }];

const wsload = await buildWsload(await mkdtemp(join(tmpdir(), 'loops-decide-')));
const lines: string[] = ['| server | load | deliveries/s | delivered/expected | p50 / p99 / max ms | server CPU s per M deliveries | server CPU cores |', '|---|---|---|---|---|---|---|'];
for (const variant of variants) {
  const port = await freePort();
  const server = await startServerProcess({
    label: variant.name,
    script: variant.script,
    cwd: repo,
    env: { PORT: String(port), ...variant.env },
    isReady: () => answers(`http://127.0.0.1:${port}/x`, 404),
  });
  try {
    for (const shape of shapes) {
      // Every loop listening: a few requests land on each (SO_REUSEPORT spreads them).
      const pids = await processTree(server.pid);
      const cpuBefore = cpuOf(pids);
      const startedAt = performance.now();
      const result = await runWsload(wsload, [
        '-u', `ws://127.0.0.1:${port}/ws`,
        '--pub-http', `http://127.0.0.1:${port}/pub`, '--payload', 'SEQ{seq}',
        '-c', String(shape.subscribers), '-r', String(shape.rate), '-d', values.quick ? '3' : '10',
        '--settle', '2', '--drain', '4', '--server-pid', String(server.pid),
      ], 120);
      const cpu = cpuOf(pids) - cpuBefore;
      const wallS = (performance.now() - startedAt) / 1000;
      const delivered = result.received_deliveries;
      const expected = result.expected_deliveries;
      const lat = result.latency_us as unknown as Record<string, number>;
      lines.push(
        `| ${variant.name} | ${shape.subscribers} × ${shape.rate}/s | ${Math.round(result.deliveries_per_s).toLocaleString('en')} | ${delivered}/${expected} | ${((lat['p50'] ?? 0) / 1000).toFixed(1)} / ${((lat['p99'] ?? 0) / 1000).toFixed(1)} / ${((lat['max'] ?? 0) / 1000).toFixed(1)} | ${delivered > 0 ? ((cpu / delivered) * 1e6).toFixed(2) : '-'} | ${(cpu / wallS).toFixed(2)} (${pids.length} pid) |`,
      );
      console.log(lines.at(-1));
    }
  } finally {
    await server.stop();
  }
}
console.log(lines.join('\n'));
