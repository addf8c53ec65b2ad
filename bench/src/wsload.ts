import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { z } from 'zod';

/** The vendored load generator's source (see its header for its origin and the bench's extensions). */
export const WSLOAD_SOURCE = fileURLToPath(new URL('../wsload/wsload.c', import.meta.url));

/** Compiles wsload into `dir` (`gcc -O2 -pthread`) and checks it with its self-test. Returns the binary's path. */
export async function buildWsload(dir: string): Promise<string> {
  const binary = join(dir, 'wsload');
  const run = promisify(execFile);
  try {
    await run('gcc', ['-O2', '-Wall', '-pthread', '-o', binary, WSLOAD_SOURCE], { timeout: 120_000 });
  } catch (error) {
    throw new Error(`cannot compile ${WSLOAD_SOURCE} (is gcc installed? apt-get install gcc): ${(error as Error).message}`);
  }
  const { stdout } = await run(binary, ['--selftest'], { timeout: 30_000 });
  if (!stdout.startsWith('selftest ok')) {
    throw new Error(`wsload self-test failed: ${stdout.trim()}`);
  }
  return binary;
}

const histogram = z.object({
  n: z.number(),
  p50: z.number(),
  p90: z.number(),
  p99: z.number(),
  max: z.number(),
});

/** The fields of wsload's one JSON line that the bench reads (it prints more; unknown fields are ignored). */
export const wsloadResultSchema = z.object({
  label: z.string(),
  mode: z.string(),
  conns_requested: z.number(),
  conns_open: z.number(),
  conns_failed: z.number(),
  conns_closed_after_open: z.number(),
  fail_reasons: z.record(z.string(), z.number()),
  close_reasons: z.record(z.string(), z.number()),
  connect_phase_s: z.number(),
  connect_us: histogram,
  publish_count: z.number(),
  pub_errors: z.number(),
  pub_achieved_rate: z.number(),
  delivery_ratio: z.number(),
  delivery_ratio_offered: z.number(),
  expected_deliveries: z.number(),
  received_deliveries: z.number(),
  duplicates: z.number(),
  out_of_order: z.number(),
  deliveries_per_s: z.number(),
  offered_deliveries_per_s: z.number(),
  latency_us: histogram,
  server_cpu_seconds: z.number(),
  server_cpu_s_per_million: z.number(),
  server_rss_mb: z.number(),
  server_rss_mb_before: z.number(),
  server_rss_mb_idle: z.number(),
  rss_per_conn_kb: z.number(),
  window_s: z.number(),
  tool_saturated: z.boolean(),
  tool_cpu_seconds: z.number(),
  tool_cpu_util_publish: z.number(),
  other_cpu_cores: z.number(),
  passive: z
    .object({
      measure_s: z.number(),
      data_frames_total: z.number(),
      data_frames_window: z.number(),
      window_deliveries_per_s: z.number(),
      conns_measured: z.number(),
      per_conn_min: z.number(),
      // The median connection's count in the window (bench extension).
      per_conn_p50: z.number(),
      per_conn_max: z.number(),
      per_conn_mean: z.number(),
      conns_without_data: z.number(),
      items_total: z.number(),
      dup_items: z.number(),
      end_sent: z.number(),
      end_acked: z.number(),
      end_lost: z.number(),
      age_us: histogram,
      lateness_us: histogram,
      burst_us: histogram,
    })
    .optional(),
  duration_s: z.number(),
  aborted: z.boolean(),
  abort_reason: z.string(),
});

export type WsloadResult = z.infer<typeof wsloadResultSchema>;

/** A run's result and the arguments it was run with (for the report's "exact commands"). */
export type WsloadRun = WsloadResult & { args: readonly string[] };

/** Parses wsload's stdout: the last line that is a JSON object. Throws with the text when there is none. */
export function parseWsloadOutput(stdout: string): WsloadResult {
  const line = stdout
    .split('\n')
    .map((l) => l.trim())
    .reverse()
    .find((l) => l.startsWith('{'));
  if (line === undefined) {
    throw new Error(`wsload printed no result line: ${stdout.slice(-500)}`);
  }
  const parsed = wsloadResultSchema.safeParse(JSON.parse(line));
  if (!parsed.success) {
    throw new Error(`wsload result not understood: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return parsed.data;
}

/**
 * Runs wsload with `args` (its own `--max-runtime` bounds it; the bench kills it 15 s after that as a last
 * resort) and returns its parsed result with the arguments used. An aborted run (exit 3) still has a result line and is returned.
 */
export async function runWsload(binary: string, args: readonly string[], maxRuntimeS: number): Promise<WsloadRun> {
  const fullArgs = [...args, '--max-runtime', String(maxRuntimeS)];
  const child = spawn(binary, fullArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-4_000);
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), (maxRuntimeS + 15) * 1000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => { resolve(c); }));
  clearTimeout(killer);
  if (code !== 0 && code !== 3) {
    throw new Error(`wsload exited with ${code ?? 'a signal'}: ${stderr.trim().slice(-1_000)}`);
  }
  return { ...parseWsloadOutput(stdout), args: fullArgs };
}
