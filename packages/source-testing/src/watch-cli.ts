import { parseArgs } from 'node:util';
import { busRedisConfig } from '@gw/bus-redis';
import { ConfigError, envInt, loadConfig } from '@gw/config';
import { watchTopics } from './watch.js';

const usage = `Usage: pnpm --filter @gw/source-testing watch-topics --pattern TOPIC_OR_PREFIX.* [--count N] [--timeout-ms MS]

Prints every message published on the Redis bus (REDIS_URL, REDIS_KEY_PREFIX) on the topics matching the
pattern, one JSON envelope per line. Exits 0 after N messages (default: runs until Ctrl-C), 1 when the time
runs out first or Redis does not answer.`;

const positive = envInt(1, 1_000_000_000);

/** A positive whole number option, or a usage error naming it. */
function positiveOption(name: string, value: string | undefined): number | undefined {
  if (value === undefined) {
    return undefined;
  }
  const parsed = positive.safeParse(value);
  if (!parsed.success) {
    throw new Error(`--${name}: expected a whole number from 1 to 1000000000, given ${JSON.stringify(value)}`);
  }
  return parsed.data;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { pattern: { type: 'string' }, count: { type: 'string' }, 'timeout-ms': { type: 'string' }, help: { type: 'boolean' } },
    strict: true,
  });
  if (values.help === true || values.pattern === undefined) {
    console.log(usage);
    return values.help === true ? 0 : 1;
  }
  const { bus } = loadConfig(process.env, { bus: busRedisConfig });
  if (bus.redisUrl === undefined) {
    console.error('watch-topics: set REDIS_URL (the bus the workers publish on)');
    return 1;
  }
  const count = positiveOption('count', values.count);
  const timeoutMs = positiveOption('timeout-ms', values['timeout-ms']);
  const abort = new AbortController();
  process.once('SIGINT', () => {
    abort.abort();
  });
  process.once('SIGTERM', () => {
    abort.abort();
  });
  await watchTopics({
    redisUrl: bus.redisUrl,
    keyPrefix: bus.keyPrefix,
    pattern: values.pattern,
    ...(count === undefined ? {} : { count }),
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
    signal: abort.signal,
    onReady: () => {
      console.error(`watch-topics: watching ${values.pattern ?? ''}`);
    },
    onMessage: (message) => {
      console.log(JSON.stringify(message));
    },
  });
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(`watch-topics: ${error instanceof ConfigError || error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  },
);
