import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';

/** The parts of a V8 `.cpuprofile` (what `node --cpu-prof` writes) that the summary reads. */
const cpuProfileSchema = z.object({
  nodes: z.array(
    z.object({
      id: z.number(),
      children: z.array(z.number()).optional(),
      callFrame: z.object({ functionName: z.string(), url: z.string(), lineNumber: z.number(), columnNumber: z.number() }),
    }),
  ),
  startTime: z.number(),
  endTime: z.number(),
  samples: z.array(z.number()),
  timeDeltas: z.array(z.number()),
});

export type CpuProfile = z.infer<typeof cpuProfileSchema>;

export interface ProfileEntry {
  /** Function name (or V8's pseudo-frames: `(garbage collector)`, `(program)`). */
  name: string;
  /** `packages/adapter-stock/src/hub.ts:412`, a library name, or empty for native code. */
  location: string;
  /** Package, library or kind of code the time belongs to. */
  category: string;
  selfS: number;
  /** Share of the busy (non-idle) time, 0..1. */
  share: number;
}

export interface ProfileSummary {
  /** Profiled wall time. */
  totalS: number;
  /** Time the main thread was busy (everything but `(idle)`). */
  busyS: number;
  byCategory: { category: string; selfS: number; share: number }[];
  /** By self time: where the CPU actually went. */
  top: ProfileEntry[];
  /** The workspace's own functions by total time (self + everything they called): what each step costs. */
  topInclusive: ProfileEntry[];
}

/** Where a frame's code lives: a workspace package, a library, Node itself, or a V8 pseudo-frame. */
export function categoryOf(url: string, functionName: string, root: string): string {
  if (url === '') {
    return functionName.startsWith('(') ? functionName : 'native (uWS, V8 builtins)';
  }
  const path = url.replace(/^file:\/\//, '');
  const library = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/.exec(path);
  if (library?.[1] !== undefined) {
    return library[1];
  }
  if (path.startsWith('node:') || !path.startsWith('/')) {
    return 'node internals';
  }
  const inRepo = path.startsWith(root) ? path.slice(root.length).replace(/^\//, '') : path;
  const workspace = /^(packages\/sources|packages|apps)\/([^/]+)\//.exec(inRepo);
  if (workspace?.[2] !== undefined) {
    return workspace[1] === 'apps' ? `apps/${workspace[2]}` : `@gw/${workspace[1] === 'packages/sources' ? 'source-' : ''}${workspace[2]}`;
  }
  return 'other';
}

/**
 * `file:line` of a frame. The workspace's TypeScript runs through tsx, whose esbuild output is one line per
 * module (whitespace minified): there the line says nothing, so the file is shown alone, with the column for
 * anonymous functions (to tell them apart).
 */
function locationOf(url: string, line: number, column: number, anonymous: boolean, root: string): string {
  if (url === '') {
    return '';
  }
  const path = url.replace(/^file:\/\//, '');
  const library = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?(.*)$/.exec(path);
  if (library?.[1] !== undefined) {
    return `${library[1]}:${line + 1}`;
  }
  const shown = path.startsWith(root) ? path.slice(root.length).replace(/^\//, '') : path;
  if (line === 0 && shown.endsWith('.ts')) {
    return anonymous ? `${shown} (col ${column + 1})` : shown;
  }
  return `${shown}:${line + 1}`;
}

/**
 * A span of the profiled process's life in V8's clock (CLOCK_MONOTONIC microseconds on Linux, the clock of
 * `process.hrtime`), so that start-up and connection set-up can be left out of the summary.
 */
export interface ProfileWindow {
  startUs: number;
  endUs: number;
}

/** Now on V8's profile clock (see {@link ProfileWindow}). */
export function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/**
 * Self time per function and per category of one or more profiles (of the same run), busiest first; only the
 * samples inside `window` when one is given.
 */
export function summarize(profiles: readonly CpuProfile[], root: string, window?: ProfileWindow, topN = 20): ProfileSummary {
  const byFunction = new Map<string, { name: string; location: string; category: string; selfUs: number }>();
  const inclusive = new Map<string, { name: string; location: string; category: string; selfUs: number }>();
  let totalUs = 0;
  let idleUs = 0;
  for (const profile of profiles) {
    const from = window === undefined ? profile.startTime : Math.max(profile.startTime, window.startUs);
    const to = window === undefined ? profile.endTime : Math.min(profile.endTime, window.endUs);
    totalUs += Math.max(0, to - from);
    const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
    const selfById = new Map<number, number>();
    let at = profile.startTime;
    profile.samples.forEach((id, i) => {
      const delta = profile.timeDeltas[i] ?? 0;
      at += delta;
      if (at >= from && at <= to) {
        selfById.set(id, (selfById.get(id) ?? 0) + delta);
      }
    });
    // Total time per node (self + descendants), then per workspace function; a function on the stack twice
    // (recursion) is counted once per path from its outermost frame only.
    const totals = new Map<number, number>();
    const totalOf = (id: number): number => {
      const known = totals.get(id);
      if (known !== undefined) {
        return known;
      }
      let sum = selfById.get(id) ?? 0;
      for (const child of nodes.get(id)?.children ?? []) {
        sum += totalOf(child);
      }
      totals.set(id, sum);
      return sum;
    };
    const visit = (id: number, onStack: ReadonlySet<string>): void => {
      const node = nodes.get(id);
      if (node === undefined) {
        return;
      }
      const { functionName, url, lineNumber, columnNumber } = node.callFrame;
      const category = categoryOf(url, functionName, root);
      let stack = onStack;
      if (category.startsWith('@gw/') || category.startsWith('apps/')) {
        const name = functionName === '' ? '(anonymous)' : functionName;
        const location = locationOf(url, lineNumber, columnNumber, functionName === '', root);
        const key = `${name}@${location}`;
        if (!onStack.has(key)) {
          const entry = inclusive.get(key) ?? { name, location, category, selfUs: 0 };
          entry.selfUs += totalOf(id);
          inclusive.set(key, entry);
          stack = new Set([...onStack, key]);
        }
      }
      for (const child of node.children ?? []) {
        visit(child, stack);
      }
    };
    const root0 = profile.nodes[0];
    if (root0 !== undefined) {
      visit(root0.id, new Set());
    }
    for (const [id, us] of selfById) {
      const node = nodes.get(id);
      if (node === undefined) {
        continue;
      }
      const { functionName, url, lineNumber, columnNumber } = node.callFrame;
      const name = functionName === '' ? '(anonymous)' : functionName;
      if (name === '(idle)') {
        idleUs += us;
        continue;
      }
      const location = locationOf(url, lineNumber, columnNumber, functionName === '', root);
      const key = `${name}@${location}`;
      const entry = byFunction.get(key) ?? { name, location, category: categoryOf(url, name, root), selfUs: 0 };
      entry.selfUs += us;
      byFunction.set(key, entry);
    }
  }
  const busyUs = Math.max(1, totalUs - idleUs);
  const categories = new Map<string, number>();
  for (const entry of byFunction.values()) {
    categories.set(entry.category, (categories.get(entry.category) ?? 0) + entry.selfUs);
  }
  return {
    totalS: totalUs / 1e6,
    busyS: (totalUs - idleUs) / 1e6,
    byCategory: [...categories]
      .map(([category, us]) => ({ category, selfS: us / 1e6, share: us / busyUs }))
      .sort((a, b) => b.selfS - a.selfS),
    top: [...byFunction.values()]
      .sort((a, b) => b.selfUs - a.selfUs)
      .slice(0, topN)
      .map((e) => ({ name: e.name, location: e.location, category: e.category, selfS: e.selfUs / 1e6, share: e.selfUs / busyUs })),
    topInclusive: [...inclusive.values()]
      .sort((a, b) => b.selfUs - a.selfUs)
      .slice(0, topN)
      .map((e) => ({ name: e.name, location: e.location, category: e.category, selfS: e.selfUs / 1e6, share: e.selfUs / busyUs })),
  };
}

/** Reads every `.cpuprofile` in `dir` (one per profiled process) and summarizes them together. */
export async function summarizeProfiles(dir: string, root: string, window?: ProfileWindow): Promise<ProfileSummary> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile'));
  if (files.length === 0) {
    throw new Error(`no .cpuprofile written in ${dir} (did the gateway exit cleanly?)`);
  }
  const profiles: CpuProfile[] = [];
  for (const file of files) {
    const parsed = cpuProfileSchema.safeParse(JSON.parse(await readFile(join(dir, file), 'utf8')));
    if (!parsed.success) {
      throw new Error(`${file} is not a V8 CPU profile: ${parsed.error.issues[0]?.message ?? ''}`);
    }
    profiles.push(parsed.data);
  }
  return summarize(profiles, root, window);
}
