import { spawn, spawnSync } from 'node:child_process';
import type { SpawnSyncReturns } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScratchWorkspace } from './scratch-workspace.js';
import type { ScratchWorkspace } from './scratch-workspace.js';

/**
 * `pnpm new:source` end to end, in a scratch workspace (see scratch-workspace.ts): the generator runs as the
 * command, once per kind, its packages are checked with the repository's own typecheck, lint and test settings
 * (each client kind's generated test delivers its data to a real client through the protocol's adapter), and
 * the runtime it edited runs a new source with `pnpm worker --source demo-feed` on the real Redis.
 */

const repositoryRoot = fileURLToPath(new URL('../../', import.meta.url));
const redisUrl = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const bin = (tool: string): string => join(repositoryRoot, 'node_modules', '.bin', tool);
/** A clean environment for child tools: this test's own vitest variables must not leak into a nested vitest. */
const baseEnv = { PATH: `${join(repositoryRoot, 'node_modules', '.bin')}:${process.env['PATH'] ?? ''}`, HOME: process.env['HOME'] ?? '/tmp' };

/** The part of vitest's JSON report the test reads. */
interface VitestReport {
  numFailedTests: number;
  testResults: { assertionResults: { ancestorTitles: string[]; title: string; status: string }[] }[];
}

let scratch: ScratchWorkspace;
let generation: SpawnSyncReturns<string>;
/** The other kinds, generated beside demo-feed (a `data` source: the kind without --kind off a terminal). */
const clientKinds = [
  { name: 'demo-strategy', kind: 'strategy', suite: 'demo-strategy buy list reaches stock clients' },
  { name: 'demo-signals', kind: 'signals', suite: 'demo-signals signals reach signal clients' },
  { name: 'demo-quotes', kind: 'quotes', suite: 'demo-quotes quotes reach stock clients' },
  { name: 'demo-trading', kind: 'trading', suite: 'demo-trading trading data reaches its user' },
] as const;
const kindGenerations = new Map<string, SpawnSyncReturns<string>>();

function newSource(args: string[]): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, ['--import', 'tsx', join(repositoryRoot, 'tools/new-source/main.ts'), ...args, '--root', scratch.root, '--skip-install'], {
    cwd: repositoryRoot,
    encoding: 'utf8',
    env: baseEnv,
    timeout: 60_000,
  });
}

function inScratch(command: string, args: string[], timeout: number): SpawnSyncReturns<string> {
  return spawnSync(command, args, { cwd: scratch.root, encoding: 'utf8', env: baseEnv, timeout });
}

function filesBelow(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name).slice(dir.length + 1))
    .sort();
}

beforeAll(() => {
  scratch = createScratchWorkspace(repositoryRoot);
  generation = newSource(['demo-feed']);
  for (const { name, kind } of clientKinds) {
    kindGenerations.set(name, newSource([name, '--kind', kind]));
  }
  // What `pnpm install` would link: the new packages, the runtime that now depends on them, the worker.
  const generated = ['demo-feed', ...clientKinds.filter(({ name }) => kindGenerations.get(name)?.status === 0).map(({ name }) => name)];
  if (generation.status === 0) {
    for (const dir of [...generated.map((name) => `packages/sources/${name}`), 'packages/runtime', 'apps/worker']) {
      scratch.link(dir);
    }
  }
}, 240_000);

afterAll(() => {
  scratch.remove();
});

describe('pnpm new:source demo-feed', () => {
  it('creates the package from the template, registers it in the runtime and prints the next steps', () => {
    expect(generation.stderr).toBe('');
    expect(generation.status).toBe(0);
    expect(generation.stdout).toContain('Created packages/sources/demo-feed (@gw/source-demo-feed, kind data, settings DEMO_FEED_*)');
    expect(generation.stdout).toContain('REDIS_URL=redis://127.0.0.1:6379 pnpm worker --source demo-feed');
    expect(generation.stdout).toContain('flock /tmp/pnpm-install.lock pnpm install');

    const dir = join(scratch.root, 'packages/sources/demo-feed');
    expect(filesBelow(dir).filter((f) => !f.startsWith('node_modules'))).toEqual([
      'README.md',
      'package.json',
      'src/backoff.ts',
      'src/config.ts',
      'src/conformance.test.ts',
      'src/index.ts',
      'src/publish.ts',
      'src/source.test.ts',
      'src/source.ts',
      'src/topics.ts',
      'src/upstream.ts',
    ]);
    for (const file of filesBelow(dir).filter((f) => !f.startsWith('node_modules'))) {
      expect(readFileSync(join(dir, file), 'utf8'), file).not.toContain('{{');
    }
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name: string; exports: unknown };
    expect(manifest).toMatchObject({ name: '@gw/source-demo-feed', exports: { '.': './src/index.ts' } });
    expect(readFileSync(join(dir, 'src/config.ts'), 'utf8')).toContain("DEMO_FEED_INTERVAL_MS: 'intervalMs'");

    const sources = readFileSync(join(scratch.root, 'packages/runtime/src/sources.ts'), 'utf8');
    expect(sources).toContain(
      "import { volumeWaveSource } from '@gw/source-volume-wave';\nimport { demoFeedSource } from '@gw/source-demo-feed';\nimport { demoStrategySource } from '@gw/source-demo-strategy';",
    );
    expect(sources).toContain(
      '    replaySource,\n    demoFeedSource,\n    demoStrategySource,\n    demoSignalsSource,\n    demoQuotesSource,\n    demoTradingSource,\n    // new:source inserts each generated source',
    );
    const runtime = JSON.parse(readFileSync(join(scratch.root, 'packages/runtime/package.json'), 'utf8')) as { dependencies: Record<string, string> };
    expect(runtime.dependencies['@gw/source-demo-feed']).toBe('workspace:*');
  });

  it('generates the template of the kind --kind names, and says how clients reach its data', () => {
    const reaches: Record<(typeof clientKinds)[number]['kind'], string> = {
      strategy: 'stock clients: {"type":"subscribe","subscription_type":"strategy","target":"demo_strategy"} on /ws/stock/prices',
      signals: 'signal clients: /ws/signals?sources=demo-signals',
      quotes: 'stock clients: {"type":"subscribe","subscription_type":"stock","target":"<code>"} on /ws/stock/prices',
      trading: 'trading clients: socket.io on /socket.io/ with auth: {token: <JWT>}, then emit subscribe_trading {"types":["balance"]}',
    };
    for (const { name, kind } of clientKinds) {
      const result = kindGenerations.get(name);
      expect(result?.stderr, name).toBe('');
      expect(result?.status, name).toBe(0);
      expect(result?.stdout).toContain(`Created packages/sources/${name} (@gw/source-${name}, kind ${kind}, settings `);
      expect(result?.stdout).toContain(reaches[kind]);
      const dir = join(scratch.root, 'packages/sources', name);
      expect(filesBelow(dir)).toContain('src/client.test.ts');
      expect(readFileSync(join(dir, 'src/topics.ts'), 'utf8')).toContain(`What the ${name} source publishes (kind \`${kind}\`)`);
    }
    expect(filesBelow(join(scratch.root, 'packages/sources/demo-feed'))).not.toContain('src/client.test.ts');
  });

  it('refuses a bad, reserved or taken name, or one whose settings prefix another section owns, and writes nothing', () => {
    const before = readFileSync(join(scratch.root, 'packages/runtime/src/sources.ts'), 'utf8');
    const cases: [string, string][] = [
      ['Demo_Feed', '"Demo_Feed" is not a source name: use lower-case letters and digits'],
      ['stock', '"stock" is reserved: it is the stock.* topics of @gw/topics'],
      ['demo-feed', 'packages/sources/demo-feed already exists'],
      ['heartbeat', 'packages/runtime/src/sources.ts already registers @gw/source-heartbeat'],
      ['market', 'its settings would be MARKET_*, but section "stock-market" already uses MARKET_HOURS'],
    ];
    const badKind = newSource(['other-feed', '--kind', 'prices']);
    expect(badKind.status).toBe(1);
    expect(badKind.stderr).toContain('--kind prices: expected one of strategy, signals, quotes, trading, data');
    for (const [name, problem] of cases) {
      const result = newSource([name]);
      expect(result.status, name).toBe(1);
      expect(result.stderr, name).toContain('new:source: cannot create the source:');
      expect(result.stderr, name).toContain(problem);
    }
    expect(readFileSync(join(scratch.root, 'packages/runtime/src/sources.ts'), 'utf8')).toBe(before);
    expect(existsSync(join(scratch.root, 'packages/sources/market'))).toBe(false);
    expect(readdirSync(join(scratch.root, 'packages/sources')).sort()).toEqual(['demo-feed', 'demo-quotes', 'demo-signals', 'demo-strategy', 'demo-trading']);
  }, 120_000);

  it('generates packages that typecheck, pass the repository lint, and their own unit, conformance and client tests', () => {
    const typecheck = inScratch(process.execPath, [join(repositoryRoot, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json', '--noEmit'], 240_000);
    expect(typecheck.stdout + typecheck.stderr).toBe('');
    expect(typecheck.status).toBe(0);

    const lint = inScratch(bin('eslint'), ['--max-warnings', '0', 'packages/sources'], 240_000);
    expect(lint.stdout).toBe('');
    expect(lint.status).toBe(0);

    const report = join(scratch.root, 'vitest-report.json');
    // All five packages in one vitest run: one start-up on a loaded machine.
    const tests = inScratch(bin('vitest'), ['run', 'packages/sources', '--reporter=json', `--outputFile=${report}`], 300_000);
    expect(tests.status, tests.stdout + tests.stderr).toBe(0);
    const results = JSON.parse(readFileSync(report, 'utf8')) as VitestReport;
    const passed = results.testResults.flatMap((file) => file.assertionResults.filter((test) => test.status === 'passed'));
    expect(results.numFailedTests).toBe(0);
    for (const name of ['demo-feed', ...clientKinds.map((k) => k.name)]) {
      expect(passed.filter((test) => test.ancestorTitles.includes(`source conformance: ${name}`)), name).toHaveLength(5);
    }
    for (const { suite } of clientKinds) {
      expect(passed.filter((test) => test.ancestorTitles.includes(suite)), suite).toHaveLength(1);
    }
    expect(passed.length).toBeGreaterThanOrEqual(45);
  }, 600_000);

  it('runs with `pnpm worker --source demo-feed` on Redis and publishes valid readings there', async () => {
    const prefix = `gwtest:new-source:${process.pid}:${Date.now()}:`;
    const env = { ...baseEnv, REDIS_URL: redisUrl, REDIS_KEY_PREFIX: prefix };
    const spawned = (command: string, args: string[], extra: Record<string, string> = {}) => {
      // Its own process group, so stopping it stops pnpm's child processes too.
      const child = spawn(command, args, { cwd: scratch.root, env: { ...env, ...extra }, detached: true });
      const output = { stdout: '', stderr: '' };
      child.stdout.on('data', (chunk: Buffer) => (output.stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output.stderr += chunk.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      const signal = (name: NodeJS.Signals): void => {
        if (child.exitCode === null && child.pid !== undefined) {
          process.kill(-child.pid, name);
        }
      };
      return { output, exited, signal };
    };

    const watcher = spawned(process.execPath, [
      '--import',
      'tsx',
      join(repositoryRoot, 'packages/source-testing/src/watch-cli.ts'),
      '--pattern',
      'demo-feed.*',
      '--count',
      '4',
      '--timeout-ms',
      '60000',
    ]);
    const worker = spawned('pnpm', ['worker', '--source', 'demo-feed'], {
      DEMO_FEED_KEYS: 'alpha,beta',
      DEMO_FEED_INTERVAL_MS: '100',
      METRICS_PORT: '0',
      METRICS_HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
    });
    try {
      const watched = await watcher.exited;
      expect(watched, `${watcher.output.stderr}\nworker: ${worker.output.stdout}${worker.output.stderr}`).toBe(0);
      const messages = watcher.output.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { topic: string; data: { key: string; value: number; at: number }; id?: string });
      expect(messages).toHaveLength(4);
      expect(new Set(messages.map((m) => m.topic))).toEqual(new Set(['demo-feed.alpha', 'demo-feed.beta']));
      for (const { topic, data, id } of messages) {
        expect(data).toEqual({ key: topic.slice('demo-feed.'.length), value: expect.any(Number) as number, at: expect.any(Number) as number });
        expect(id).toMatch(/^[A-Za-z0-9_-]+:\d+$/);
      }
      // The worker process itself (pnpm's grandchild, its pid in its log lines) stops gracefully on SIGTERM.
      const runningLine = (): RegExpExecArray | null => /"pid":(\d+).*"msg":"worker running"/.exec(worker.output.stdout);
      // Its log may reach this process after Redis carried its messages: wait for the line, boundedly.
      await expect.poll(runningLine, { timeout: 10_000 }).not.toBeNull();
      process.kill(Number(runningLine()?.[1]), 'SIGTERM');
      expect(await worker.exited).toBe(0);
      expect(worker.output.stdout).toContain('"msg":"worker stopping"');
    } finally {
      watcher.signal('SIGKILL');
      worker.signal('SIGKILL');
    }
  }, 120_000);
});
