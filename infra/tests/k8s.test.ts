// Kubernetes manifests (infra/k8s): valid against the Kubernetes schemas, and wired as the gateway needs
// (probes, drain timing, selectors, one instance per source, no secrets shipped).
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { builtInSources } from '@gw/runtime';
import { readCompose } from './support/compose.js';
import { K8S_DIR, manifestFiles, readManifests, schemaProblems, strictFieldProblems } from './support/k8s.js';
import type { Manifest } from './support/k8s.js';
import { REPO_ROOT, run } from './support/processes.js';

interface Probe {
  httpGet?: { path: string; port: string | number };
}

interface Container {
  name: string;
  args?: string[];
  ports?: { name?: string; containerPort: number }[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  startupProbe?: Probe;
  lifecycle?: { preStop?: { exec?: { command: string[] } } };
  securityContext?: { readOnlyRootFilesystem?: boolean; allowPrivilegeEscalation?: boolean };
  volumeMounts?: { name: string; mountPath: string }[];
}

interface PodTemplate {
  metadata: { labels: Record<string, string> };
  spec: {
    terminationGracePeriodSeconds?: number;
    securityContext?: { runAsNonRoot?: boolean };
    containers: Container[];
  };
}

const manifests = readManifests();

function find(kind: string, name: string): Manifest {
  const manifest = manifests.find((m) => m.kind === kind && m.metadata.name === name);
  if (manifest === undefined) {
    throw new Error(`no ${kind}/${name} in infra/k8s`);
  }
  return manifest;
}

function spec(manifest: Manifest): unknown {
  return manifest.body['spec'];
}

function template(deployment: Manifest): PodTemplate {
  return (spec(deployment) as { template: PodTemplate }).template;
}

function onlyContainer(deployment: Manifest): Container {
  const containers = template(deployment).spec.containers;
  expect(containers, deployment.metadata.name).toHaveLength(1);
  const [container] = containers;
  if (container === undefined) {
    throw new Error('no container');
  }
  return container;
}

/** The container port a probe or Service names (by name or number). */
function portNumber(container: Container, port: string | number | undefined): number | undefined {
  return typeof port === 'number' ? port : container.ports?.find((p) => p.name === port)?.containerPort;
}

const config = (find('ConfigMap', 'gateway-config').body['data'] ?? {}) as Record<string, string>;
const secret = (find('Secret', 'gateway-secrets').body['stringData'] ?? {}) as Record<string, string>;
const gateway = find('Deployment', 'gateway');
const workers = manifests.filter((m) => m.kind === 'Deployment' && m.metadata.name.startsWith('worker-'));

/** Seconds a `sleep N` preStop hook holds the pod before SIGTERM (0 without one). */
function preStopSeconds(container: Container): number {
  const command = container.lifecycle?.preStop?.exec?.command ?? [];
  return command[0] === 'sleep' ? Number(command[1]) : 0;
}

describe('infra/k8s', () => {
  it('validates every manifest against the Kubernetes schemas (kubernetes-models)', () => {
    expect(manifests.length).toBeGreaterThanOrEqual(10);
    expect(schemaProblems(manifests)).toEqual([]);
  });

  it('has no unknown or misplaced field (TypeScript excess-property check against the same models)', () => {
    expect(strictFieldProblems(manifests)).toEqual([]);
  }, 60_000);

  it('catches a misspelled field and a wrong type (the checks are live)', () => {
    const brokenContainer = (mutate: (container: Record<string, unknown>) => void): Manifest => {
      const broken = structuredClone(gateway);
      const [container] = (broken.body as { spec: { template: PodTemplate } }).spec.template.spec.containers;
      mutate(container as unknown as Record<string, unknown>);
      return broken;
    };
    const misspelled = brokenContainer((container) => {
      container['readinesProbe'] = container['readinessProbe'];
    });
    const mistyped = brokenContainer((container) => {
      container['ports'] = [{ name: 'http', containerPort: '8080' }];
    });
    // The API server would drop the misspelled field without a word; only the strict check sees it.
    expect(schemaProblems([misspelled])).toEqual([]);
    expect(strictFieldProblems([misspelled]).join('\n')).toMatch(/'"readinesProbe"' does not exist in type 'IContainer'/);
    expect(schemaProblems([mistyped]).join('\n')).toContain('containerPort must be integer');
    expect(strictFieldProblems([mistyped]).join('\n')).toContain("Type 'string' is not assignable to type 'number'");
  }, 60_000);

  it('lists every manifest file in kustomization.yaml', () => {
    const kustomization = parse(readFileSync(`${K8S_DIR}/kustomization.yaml`, 'utf8')) as { resources: string[] };
    expect([...kustomization.resources].sort()).toEqual(manifestFiles());
  });

  it('probes the gateway: readiness /api/ready, liveness /api/health, on the port it listens on (PORT)', () => {
    const container = onlyContainer(gateway);
    expect(container.readinessProbe?.httpGet?.path).toBe('/api/ready');
    expect(container.livenessProbe?.httpGet?.path).toBe('/api/health');
    expect(container.startupProbe?.httpGet?.path).toBe('/api/health');
    for (const probe of [container.readinessProbe, container.livenessProbe, container.startupProbe]) {
      expect(portNumber(container, probe?.httpGet?.port)).toBe(Number(config['PORT']));
    }
  });

  it('gives a terminating gateway time to drain: terminationGracePeriodSeconds >= preStop + DRAIN_TIMEOUT_MS + 5 s', () => {
    const container = onlyContainer(gateway);
    const preStop = preStopSeconds(container);
    const drain = Number(config['DRAIN_TIMEOUT_MS']) / 1000;
    expect(preStop).toBeGreaterThan(0);
    expect(drain).toBeGreaterThan(0);
    expect(template(gateway).spec.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(preStop + drain + 5);
  });

  it('points the Service, the PodDisruptionBudget and the HorizontalPodAutoscaler at the gateway pods', () => {
    const labels = template(gateway).metadata.labels;
    const matches = (selector: Record<string, string>): boolean =>
      Object.keys(selector).length > 0 && Object.entries(selector).every(([key, value]) => labels[key] === value);

    const service = spec(find('Service', 'gateway')) as { selector: Record<string, string>; ports: { targetPort: string | number }[] };
    expect(matches(service.selector)).toBe(true);
    for (const port of service.ports) {
      expect(portNumber(onlyContainer(gateway), port.targetPort)).toBe(Number(config['PORT']));
    }

    const pdb = spec(find('PodDisruptionBudget', 'gateway')) as { selector: { matchLabels: Record<string, string> }; maxUnavailable?: number };
    expect(matches(pdb.selector.matchLabels)).toBe(true);
    expect(pdb.maxUnavailable).toBe(1);

    const hpa = spec(find('HorizontalPodAutoscaler', 'gateway')) as {
      scaleTargetRef: { kind: string; name: string };
      minReplicas: number;
      maxReplicas: number;
    };
    expect(hpa.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: 'gateway' });
    // At least two, so a disruption (maxUnavailable 1) never takes the last gateway.
    expect(hpa.minReplicas).toBeGreaterThanOrEqual(2);
    expect(hpa.maxReplicas).toBeGreaterThan(hpa.minReplicas);
    // The HPA owns the replica count: the Deployment must not reset it on every apply.
    expect((spec(gateway) as { replicas?: number }).replicas).toBeUndefined();
  });

  it('routes the Ingresses to the gateway Service port', () => {
    const servicePorts = (spec(find('Service', 'gateway')) as { ports: { name: string }[] }).ports.map((p) => p.name);
    const ingresses = manifests.filter((m) => m.kind === 'Ingress');
    expect(ingresses.length).toBeGreaterThan(0);
    for (const ingress of ingresses) {
      const backends = JSON.stringify(ingress.body['spec']).match(/"service":\{"name":"([^"]+)","port":\{"name":"([^"]+)"\}/g) ?? [];
      expect(backends.length, ingress.metadata.name).toBeGreaterThan(0);
      for (const backend of backends) {
        expect(backend).toContain('"name":"gateway"');
        expect(servicePorts.some((port) => backend.endsWith(`"port":{"name":"${port}"}`))).toBe(true);
      }
    }
  });

  it('runs each source group once: workers with one replica, Recreate, probes on METRICS_PORT', () => {
    const known = builtInSources().names();
    const groups: string[] = [];
    for (const worker of workers) {
      const name = worker.metadata.name;
      const workerSpec = spec(worker) as { replicas: number; strategy: { type: string } };
      expect(workerSpec.replicas, name).toBe(1);
      expect(workerSpec.strategy.type, name).toBe('Recreate');
      const container = onlyContainer(worker);
      expect(container.readinessProbe?.httpGet?.path, name).toBe('/api/ready');
      expect(container.livenessProbe?.httpGet?.path, name).toBe('/api/health');
      expect(portNumber(container, container.readinessProbe?.httpGet?.port), name).toBe(Number(config['METRICS_PORT']));
      const args = container.args ?? [];
      expect(args[0], name).toBe('--source');
      const sources = (args[1] ?? '').split(',');
      expect(sources.filter((source) => !known.includes(source)), name).toEqual([]);
      groups.push(sources.join(','));
    }
    // The same groups as the compose stack, and no source twice.
    const composeGroups = Object.entries(readCompose().services)
      .filter(([service]) => service.startsWith('worker-'))
      .map(([, service]) => (service.command ?? [])[1] ?? '');
    expect(groups.sort()).toEqual(composeGroups.sort());
    const all = groups.flatMap((group) => group.split(','));
    expect(new Set(all).size).toBe(all.length);
  });

  it('runs every pod as non-root with a read-only root filesystem, /tmp writable, settings from the ConfigMap and Secret', () => {
    const names = new Set(manifests.map((m) => `${m.kind}/${m.metadata.name}`));
    for (const deployment of [gateway, ...workers]) {
      const name = deployment.metadata.name;
      expect(template(deployment).spec.securityContext?.runAsNonRoot, name).toBe(true);
      const container = onlyContainer(deployment);
      expect(container.securityContext, name).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
      expect(container.volumeMounts?.some((mount) => mount.mountPath === '/tmp'), name).toBe(true);
      for (const source of container.envFrom ?? []) {
        const ref = source.configMapRef !== undefined ? `ConfigMap/${source.configMapRef.name}` : `Secret/${source.secretRef?.name ?? '?'}`;
        expect(names.has(ref), `${name}: ${ref}`).toBe(true);
      }
    }
  });

  it('ships no secret: the Secret leaves the JWT key and admin token empty', () => {
    expect(secret['JWT_SECRET']).toBe('');
    expect(secret['ADMIN_TOKEN']).toBe('');
  });

  it('fails safe: the real gateway refuses the settings as shipped, and starts once the secrets are filled in', async () => {
    const gatewayEnv = { ...config, ...secret };
    const command = [process.execPath, ['--import', 'tsx', 'src/main.ts', '--print-config']] as const;
    const cwd = `${REPO_ROOT}apps/gateway`;
    const [refused, accepted] = await Promise.all([
      run(...command, { cwd, env: gatewayEnv, timeoutMs: 30_000 }),
      run(...command, {
        cwd,
        env: { ...gatewayEnv, JWT_SECRET: 'a-real-secret-from-the-secret-store-0123456789', ADMIN_TOKEN: 'an-admin-token' },
        timeoutMs: 30_000,
      }),
    ]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('JWT_SECRET');
    expect(refused.stderr).toContain('ADMIN_TOKEN');
    expect(accepted.code, accepted.stderr).toBe(0);
    const printed = JSON.parse(accepted.stdout) as Record<string, Record<string, unknown>>;
    expect(printed['environment']?.['GATEWAY_ENV']).toBe('production');
    expect(printed['server']?.['DRAIN_TIMEOUT_MS']).toBe(Number(config['DRAIN_TIMEOUT_MS']));
  });
});
