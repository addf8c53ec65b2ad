/**
 * The subscribing loop process of `throughput.ts`: `node --import tsx subscriber.ts <socketPath> <nodeId>`.
 * Counts `bench.quote` deliveries (checking their order) and reports progress on `bench.ack.<nodeId>` every
 * `ACK_EVERY` messages, with its CPU time, through the same loop bus.
 */
import { connectLoopBus } from '../src/index.js';

const ACK_EVERY = 1_000;

interface Quote {
  seq: number;
}

const [socketPath, nodeId] = process.argv.slice(2);
if (socketPath === undefined || nodeId === undefined) {
  process.stderr.write('usage: subscriber.ts <socketPath> <nodeId>\n');
  process.exit(2);
}

const bus = await connectLoopBus({ socketPath, nodeId });
bus.onStateChange((state) => {
  if (state === 'disconnected') {
    process.exit(0);
  }
});
let count = 0;
let expected = -1;
let outOfOrder = 0;
await bus.subscribe<Quote>('bench.quote', (message) => {
  count += 1;
  if (expected !== -1 && message.data.seq !== expected) {
    outOfOrder += 1;
  }
  expected = message.data.seq + 1;
  if (count % ACK_EVERY === 0) {
    const cpu = process.cpuUsage();
    void bus.publish(`bench.ack.${nodeId}`, { count, outOfOrder, cpuMs: (cpu.user + cpu.system) / 1_000 });
  }
});
process.stdout.write('ready\n');
