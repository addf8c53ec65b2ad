// The image's file system, built without Docker: the build context (Dockerfile.dockerignore applied), the
// prod-deps stage's own `pnpm install` command run on it, and the runtime stage's COPY instructions replayed
// into a fresh folder. Then the gateway and the worker are started from that folder the way the image's
// ENTRYPOINT starts them, which proves the production dependencies are enough to run.
//
// Not replayed: `pnpm fetch` (this machine's pnpm store already holds every package of the lockfile, so the
// install runs --offline exactly as in the image) and the dashboard build (COPY --from=build), which is the
// dashboard package's own `vite build`.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildContext } from './support/context.js';
import { readStages } from './support/dockerfile.js';
import { REPO_ROOT, httpGet, run, startGateway, stopAll } from './support/processes.js';

const scratch = mkdtempSync(join(tmpdir(), 'infra-image-'));
/** The prod-deps stage's /app: the build context, then its install. */
const prodDeps = join(scratch, 'prod-deps');
/** The runtime stage's /app. */
const runtime = join(scratch, 'runtime', 'app');

/** Development tools that must not be in the image. */
const DEV_TOOLS = ['vitest', 'eslint', 'typescript', 'typescript-eslint', 'vite', 'playwright-core', '@eslint/js', 'socket.io-client'];

const stages = readStages();
let install = { code: null as number | null, output: '' };

/** Where `COPY [--from=…] SRC… DEST` puts SRC, DEST relative to the runtime WORKDIR /app. */
function destination(source: string, dest: string): string {
  const target = join(runtime, dest);
  return dest.endsWith('/') ? join(target, basename(source)) : target;
}

beforeAll(async () => {
  for (const file of buildContext()) {
    mkdirSync(dirname(join(prodDeps, file)), { recursive: true });
    cpSync(join(REPO_ROOT, file), join(prodDeps, file));
  }
  const commands = stages.find((s) => s.name === 'prod-deps')?.steps.filter((step) => step.keyword === 'RUN') ?? [];
  for (const command of commands) {
    const result = await run('sh', ['-c', command.args], {
      cwd: prodDeps,
      env: { CI: 'true', HOME: process.env['HOME'] ?? '/root' },
      timeoutMs: 120_000,
    });
    install = { code: result.code, output: `${command.args}\n${result.stdout}${result.stderr}` };
    if (result.code !== 0) {
      return;
    }
  }
  mkdirSync(runtime, { recursive: true });
  for (const copy of stages.find((s) => s.name === 'runtime')?.steps.filter((step) => step.keyword === 'COPY') ?? []) {
    const parts = copy.args.split(/\s+/);
    const dest = parts.pop() ?? '';
    for (const source of parts) {
      if (copy.from === 'build') {
        continue; // the dashboard's vite output: not built here (see the top of this file)
      }
      const from = copy.from === 'prod-deps' ? join(prodDeps, source.replace(/^\/app\//, '')) : join(REPO_ROOT, source);
      const to = destination(source, dest);
      mkdirSync(dirname(to), { recursive: true });
      // Moving keeps pnpm's relative symlinks as they are and copies nothing.
      if (copy.from === 'prod-deps') {
        renameSync(from, to);
      } else {
        cpSync(from, to);
      }
    }
  }
}, 180_000);

afterAll(async () => {
  await stopAll();
  rmSync(scratch, { recursive: true, force: true });
});

describe('the image file system (infra/Dockerfile replayed without Docker)', () => {
  it('installs the production dependencies with the prod-deps stage command', () => {
    expect(install.code, install.output).toBe(0);
    expect(existsSync(join(runtime, 'node_modules', '.pnpm'))).toBe(true);
  });

  it('holds no development tool', () => {
    const installed = readdirSync(join(runtime, 'node_modules', '.pnpm'));
    const found = DEV_TOOLS.filter((tool) => installed.some((entry) => entry.startsWith(`${tool.replace('/', '+')}@`)));
    expect(found).toEqual([]);
  });

  it('resolves tsx (the ENTRYPOINT runs node --import tsx) from the gateway and the worker', () => {
    for (const app of ['gateway', 'worker']) {
      const resolve = (): string => createRequire(join(runtime, 'apps', app, 'package.json')).resolve('tsx');
      expect(resolve, `apps/${app}: add tsx to its "dependencies"`).not.toThrow();
    }
  });

  it('starts the gateway from the image layout: /api/health answers, SIGTERM exits 0', async () => {
    const gateway = await startGateway({}, join(runtime, 'apps', 'gateway'));
    expect((await httpGet(`http://127.0.0.1:${gateway.port}/api/health`)).status).toBe(200);
    expect((await gateway.stop()).code).toBe(0);
  }, 60_000);

  it('starts the worker from the image layout (--help lists the built-in sources)', async () => {
    const result = await run(process.execPath, ['--import', 'tsx', 'src/main.ts', '--help'], {
      cwd: join(runtime, 'apps', 'worker'),
      timeoutMs: 30_000,
    });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('crypto-signals');
  }, 60_000);
});
