// infra/Dockerfile and its ignore file, checked without Docker (which cannot run on this machine): linted by
// dockerfile-utils, parsed by dockerfile-ast, the build context computed with Docker's ignore rules.
import { readFileSync } from 'node:fs';
import { validate } from 'dockerfile-utils';
import { describe, expect, it } from 'vitest';
import { buildContext } from './support/context.js';
import { dockerfileText, effectiveSteps, last, readStages } from './support/dockerfile.js';
import { REPO_ROOT } from './support/processes.js';

const stages = readStages();
const stageNames = stages.map((stage) => stage.name);

/** The arguments of a JSON-form instruction (ENTRYPOINT, CMD, HEALTHCHECK CMD). */
function jsonArgs(args: string | undefined): string[] {
  return JSON.parse((args ?? '').replace(/^(--\S+\s+)*CMD\s+/, '')) as string[];
}

describe('infra/Dockerfile', () => {
  it('passes the dockerfile-utils linter with no diagnostic', () => {
    expect(validate(dockerfileText())).toEqual([]);
  });

  it('fails the linter when broken (the lint is live)', () => {
    const broken = dockerfileText().replace('STOPSIGNAL SIGTERM', 'STOPSIGNAL').replace('EXPOSE 8080', 'EXPOSE http');
    expect(validate(broken).length).toBeGreaterThanOrEqual(2);
  });

  it('is multi-stage: install, build, production dependencies, slim runtime, worker and gateway (the default)', () => {
    expect(stageNames).toEqual(['base', 'fetch', 'build', 'prod-deps', 'runtime', 'worker', 'gateway']);
    // `docker build` without --target builds the last stage.
    expect(stageNames.at(-1)).toBe('gateway');
    expect(stages.find((s) => s.name === 'worker')?.from).toBe('runtime');
    expect(stages.find((s) => s.name === 'gateway')?.from).toBe('runtime');
  });

  it('starts from pinned slim Debian Node images (glibc, for the uWebSockets.js binary)', () => {
    const images = stages.map((stage) => stage.from).filter((from) => !stageNames.includes(from));
    expect(images.length).toBeGreaterThan(0);
    for (const image of images) {
      expect(image).toMatch(/^node:20\.\d+\.\d+-bookworm-slim$/);
    }
  });

  it('installs the pnpm release named by package.json packageManager', () => {
    const manifest = JSON.parse(readFileSync(`${REPO_ROOT}package.json`, 'utf8')) as { packageManager: string };
    expect(dockerfileText()).toContain(`ARG PNPM_VERSION=${manifest.packageManager.replace(/^pnpm@/, '')}\n`);
  });

  it('installs only production dependencies for the runtime, and the runtime installs nothing itself', () => {
    const prodInstall = stages.find((s) => s.name === 'prod-deps')?.steps.filter((step) => step.keyword === 'RUN') ?? [];
    expect(prodInstall.map((step) => step.args)).toEqual([expect.stringMatching(/^pnpm install .*--prod\b.*--filter-prod "@gw\/gateway\.\.\." --filter-prod "@gw\/worker\.\.\."$/)]);
    const runtime = stages.find((s) => s.name === 'runtime');
    expect(runtime?.steps.filter((step) => step.keyword === 'RUN')).toEqual([]);
    // node_modules come only from prod-deps; from the full install (build) only the dashboard's static files.
    const copies = runtime?.steps.filter((step) => step.keyword === 'COPY' && step.from !== undefined) ?? [];
    expect(copies.length).toBeGreaterThanOrEqual(5);
    for (const copy of copies) {
      if (copy.from === 'build') {
        expect(copy.args).toBe('/app/apps/dashboard/dist ./apps/dashboard/dist');
      } else {
        expect(copy.from).toBe('prod-deps');
      }
    }
    expect(copies.some((copy) => copy.args.includes('/app/node_modules'))).toBe(true);
  });

  it('builds the dashboard page with its package build script', () => {
    const build = stages.find((s) => s.name === 'build')?.steps.filter((step) => step.keyword === 'RUN').map((step) => step.args);
    expect(build).toContain('pnpm --filter @gw/dashboard build');
    const manifest = JSON.parse(readFileSync(`${REPO_ROOT}apps/dashboard/package.json`, 'utf8')) as { scripts?: Record<string, string> };
    expect(manifest.scripts?.['build']).toBeDefined();
  });

  for (const [target, port, role] of [
    ['gateway', '8080', 'gateway'],
    ['worker', '9464', 'worker'],
  ] as const) {
    it(`${target}: non-root, STOPSIGNAL SIGTERM, HEALTHCHECK on /api/health, EXPOSE ${port}, runs src/main.ts with tsx`, () => {
      const steps = effectiveSteps(stages, target);
      const user = last(steps, 'USER');
      expect(user).toBeDefined();
      expect(user).not.toMatch(/^(root|0)(:|$)/);
      expect(last(steps, 'STOPSIGNAL')).toBe('SIGTERM');
      expect(last(steps, 'EXPOSE')).toBe(port);
      const healthcheck = last(steps, 'HEALTHCHECK') ?? '';
      expect(jsonArgs(healthcheck)).toEqual(['node', '/app/infra/docker/healthcheck.mjs', role]);
      expect(last(steps, 'WORKDIR')).toBe(`/app/apps/${target}`);
      expect(jsonArgs(last(steps, 'ENTRYPOINT'))).toEqual(['node', '--import', 'tsx', 'src/main.ts']);
      const env = steps.filter((step) => step.keyword === 'ENV').map((step) => step.args).join(' ');
      expect(env).toContain(target === 'gateway' ? `PORT=${port}` : `METRICS_PORT=${port}`);
    });
  }
});

describe('infra/Dockerfile.dockerignore', () => {
  const context = buildContext();

  it('keeps out node_modules, VCS data, tests, logs and secrets files', () => {
    const files = [...context];
    expect(files.filter((file) => /(^|\/)(node_modules|\.git|coverage)\//.test(file))).toEqual([]);
    expect(files.filter((file) => file.endsWith('.test.ts') || file.endsWith('.log'))).toEqual([]);
    expect(files.filter((file) => /(^|\/)\.env(\.|$)/.test(file))).toEqual([]);
  });

  it('keeps in everything the build copies: lockfile, workspace, each package of the gateway and worker, the health check', () => {
    for (const file of [
      'pnpm-lock.yaml',
      'pnpm-workspace.yaml',
      'package.json',
      'apps/gateway/package.json',
      'apps/gateway/src/main.ts',
      'apps/worker/src/main.ts',
      'apps/dashboard/package.json',
      'packages/uws/package.json',
      'infra/docker/healthcheck.mjs',
    ]) {
      expect(context.has(file), file).toBe(true);
    }
    // And not the rest of infra (the deployment files are not part of the image).
    expect(context.has('infra/docker-compose.yml')).toBe(false);
  });
});
