import { randomBytes } from 'node:crypto';
import { BENCH_ADMIN_TOKEN, kilo, loadName, scaled, seconds, tokenFile, withGateway, withReference } from '../context.js';
import type { BenchContext } from '../context.js';
import { monotonicUs } from '../profile.js';
import { sampleProc } from '../proc.js';
import { fanoutRow, recordCpuSplit, recordWindow } from '../row.js';
import type { Row } from '../row.js';
import { runWsload } from '../wsload.js';
import type { Scenario } from './scenario.js';

/** The fan-out shapes of the issue: subscribers × messages per second. */
export const fanoutShapes = [
  { subscribers: 1_000, rate: 100 },
  { subscribers: 5_000, rate: 100 },
  { subscribers: 1_000, rate: 1_000 },
] as const;

/** Idle seconds between the last connection and the first publish. */
const SETTLE_S = 2;

/**
 * wsload's HTTP publisher pool (keep-alive connections, one request in flight on each). The schedule is meant
 * to be open-loop: with wsload's default pool of 4, a gateway answering a POST in more than 40 ms (a busy loop
 * fanning out to 5,000 sockets, or the extra Redis round trip of the Redis bus) held the publisher back, and
 * deliveries/s then measured the POST round trip instead of the fan-out. 64 keeps 1,000/s open-loop up to
 * 64 ms per POST and 100/s up to 640 ms.
 */
const PUBLISHER_POOL = 64;

/** Below this share of the scheduled rate, the publisher (not the fan-out) set the pace of a run. */
const PUBLISHER_BEHIND = 0.95;

export interface FanoutTarget {
  /** Subscriber URL and per-connection upgrade headers. */
  url: string;
  subscriberArgs: string[];
  /** Publisher: URL for HTTP POST, headers, content type and payload template (`{seq}` is wsload's counter). */
  pubArgs: string[];
  serverPid: number;
}

/** wsload's arguments for one fan-out run: N subscribers, R messages/s for D s, every delivery accounted. */
function fanoutArgs(ctx: BenchContext, target: FanoutTarget, subscribers: number, rate: number, label: string): string[] {
  return [
    '-u', target.url, ...target.subscriberArgs,
    ...target.pubArgs,
    '-c', String(subscribers),
    '-r', String(rate),
    '--pub-conns', String(PUBLISHER_POOL),
    '-d', String(seconds(ctx, 10, 3)),
    '--settle', String(SETTLE_S),
    '--drain', '4',
    '--server-pid', String(target.serverPid),
    '--label', label,
  ];
}

async function runShapes(
  ctx: BenchContext,
  scenario: string,
  server: Row['server'],
  target: FanoutTarget,
  shapes: readonly { subscribers: number; rate: number }[],
): Promise<Row[]> {
  const rows: Row[] = [];
  for (const shape of shapes) {
    const subscribers = scaled(ctx, shape.subscribers);
    const name = `${kilo(subscribers)} subs × ${shape.rate}/s`;
    ctx.log(`${scenario}: ${server}, ${name}`);
    const launchedUs = monotonicUs();
    const cpuBefore = sampleProc(target.serverPid);
    const result = await runWsload(ctx.wsload, fanoutArgs(ctx, target, subscribers, shape.rate, `${scenario} ${name}`), 120);
    const row = fanoutRow(loadName(ctx, scenario, shape.subscribers, `-${shape.rate}`), server, name, result);
    recordWindow(row, launchedUs, result, SETTLE_S);
    recordCpuSplit(row, cpuBefore, sampleProc(target.serverPid));
    row.facts['subscribers'] = subscribers;
    row.facts['rate'] = shape.rate;
    row.facts['pub_achieved_rate'] = result.pub_achieved_rate;
    // Every publish may have gone out (delivered/offered 1.0, which `fanoutRow` does not flag), only late.
    if (result.delivery_ratio_offered >= 0.999 && result.pub_achieved_rate < PUBLISHER_BEHIND * shape.rate) {
      row.notes.push(
        `the publisher fell behind (${result.pub_achieved_rate.toFixed(0)}/s of ${shape.rate}/s): deliveries/s measures the publish round trip, not the fan-out`,
      );
    }
    rows.push(row);
  }
  return rows;
}

/** The body of a signal publish: wsload's marker SEQ<n> travels in the symbol, which the gateway passes through unchanged. */
export const SIGNAL_PUBLISH_BODY = '{"type":"buy","content":{"symbol":"SEQ{seq}","price":1.5}}';

/** The gateway's signal endpoint as wsload sees it: Bearer token per connection, publishes via the admin API. */
export async function signalsTarget(ctx: BenchContext, http: string, ws: string, pid: number, subscribers: number): Promise<FanoutTarget> {
  return {
    url: `${ws}/ws/signals`,
    subscriberArgs: ['--tokens', await tokenFile(ctx, subscribers), '-H', 'Authorization: Bearer {token}'],
    pubArgs: [
      '--pub-http', `${http}/api/signals`,
      '--pub-header', `Authorization: Bearer ${BENCH_ADMIN_TOKEN}`,
      '--content-type', 'application/json',
      '--payload', SIGNAL_PUBLISH_BODY,
    ],
    serverPid: pid,
  };
}

/** The reference rows: the same fan-out shapes against the minimal uWS server. */
export const referenceFanout: Scenario = {
  name: 'reference',
  description: 'wsload against the minimal uWebSockets.js server (app.publish): the reference fan-out rows',
  run: (ctx) =>
    withReference(ctx, ({ process, port }) =>
      runShapes(
        ctx,
        'fanout',
        'uWS reference',
        {
          url: `ws://127.0.0.1:${port}/ws`,
          subscriberArgs: [],
          pubArgs: ['--pub-http', `http://127.0.0.1:${port}/pub`, '--payload', 'SEQ{seq}'],
          serverPid: process.pid,
        },
        fanoutShapes,
      ),
    ),
};

/** Signal fan-out through the gateway on the embedded (memory) bus: every shape on one gateway process. */
export const signalsFanout: Scenario = {
  name: 'signals',
  description: 'signal broadcast (legacy signal protocol) fan-out through the gateway, memory bus: 1k and 5k × 100/s, 1k × 1000/s',
  run: (ctx) =>
    withGateway(ctx, {}, async (gateway) => {
      const target = await signalsTarget(ctx, gateway.http, gateway.ws, gateway.process.pid, scaled(ctx, 5_000));
      return runShapes(ctx, 'fanout', 'gateway', target, fanoutShapes);
    }),
};

/** The same signal fan-out with the Redis bus (publish → Redis → the gateway's subscriber → clients). */
export const signalsRedisFanout: Scenario = {
  name: 'signals-redis',
  description: 'signal fan-out 5k × 100/s through the gateway on the Redis bus (unique key prefix per run)',
  run: async (ctx) => {
    const redis = await ctx.redis();
    if (typeof redis === 'string') {
      ctx.log(`signals-redis skipped: ${redis}`);
      return [];
    }
    const prefix = `bench:${randomBytes(4).toString('hex')}:`;
    try {
      return await withGateway(ctx, { REDIS_URL: redis.url, REDIS_KEY_PREFIX: prefix }, async (gateway) => {
        const target = await signalsTarget(ctx, gateway.http, gateway.ws, gateway.process.pid, scaled(ctx, 5_000));
        return runShapes(ctx, 'fanout', 'gateway, Redis bus', target, [{ subscribers: 5_000, rate: 100 }]);
      });
    } finally {
      await redis.deletePrefix(prefix).catch((error: unknown) => {
        ctx.log(`could not delete the Redis keys under ${prefix}: ${String(error)}`);
      });
    }
  },
};

/** Exposed for the profile run: the 5k × 100/s shape alone against a gateway started with `--cpu-prof`. */
export async function profileSignals(ctx: BenchContext): Promise<Row[]> {
  return withGateway(
    ctx,
    {},
    async (gateway) => {
      const target = await signalsTarget(ctx, gateway.http, gateway.ws, gateway.process.pid, scaled(ctx, 5_000));
      return runShapes(ctx, 'profile-fanout', 'gateway', target, [{ subscribers: 5_000, rate: 100 }]);
    },
    { profile: true },
  );
}
