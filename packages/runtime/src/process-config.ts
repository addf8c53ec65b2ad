import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { z } from 'zod';
import { defineConfigSection, envList } from '@gw/config';

/** Settings every process (gateway or worker) has; the deployment environment is `environmentConfig`'s. */
export const processConfig = defineConfigSection({
  name: 'process',
  schema: z.object({
    logLevel: z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
        error: 'expected fatal, error, warn, info, debug, trace or silent',
      })
      .default('info'),
    logFormat: z.enum(['auto', 'json', 'pretty'], { error: 'expected auto, json or pretty' }).default('auto'),
    nodeId: z.string().min(1).max(100).optional(),
    /** Sources to run in this process; undefined means the app's default. */
    sources: envList().optional(),
  }),
  env: { LOG_LEVEL: 'logLevel', LOG_FORMAT: 'logFormat', NODE_ID: 'nodeId', SOURCES: 'sources' },
  docs: {
    logLevel: 'pino level.',
    logFormat: 'auto (default): readable lines when standard output is a terminal, JSON otherwise; json; pretty.',
    nodeId: 'Name of this process on the bus; default <hostname>-<random>.',
    sources: 'Comma list of data sources to run in this process.',
  },
});

/** A node id unique per process: readable host name plus a random suffix. */
export function defaultNodeId(): string {
  return `${hostname()}-${randomBytes(3).toString('hex')}`;
}
