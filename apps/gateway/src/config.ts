import { z } from 'zod';
import { DEV_SECRET, authConfig } from '@gw/auth';
import { ConfigError, defineConfigSection, envBoolean, envInt, envList, envMs, envPortList, environmentConfig, parseConfig } from '@gw/config';
import type { ConfigOf, ConfigProblem, ConfigSection, Env, EnvironmentConfig } from '@gw/config';
import { busConfig, processConfig } from '@gw/runtime';
import { trustedProxyProblem } from '@gw/uws';

/** The gateway server's own settings (the HTTP/WebSocket listener and its lifecycle). */
export const serverConfig = defineConfigSection({
  name: 'server',
  schema: z.object({
    ports: envPortList().default([8080]),
    host: z.string().min(1).default('0.0.0.0'),
    tlsCertFile: z.string().optional(),
    tlsKeyFile: z.string().optional(),
    tlsPassphrase: z.string().optional(),
    drainTimeoutMs: envMs(600_000).default(10_000),
    uwsAllowFallback: envBoolean().default(false),
    loops: z.union([z.literal('auto'), envInt(1, 256)], { error: 'expected auto or a whole number from 1 to 256' }).default('auto'),
  }),
  env: {
    PORT: 'ports',
    HOST: 'host',
    TLS_CERT_FILE: 'tlsCertFile',
    TLS_KEY_FILE: 'tlsKeyFile',
    TLS_PASSPHRASE: 'tlsPassphrase',
    DRAIN_TIMEOUT_MS: 'drainTimeoutMs',
    UWS_ALLOW_FALLBACK: 'uwsAllowFallback',
    LOOPS: 'loops',
  },
  secrets: ['tlsPassphrase'],
  docs: {
    ports: 'Comma-separated ports; every port serves every route (default 8080).',
    host: 'Address to bind (default 0.0.0.0).',
    tlsCertFile: 'PEM certificate: with TLS_KEY_FILE, serve https/wss.',
    tlsKeyFile: 'PEM private key for TLS_CERT_FILE.',
    drainTimeoutMs: 'On SIGTERM: readiness 503 at once, then open connections are closed spread over this window (1001).',
    uwsAllowFallback: 'Run even if uWebSockets.js fell back to its pure-JS build (default false: refuse).',
    loops: 'Event-loop processes of this node, each serving every port (the kernel spreads connections), beside a supervisor and a sources process: auto = one per core it may use (its CPU affinity, capped by a cgroup CPU quota); 1 = the whole node in one process.',
  },
});

/** Protection and cluster behaviour of the gateway node. */
export const limitsConfig = defineConfigSection({
  name: 'limits',
  schema: z.object({
    connectionRatePerIp: envInt(0, 1_000_000).default(100),
    connectionBurstPerIp: envInt(1, 1_000_000).default(500),
    maxConnectionsPerUser: envInt(0, 1_000_000).default(0),
    busProbeIntervalMs: envMs(60_000).min(50).default(1_000),
    busMaxLagMs: envMs(600_000).min(100).default(5_000),
    clusterGatherTimeoutMs: envMs(60_000).min(10).default(1_000),
    nodeSummaryIntervalMs: envMs(600_000).min(100).default(5_000),
  }),
  env: {
    CONNECTION_RATE_PER_IP: 'connectionRatePerIp',
    CONNECTION_BURST_PER_IP: 'connectionBurstPerIp',
    MAX_CONNECTIONS_PER_USER: 'maxConnectionsPerUser',
    BUS_PROBE_INTERVAL_MS: 'busProbeIntervalMs',
    BUS_MAX_LAG_MS: 'busMaxLagMs',
    CLUSTER_GATHER_TIMEOUT_MS: 'clusterGatherTimeoutMs',
    NODE_SUMMARY_INTERVAL_MS: 'nodeSummaryIntervalMs',
  },
  docs: {
    connectionRatePerIp: 'New connections per second per remote address (all protocols, this node); 0 = no limit.',
    connectionBurstPerIp: 'Connections a remote address may open at once before the rate applies.',
    maxConnectionsPerUser: 'Open connections per user across the cluster (all protocols); 0 = no limit.',
    busProbeIntervalMs: 'How often the node sends itself a probe through the bus (bus lag, readiness).',
    busMaxLagMs: 'Readiness fails when no probe came back through the bus for this long.',
    clusterGatherTimeoutMs: 'How long ?scope=cluster waits for the other nodes.',
    nodeSummaryIntervalMs: 'How often the node publishes its summary for the cluster node list.',
  },
});

/**
 * Who the clients are and how long their tokens live on an open connection: the proxies whose forwarding
 * headers are believed, and the notice before a token expires.
 */
export const clientTrustConfig = defineConfigSection({
  name: 'clientTrust',
  schema: z.object({
    trustedProxies: envList()
      .superRefine((items, ctx) => {
        for (const item of items) {
          const problem = trustedProxyProblem(item);
          if (problem !== undefined) {
            ctx.addIssue({ code: 'custom', message: problem });
          }
        }
      })
      .default([]),
    tokenExpiryNoticeS: envInt(0, 86_400).default(60),
  }),
  env: {
    TRUSTED_PROXIES: 'trustedProxies',
    TOKEN_EXPIRY_NOTICE_S: 'tokenExpiryNoticeS',
  },
  docs: {
    trustedProxies:
      'Comma-separated addresses/CIDRs of your reverse proxies (e.g. 10.0.0.0/8,127.0.0.1). Only from these peers is the client address taken from X-Forwarded-For (right-most untrusted hop) or X-Real-IP, for per-address limits, admin loopback checks, logs and the client list. Default: none (the TCP peer is the client).',
    tokenExpiryNoticeS:
      'Seconds before a connection\'s token expires that it gets token_expiring (once; at once when less remains), so the client can refresh in band.',
  },
});

/** The sections the gateway reads, besides those of its embedded sources. */
export const gatewaySections = {
  environment: environmentConfig,
  process: processConfig,
  server: serverConfig,
  limits: limitsConfig,
  clientTrust: clientTrustConfig,
  auth: authConfig,
  bus: busConfig,
};

export type GatewayConfig = ConfigOf<typeof gatewaySections>;

/**
 * Rules that span sections. Besides the parsed deployment environment (undefined when GATEWAY_ENV itself is
 * invalid, which is reported already) they read whether variables are set, so they are reported in the same
 * single error as the schema problems even when those make the other sections unparseable.
 */
function crossSectionProblems(env: Env, environment: EnvironmentConfig | undefined): ConfigProblem[] {
  const isSet = (name: string): boolean => (env[name] ?? '') !== '';
  const problems: ConfigProblem[] = [];
  if (isSet('TLS_CERT_FILE') !== isSet('TLS_KEY_FILE')) {
    problems.push({
      variable: isSet('TLS_CERT_FILE') ? 'TLS_KEY_FILE' : 'TLS_CERT_FILE',
      expected: 'TLS_CERT_FILE and TLS_KEY_FILE set together',
      given: undefined,
    });
  }
  if (environment?.gatewayEnv === 'production') {
    if (!isSet('JWT_SECRET') && !isSet('JWT_PUBLIC_KEY') && !isSet('JWT_JWKS_URL')) {
      problems.push({
        variable: 'JWT_SECRET',
        expected: 'a JWT key in production (JWT_SECRET, JWT_PUBLIC_KEY or JWT_JWKS_URL)',
        given: undefined,
      });
    }
    if (env['JWT_SECRET'] === DEV_SECRET) {
      problems.push({ variable: 'JWT_SECRET', expected: 'a secret of your own in production, not the development default', given: undefined });
    }
    if (!isSet('ADMIN_TOKEN')) {
      problems.push({ variable: 'ADMIN_TOKEN', expected: 'an admin token in production', given: undefined });
    }
    const jwksUrl = (env['JWT_JWKS_URL'] ?? '').trim();
    if (jwksUrl !== '' && !jwksUrl.toLowerCase().startsWith('https://')) {
      // Keys fetched over plain HTTP can be swapped on the way: anyone on the path could mint valid tokens.
      problems.push({ variable: 'JWT_JWKS_URL', expected: 'an https:// URL in production', given: JSON.stringify(jwksUrl) });
    }
  }
  return problems;
}

/**
 * Loads the gateway's configuration (plus `extraSections`, e.g. embedded sources) from `env`. Throws ONE
 * ConfigError listing every problem found, schema and cross-section alike.
 */
export function loadGatewayConfig<Extra extends Record<string, ConfigSection>>(
  env: Env,
  extraSections: Extra,
): GatewayConfig & ConfigOf<Extra> {
  const { config, problems } = parseConfig(env, { ...gatewaySections, ...extraSections });
  const allProblems = [...problems, ...crossSectionProblems(env, config.environment)];
  if (allProblems.length > 0) {
    throw new ConfigError(allProblems);
  }
  return config as GatewayConfig & ConfigOf<Extra>;
}
