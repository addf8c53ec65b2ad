// The image's HEALTHCHECK script (infra/docker/healthcheck.mjs) against a real gateway and a real worker.
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { INFRA_DIR, REPO_ROOT, freePort, run, startGateway, startWorker, stopAll } from './support/processes.js';
import { deleteKeys, redisUrl } from './support/redis.js';

const script = `${INFRA_DIR}docker/healthcheck.mjs`;

afterEach(stopAll);

describe('infra/docker/healthcheck.mjs', () => {
  it('gateway: healthy (exit 0) while the gateway answers on the first PORT, unhealthy (exit 1) once it is gone', async () => {
    const gateway = await startGateway();
    const spare = await freePort();
    // PORT as the gateway reads it: a comma list whose first entry is the one checked.
    const env = { PORT: `${gateway.port},${spare}` };
    const healthy = await run(process.execPath, [script, 'gateway'], { cwd: REPO_ROOT, env, timeoutMs: 10_000 });
    expect(healthy.code, healthy.stdout + healthy.stderr).toBe(0);
    expect(healthy.stdout).toContain(`healthy: http://127.0.0.1:${gateway.port}/api/health`);

    expect((await gateway.stop()).code).toBe(0);
    const unhealthy = await run(process.execPath, [script, 'gateway'], { cwd: REPO_ROOT, env, timeoutMs: 10_000 });
    expect(unhealthy.code).toBe(1);
    expect(unhealthy.stdout).toMatch(/^unhealthy: /);
  });

  it('worker: checks METRICS_PORT, not PORT', async () => {
    const prefix = `infra-test-${randomUUID()}:`;
    const worker = await startWorker('heartbeat', { REDIS_URL: redisUrl, REDIS_KEY_PREFIX: prefix });
    const healthy = await run(process.execPath, [script, 'worker'], {
      cwd: REPO_ROOT,
      env: { METRICS_PORT: String(worker.port), PORT: String(await freePort()) },
      timeoutMs: 10_000,
    });
    expect(healthy.code, healthy.stdout + healthy.stderr).toBe(0);
    expect(healthy.stdout).toContain(`:${worker.port}/api/health`);
    expect((await worker.stop()).code).toBe(0);
    await deleteKeys(prefix);
  });

  it('refuses an unknown role with a clear message', async () => {
    const result = await run(process.execPath, [script, 'database'], { cwd: REPO_ROOT, timeoutMs: 10_000 });
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('unknown role "database"');
  });
});
