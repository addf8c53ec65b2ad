// The Node consumer: `node app.mjs '<options as JSON>'`, no TypeScript runner. It prints one JSON line per event
// and closes its clients when its standard input ends, after which Node exits on its own (nothing left running).
import { WebSocket } from 'ws';
import * as sdk from '@gw/client';
import { follow } from './session.mjs';

const options = JSON.parse(process.argv[2]);
const report = (event, data) => {
  process.stdout.write(`${JSON.stringify({ event, data })}\n`);
};

const stop = await follow(sdk, { ...options, WebSocket }, report);
process.stdin.on('end', () => {
  report('closed', { lastSignalId: stop() });
});
process.stdin.resume();
