/**
 * A loop process for the tests: `node --import tsx loop-child.ts <socketPath> <nodeId> <pattern> <interestTopic>`.
 * Connects a loop bus, subscribes to `pattern`, declares interest in `interestTopic` and prints `{"ready":pid}`;
 * then prints every delivery as one JSON line and echoes its data to `echo.<topic>` on the bus. Exits when it
 * loses the bus host.
 */
import { connectLoopBus } from '../index.js';

const [socketPath, nodeId, pattern, interestTopic] = process.argv.slice(2);
if (socketPath === undefined || nodeId === undefined || pattern === undefined || interestTopic === undefined) {
  process.stderr.write('usage: loop-child.ts <socketPath> <nodeId> <pattern> <interestTopic>\n');
  process.exit(2);
}

function report(error: unknown): void {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
}

const bus = await connectLoopBus({ socketPath, nodeId, onError: report });
bus.onStateChange((state) => {
  if (state === 'disconnected') {
    process.exit(1);
  }
});
await bus.subscribe(pattern, (message) => {
  process.stdout.write(`${JSON.stringify({ topic: message.topic, data: message.data, id: message.id })}\n`);
  bus.publish(`echo.${message.topic}`, message.data).catch(report);
});
await bus.declareInterest(interestTopic);
process.stdout.write(`${JSON.stringify({ ready: process.pid })}\n`);
