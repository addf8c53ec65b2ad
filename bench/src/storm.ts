// The reconnect storm at full scale (docs/benchmarks.md, "Reconnect storm"): the same run as
// infra/tests/storm.test.ts — gateways on a private Redis behind the kit's nginx, one SIGKILLed while signals are
// published — with the counts given here, printing the time until every dropped client is back and what was lost.
//
//   pnpm --filter @gw/bench storm -- --signals 10000 --socketio 3000 --rate 2
//
// The clients are spread over client processes (--client-processes), so no single client event loop is what is
// measured; the CPU each party used during the storm (/proc) is printed to show what bounded it.
import { parseArgs } from 'node:util';
import { stopAll } from '../../infra/tests/support/processes.js';
import { runReconnectStorm } from '../../infra/tests/support/storm.js';

const usage = `usage: pnpm --filter @gw/bench storm -- [--signals N] [--socketio N] [--gateways N] [--rate N] [--jitter-ms N]
       [--client-processes N] [--sio-delay-ms N] [--sio-randomization F] [--nginx-backlog N]
  --signals            signal clients (default 10000)
  --socketio           Socket.IO clients (default 3000)
  --gateways           gateway processes behind nginx, one of them killed (default 3)
  --rate               signals published per second throughout (default 5)
  --jitter-ms          upper bound of a signal client's random wait before reconnecting (default 1000)
  --client-processes   processes the clients are spread over (default 2)
  --sio-delay-ms       socket.io-client reconnectionDelay (default: the library's 1000)
  --sio-randomization  socket.io-client randomizationFactor, 0..1 (default: the library's 0.5)
  --nginx-backlog      nginx listen backlog (default: the kit's nginx.conf)`;

async function main(): Promise<number> {
  // `pnpm storm -- --signals N` passes the `--` on.
  const args = process.argv.slice(2).filter((arg, i) => !(i === 0 && arg === '--'));
  const { values } = parseArgs({
    args,
    options: {
      signals: { type: 'string', default: '10000' },
      socketio: { type: 'string', default: '3000' },
      gateways: { type: 'string', default: '3' },
      rate: { type: 'string', default: '5' },
      'jitter-ms': { type: 'string', default: '1000' },
      'client-processes': { type: 'string', default: '2' },
      'sio-delay-ms': { type: 'string' },
      'sio-randomization': { type: 'string' },
      'nginx-backlog': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(usage);
    return 0;
  }
  const number = (name: string, raw: string, min: number): number => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) {
      throw new Error(`--${name}: expected a whole number ≥ ${min}, got "${raw}"\n${usage}`);
    }
    return n;
  };
  const signalClients = number('signals', values.signals, 1);
  const socketIoClients = number('socketio', values.socketio, 0);
  const randomization = values['sio-randomization'] === undefined ? undefined : Number(values['sio-randomization']);
  if (randomization !== undefined && !(randomization >= 0 && randomization <= 1)) {
    throw new Error(`--sio-randomization: expected 0..1, got "${values['sio-randomization'] ?? ''}"\n${usage}`);
  }
  const started = Date.now();
  const result = await runReconnectStorm({
    signalClients,
    socketIoClients,
    gateways: number('gateways', values.gateways, 2),
    publishPerSecond: number('rate', values.rate, 1),
    reconnectJitterMs: number('jitter-ms', values['jitter-ms'], 0),
    reconnectDeadlineMs: 180_000,
    clientProcesses: number('client-processes', values['client-processes'], 1),
    ...(values['sio-delay-ms'] === undefined ? {} : { socketIoReconnectionDelayMs: number('sio-delay-ms', values['sio-delay-ms'], 0) }),
    ...(randomization === undefined ? {} : { socketIoRandomizationFactor: randomization }),
    ...(values['nginx-backlog'] === undefined ? {} : { nginxBacklog: number('nginx-backlog', values['nginx-backlog'], 1) }),
    // Two connections per client through nginx (client side, gateway side), in two workers.
    nginxWorkerConnections: Math.min(19_000, Math.max(8192, signalClients + socketIoClients + 2048)),
    log: (line) => {
      console.error(`[storm ${new Date().toISOString().slice(11, 19)}] ${line}`);
    },
  });
  console.log(JSON.stringify({ ...result, elapsedS: (Date.now() - started) / 1000 }, null, 2));
  const ok =
    result.signals.dropped === result.signals.onVictim &&
    result.socketIo.dropped === result.socketIo.onVictim &&
    result.signals.openAtEnd === signalClients &&
    result.socketIo.openAtEnd === socketIoClients &&
    result.signals.wrongSequence === 0;
  console.log(
    `\n${result.signals.onVictim} signal + ${result.socketIo.onVictim} Socket.IO clients of ${result.victim} back in ${result.secondsToAllBack.toFixed(2)} s ` +
      `(half in ${result.secondsToHalfBack.toFixed(2)} s; signal clients ${result.signals.secondsToAllBack.toFixed(2)} s, Socket.IO ${result.socketIo.secondsToAllBack.toFixed(2)} s); signal clients with a lost, duplicated or reordered signal: ${result.signals.wrongSequence} ` +
      `of ${signalClients} (${result.published} published, ${result.publishFailures} publishes unanswered); survivors' clients dropped: ${result.signals.dropped - result.signals.onVictim + result.socketIo.dropped - result.socketIo.onVictim}; ` +
      `first connect ${result.secondsToConnect.toFixed(1)} s; load average ${result.machine.loadAverage.toFixed(2)} on ${result.machine.cores} cores; ` +
      `failed reconnect attempts ${JSON.stringify({ ...result.signals.failedAttempts, ...result.socketIo.failedAttempts })}; listen backlog overflows ${result.machine.listenOverflows}`,
  );
  const cores = Object.entries(result.cpu).map(([name, value]) => `${name} ${value.toFixed(2)}`).join(', ');
  const loops = result.clientProcesses.map((p) => `${p.clients} clients: ${p.cores.toFixed(2)} cores, loop delay max ${p.loopDelayMaxMs.toFixed(0)} ms`).join('; ');
  if (result.signals.notRecovered > 0) {
    console.log(`recovery frames with recovered: false: ${JSON.stringify(result.signals.notRecoveredReasons)}; survivors' "signal history unavailable" warnings: ${result.signals.historyUnavailable}`);
  }
  console.log(`CPU during the storm (cores): ${cores}\nclient processes: ${loops}; coordinator loop delay max ${result.coordinator.loopDelayMaxMs.toFixed(0)} ms`);
  return ok ? 0 : 1;
}

main()
  .then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      console.error('storm failed:', error);
      process.exitCode = 1;
    },
  )
  .finally(() => stopAll());
