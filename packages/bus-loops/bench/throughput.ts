/**
 * Messages per second from a publisher on the host's own memory node to subscribers in forked loop
 * processes (`subscriber.ts`) over the loop bus. Run by hand, alone on the machine:
 *
 *   flock /tmp/bench.lock node --import tsx packages/bus-loops/bench/throughput.ts [seconds]
 *
 * For 1 and then 2 subscribing processes: the publisher keeps at most WINDOW messages ahead of the slowest
 * subscriber (each acknowledges every ACK_EVERY on the bus), so the figure is what the path sustains, not
 * what piles up in buffers. Reported: deliveries per second per subscriber, and CPU of both sides.
 */
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createMemoryBus } from '@gw/bus-memory';
import { createLogger } from '@gw/core';
import { createBusHost } from '../src/index.js';

const WINDOW = 50_000;
const BATCH = 2_000;
const WARMUP_MS = 1_500;
const seconds = Number(process.argv[2] ?? 5);
// `profile` as the second argument: every subscriber process writes a CPU profile into the working directory.
const childFlags = process.argv[3] === 'profile' ? ['--cpu-prof', '--cpu-prof-dir', process.cwd()] : [];
const subscriberScript = fileURLToPath(new URL('./subscriber.ts', import.meta.url));
// Where tsx resolves from, whatever the working directory.
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

interface Ack {
  count: number;
  outOfOrder: number;
  cpuMs: number;
}

function pause(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

async function run(children: number): Promise<void> {
  const socketPath = join(tmpdir(), `gw-bus-loops-bench-${process.pid}-${children}.sock`);
  const host = await createBusHost({ socketPath, logger: createLogger({ level: 'warn', name: 'bus-host' }) });
  const publisher = createMemoryBus({ hub: host.hub, nodeId: 'primary' });
  const acks = new Map<string, Ack>();
  let wake: (() => void) | undefined;
  await publisher.subscribe<Ack>('bench.ack.*', (message) => {
    acks.set(message.topic, message.data);
    wake?.();
  });
  const processes = Array.from({ length: children }, (_, i) =>
    spawn(process.execPath, [...childFlags, '--import', 'tsx', subscriberScript, socketPath, `sub-${i + 1}`], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'inherit'],
    }),
  );
  await Promise.all(
    processes.map(
      (child) =>
        new Promise<void>((resolve) => {
          createInterface({ input: child.stdout }).once('line', () => {
            resolve();
          });
        }),
    ),
  );

  const slowest = (): number =>
    acks.size < children ? 0 : Math.min(...[...acks.values()].map((a) => a.count));
  let published = 0;
  const quote = { symbol: '600519', name: 'Kweichow Moutai', price: 1712.35, change: 0.0123, volume: 123_456 };
  const pump = async (until: number): Promise<void> => {
    while (Date.now() < until) {
      const ahead = published - slowest();
      if (ahead >= WINDOW) {
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
        continue;
      }
      for (let i = Math.min(BATCH, WINDOW - ahead); i > 0; i -= 1) {
        void publisher.publish('bench.quote', { ...quote, seq: published, ts: Date.now() });
        published += 1;
      }
      await pause();
    }
  };

  const drained = async (done: () => boolean): Promise<void> => {
    while (!done()) {
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
  };

  await pump(Date.now() + WARMUP_MS);
  // Measured between two moments when every subscriber has caught up: the rate the slowest sustains.
  await drained(() => slowest() >= published - (published % 1_000));
  const start = { at: performance.now(), received: slowest(), acks: new Map(acks), cpu: process.cpuUsage() };
  await pump(Date.now() + seconds * 1_000);
  await drained(() => slowest() >= published - (published % 1_000));
  const elapsedS = (performance.now() - start.at) / 1_000;
  const hostCpu = process.cpuUsage(start.cpu);
  const rows = [...acks.entries()].sort().map(([topic, ack]) => {
    const before = start.acks.get(topic) ?? { count: 0, cpuMs: 0, outOfOrder: 0 };
    return {
      subscriber: topic.slice('bench.ack.'.length),
      cpuPercent: Math.round((ack.cpuMs - before.cpuMs) / 10 / elapsedS),
      outOfOrder: ack.outOfOrder,
    };
  });
  const perSubscriber = Math.round((slowest() - start.received) / elapsedS);
  process.stdout.write(
    `${JSON.stringify({
      subscribers: children,
      seconds: Math.round(elapsedS * 10) / 10,
      msgsPerSecPerSubscriber: perSubscriber,
      deliveriesPerSec: perSubscriber * children,
      hostCpuPercent: Math.round((hostCpu.user + hostCpu.system) / 10_000 / elapsedS),
      subscriberProcesses: rows,
    })}\n`,
  );
  await publisher.close();
  await host.close();
  await Promise.all(processes.map((child) => new Promise((resolve) => child.once('exit', resolve))));
}

for (const children of [1, 2]) {
  await run(children);
}
