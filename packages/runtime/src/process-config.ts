import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { z } from 'zod';
import { defineConfigSection, envList } from '@gw/config';

/** Settings every process (gateway or worker) has. */
export const processConfig = defineConfigSection({
  name: 'process',
  schema: z.object({
    env: z.enum(['development', 'production', 'test'], { error: 'expected development, production or test' }).default('development'),
    logLevel: z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
        error: 'expected fatal, error, warn, info, debug, trace or silent',
      })
      .default('info'),
    nodeId: z.string().min(1).max(100).optional(),
    /** Sources to run in this process; undefined means the app's default. */
    sources: envList().optional(),
  }),
  env: { GATEWAY_ENV: 'env', LOG_LEVEL: 'logLevel', NODE_ID: 'nodeId', SOURCES: 'sources' },
  docs: {
    env: 'development (default), production (requires JWT keys and ADMIN_TOKEN), test.',
    logLevel: 'pino level.',
    nodeId: 'Name of this process on the bus; default <hostname>-<random>.',
    sources: 'Comma list of data sources to run in this process.',
  },
});

/** A node id unique per process: readable host name plus a random suffix. */
export function defaultNodeId(): string {
  return `${hostname()}-${randomBytes(3).toString('hex')}`;
}
