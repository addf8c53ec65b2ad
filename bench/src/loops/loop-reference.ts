/**
 * The minimal uWS broadcast server (see ../reference-server.ts) on several event loops, to decide how the
 * gateway uses every core: LOOP_MODE=threads runs LOOPS worker threads in one process, LOOP_MODE=processes
 * runs LOOPS processes under a node:cluster primary. Either way every loop listens on PORT itself (the kernel
 * spreads connections over the loops: SO_REUSEPORT, which uWS sets for a non-zero port); a `POST /pub`
 * reaches one loop, which publishes it to its own subscribers and relays it to the others (threads: a
 * BroadcastChannel; processes: the primary over IPC), as a gateway's bus would. Nothing else.
 *
 * `MIX=1`: every loop also serves the mixed scenario's trading and stock clients (`addMixRoutes`).
 *
 * `PORT=18090 LOOPS=2 LOOP_MODE=processes node --import tsx bench/src/loops/loop-reference.ts`
 */
import cluster from 'node:cluster';
import { BroadcastChannel, Worker, isMainThread } from 'node:worker_threads';
import { referenceApp } from '../reference-app.js';

const port = Number(process.env['PORT'] ?? '18090');
const loops = Math.max(1, Number(process.env['LOOPS'] ?? '2'));
const mode = process.env['LOOP_MODE'] === 'threads' ? 'threads' : 'processes';
const mix = process.env['MIX'] === '1' ? {} : undefined;

function runLoop(relay: (body: Buffer) => void, onRelayed: (listener: (body: Buffer) => void) => void): void {
  const app = referenceApp(relay, mix === undefined ? {} : { mix });
  onRelayed((body) => {
    app.publish('all', body, false);
  });
  app.listen('127.0.0.1', port, (token) => {
    if (token === false) {
      console.error(`loop-reference: cannot listen on 127.0.0.1:${port}`);
      process.exit(1);
    }
  });
}

if (mode === 'threads') {
  if (isMainThread) {
    for (let i = 0; i < loops; i += 1) {
      // A worker does not inherit tsx's loader: the thread registers it, then loads this file.
      const entry = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(import.meta.url)}); })`;
      new Worker(entry, { eval: true });
    }
    console.log(`loop-reference: ${loops} threads on 127.0.0.1:${port}`);
    process.on('SIGTERM', () => process.exit(0));
  } else {
    const channel = new BroadcastChannel('loop-reference');
    runLoop(
      (body) => {
        channel.postMessage(body);
      },
      (listener) => {
        channel.onmessage = (event) => {
          listener(Buffer.from((event as { data: Uint8Array }).data));
        };
      },
    );
  }
} else if (cluster.isPrimary) {
  const workers = Array.from({ length: loops }, () => cluster.fork());
  for (const worker of workers) {
    worker.on('message', (message: { body: string }) => {
      for (const other of workers) {
        if (other !== worker) {
          other.send(message);
        }
      }
    });
  }
  console.log(`loop-reference: ${loops} processes on 127.0.0.1:${port}`);
  process.on('SIGTERM', () => {
    for (const worker of workers) {
      worker.process.kill('SIGTERM');
    }
    process.exit(0);
  });
} else {
  runLoop(
    (body) => {
      process.send?.({ body: body.toString('latin1') });
    },
    (listener) => {
      process.on('message', (message: { body: string }) => {
        listener(Buffer.from(message.body, 'latin1'));
      });
    },
  );
  process.on('SIGTERM', () => process.exit(0));
}
