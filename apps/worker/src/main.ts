import { parseArgs } from 'node:util';
import { Registry } from 'prom-client';
import { z } from 'zod';
import { whenConnected } from '@gw/bus';
import { ConfigError, defineConfigSection, deprecatedVariablesIn, deprecationWarning, envInt, loadConfig, printableConfig } from '@gw/config';
import type { SectionOutput } from '@gw/config';
import { GatewayError, createLogger } from '@gw/core';
import { createPromMetrics, renderMetrics } from '@gw/metrics';
import { builtInSources, busConfig, createBusFromConfig, defaultNodeId, processConfig, sourceSections } from '@gw/runtime';
import { createSourceActivity, startWorkerPresence } from '@gw/node-services';
import { runSource } from '@gw/source';
import type { DataSource } from '@gw/source';
import { assertNativeUws, createApp, describeUwsBuild, listenAll, route } from '@gw/uws';

const workerConfig = defineConfigSection({
  name: 'worker',
  schema: z.object({
    metricsPort: envInt(0, 65535).default(9464),
    metricsHost: z.string().min(1).default('0.0.0.0'),
  }),
  env: { METRICS_PORT: 'metricsPort', METRICS_HOST: 'metricsHost' },
  docs: { metricsPort: 'Port of the worker /metrics, /api/health and /api/ready (default 9464).' },
});

const usage = `Usage: pnpm worker --source NAME[,NAME...] [--print-config]

Runs data sources as a separate process on the Redis bus (REDIS_URL must be set).`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { source: { type: 'string', multiple: true }, 'print-config': { type: 'boolean' }, help: { type: 'boolean' } },
    strict: true,
  });
  const registry = builtInSources();
  if (values.help === true) {
    console.log(`${usage}\nKnown sources: ${registry.names().join(', ')}`);
    return;
  }
  const sections = { process: processConfig, bus: busConfig, worker: workerConfig, ...sourceSections(registry) };
  const config = loadConfig(process.env, sections);
  if (values['print-config'] === true) {
    console.log(JSON.stringify(printableConfig(sections, config), null, 2));
    return;
  }
  const names = (values.source ?? []).flatMap((s) => s.split(',')).map((s) => s.trim()).filter((s) => s !== '');
  const requested = names.length > 0 ? names : (config.process.sources ?? []);
  if (requested.length === 0) {
    throw new GatewayError('config_invalid', { message: `no source named: use --source NAME (known: ${registry.names().join(', ')})` });
  }
  const sources = registry.resolve(requested);
  if (config.bus.redisUrl === undefined) {
    throw new GatewayError('config_invalid', {
      message: 'a worker publishes to gateways through Redis: set REDIS_URL (the embedded bus is per process)',
    });
  }

  const nodeId = config.process.nodeId ?? `worker-${defaultNodeId()}`;
  const logger = createLogger({ level: config.process.logLevel, format: config.process.logFormat, name: 'worker' }).child({ nodeId });
  for (const renamed of deprecatedVariablesIn(process.env, sections)) {
    logger.warn(renamed, deprecationWarning(renamed));
  }
  const build = describeUwsBuild();
  assertNativeUws(build, false);
  const metrics = createPromMetrics({ registry: new Registry(), labels: { node: nodeId } });
  const bus = createBusFromConfig(config.bus, nodeId, logger, metrics);
  await whenConnected(bus, config.bus.connectTimeoutMs);

  const app = createApp(undefined);
  const deps = { logger, metrics };
  route(app, deps, 'get', '/metrics', async () => {
    const { contentType, body } = await renderMetrics(metrics);
    return { status: 200, contentType, body };
  });
  route(app, deps, 'get', '/api/health', () => ({ status: 200, body: { status: 'ok', sources: requested } }));
  route(app, deps, 'get', '/api/ready', () =>
    bus.state === 'connected'
      ? { status: 200, body: { status: 'ready' } }
      : { status: 503, body: { code: 503, message: 'not ready: bus disconnected', error: 'bus_disconnected' } },
  );
  const listening = await listenAll(app, config.worker.metricsHost, [config.worker.metricsPort]);

  const abort = new AbortController();
  const allConfig = config as unknown as Record<string, SectionOutput<DataSource['config']>>;
  const activity = createSourceActivity();
  const runs = sources.map((source) =>
    runSource(source, allConfig[source.name] ?? {}, activity.watch(source.name, { bus, logger, metrics }), abort.signal),
  );
  // Gateways list this worker and its sources on the operator console while this presence lives.
  const presence = await startWorkerPresence({ bus, logger, startedAt: new Date().toISOString(), sources: () => activity.statuses() });
  const metricsPort = listening.ports[0];
  logger.info({ sources: requested, metricsPort }, 'worker running');
  // Where to look, for the person who just started it: URLs that work from this host.
  const [base] = listening.urls('http');
  logger.info(`metrics: ${String(base)}/metrics · health: ${String(base)}/api/health · readiness: ${String(base)}/api/ready`);

  const stop = (signal: NodeJS.Signals): void => {
    logger.info({ signal }, 'worker stopping');
    abort.abort();
    void Promise.all(runs)
      .then(() => presence.stop())
      .then(() => bus.close())
      .then(() => {
        listening.stopListening();
        process.exit(0);
      });
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((error: unknown) => {
  console.error(`worker: ${error instanceof ConfigError || error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
