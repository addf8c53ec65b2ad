import { BENCH_JWT_SECRET, kilo, loadName, scaled, tokenFile, withGateway, withReference } from '../context.js';
import type { BenchContext, BenchGateway } from '../context.js';
import { baseRow } from '../row.js';
import type { Row } from '../row.js';
import { writeTokenFile } from '../tokens.js';
import { runWsload } from '../wsload.js';
import type { WsloadRun } from '../wsload.js';
import type { Scenario } from './scenario.js';

/** Connection arguments of each kind of client wsload can be. */
interface ClientKind {
  label: string;
  args: (gateway: { ws: string }, tokens: string) => string[];
}

const rawWs: ClientKind = {
  label: 'raw WebSocket (signals, JWT)',
  args: (gateway, tokens) => ['-u', `${gateway.ws}/ws/signals`, '--tokens', tokens, '-H', 'Authorization: Bearer {token}'],
};

const socketIo: ClientKind = {
  label: 'Socket.IO (JWT in auth)',
  args: (gateway, tokens) => [
    '-u', `${gateway.ws}/socket.io/?EIO=4&transport=websocket`,
    '--sio', '--tokens', tokens, '--sio-auth', '{"token":"{token}"}',
  ],
};

/** Opens `conns` connections, waits `settleS`, and lets wsload sample the server's RSS before and after. */
async function openAndHold(ctx: BenchContext, args: string[], conns: number, settleS: number, pid: number, label: string): Promise<WsloadRun> {
  return runWsload(
    ctx.wsload,
    [...args, '-c', String(conns), '--settle', String(settleS), '--server-pid', String(pid), '--label', label],
    180,
  );
}

function idleRow(scenario: string, server: Row['server'], shape: string, result: WsloadRun): Row {
  const row = baseRow(scenario, server, shape, result);
  row.rssPerConnKb = result.rss_per_conn_kb;
  row.facts['rss_idle_mb'] = result.server_rss_mb_idle;
  row.facts['rss_before_mb'] = result.server_rss_mb_before;
  row.notes.push(`RSS ${result.server_rss_mb_before.toFixed(0)} MB before, ${result.server_rss_mb_idle.toFixed(0)} MB with ${result.conns_open} idle connections`);
  return row;
}

function handshakeRow(scenario: string, server: Row['server'], shape: string, result: WsloadRun): Row {
  const row = baseRow(scenario, server, shape, result);
  row.handshakesPerS = result.connect_phase_s > 0 ? result.conns_open / result.connect_phase_s : undefined;
  row.notes.push(
    `handshake time (connect → upgrade${result.mode === 'socketio' ? ' → namespace connected' : ''}) p50 ${(result.connect_us.p50 / 1000).toFixed(1)} ms, ` +
      `p99 ${(result.connect_us.p99 / 1000).toFixed(1)} ms, 128 in flight`,
  );
  row.facts['connect_p99_ms'] = result.connect_us.p99 / 1000;
  return row;
}

async function gatewayIdle(ctx: BenchContext, kind: ClientKind, full: number, scenario: string): Promise<Row> {
  const conns = scaled(ctx, full);
  return withGateway(ctx, {}, async (gateway: BenchGateway) => {
    ctx.log(`idle: ${kilo(conns)} ${kind.label}`);
    const result = await openAndHold(ctx, kind.args(gateway, await tokenFile(ctx, conns)), conns, 5, gateway.process.pid, scenario);
    return idleRow(scenario, 'gateway', `${kilo(conns)} idle ${kind.label}`, result);
  });
}

/** Idle capacity: 10k raw WebSocket and 5k Socket.IO connections on fresh gateways, 10k on the reference. */
export const idleCapacity: Scenario = {
  name: 'idle',
  description: 'idle capacity: 10k raw WebSocket and 5k Socket.IO connections (fresh gateway each), RSS per connection; 10k on the reference',
  run: async (ctx) => {
    const conns = scaled(ctx, 10_000);
    const reference = await withReference(ctx, async ({ process, port }) => {
      ctx.log(`idle: ${kilo(conns)} raw WebSocket on the reference`);
      const result = await openAndHold(ctx, ['-u', `ws://127.0.0.1:${port}/ws`], conns, 5, process.pid, 'idle-reference');
      return idleRow(loadName(ctx, 'idle-ws', 10_000), 'uWS reference', `${kilo(conns)} idle raw WebSocket`, result);
    });
    return [
      reference,
      await gatewayIdle(ctx, rawWs, 10_000, loadName(ctx, 'idle-ws', 10_000)),
      await gatewayIdle(ctx, socketIo, 5_000, loadName(ctx, 'idle-sio', 5_000)),
    ];
  },
};

/**
 * Handshakes per second with JWT verification (distinct tokens), raw WebSocket and Socket.IO; the reference
 * without auth. Each gateway kind is measured twice on the same process: first with tokens it has never seen
 * (every handshake verifies a signature), then again with the same tokens, as clients reconnecting after a
 * node or proxy restart present the token they had (answered by the token verification cache). A gateway
 * with `TOKEN_CACHE_SIZE=0` repeats the raw WebSocket pair: the reconnect pass without the cache.
 */
export const handshakes: Scenario = {
  name: 'handshakes',
  description:
    'handshakes per second with JWT verification (distinct HS256 tokens): raw WebSocket and Socket.IO, first presentation and again (token cache), the again pass with the cache off; reference without auth',
  run: async (ctx) => {
    const wsConns = scaled(ctx, 3_000);
    const sioConns = scaled(ctx, 2_000);
    const reference = await withReference(ctx, async ({ process, port }) => {
      ctx.log(`handshakes: ${kilo(wsConns)} on the reference`);
      const result = await openAndHold(ctx, ['-u', `ws://127.0.0.1:${port}/ws`], wsConns, 1, process.pid, 'handshakes-reference');
      return handshakeRow('handshakes-ws', 'uWS reference', `${kilo(wsConns)} raw WebSocket, no auth`, result);
    });
    const gatewayRows = await withGateway(ctx, {}, async (gateway) => {
      ctx.log(`handshakes: ${kilo(wsConns)} raw WebSocket, ${kilo(sioConns)} Socket.IO on the gateway, each twice`);
      const wsTokens = await tokenFile(ctx, wsConns);
      // Subjects of their own: the raw WebSocket tokens of subjects 1..3k could equal these byte for byte (same
      // secret, same second), and the first Socket.IO pass would then be answered from the cache.
      const sioTokens = await writeTokenFile({ dir: ctx.tmpDir, name: `tokens-sio-${sioConns}.txt`, secret: BENCH_JWT_SECRET, count: sioConns, first: 1_000_001 });
      const ws = await openAndHold(ctx, rawWs.args(gateway, wsTokens), wsConns, 1, gateway.process.pid, 'handshakes-ws');
      const wsAgain = await openAndHold(ctx, rawWs.args(gateway, wsTokens), wsConns, 1, gateway.process.pid, 'handshakes-ws-again');
      const sio = await openAndHold(ctx, socketIo.args(gateway, sioTokens), sioConns, 1, gateway.process.pid, 'handshakes-sio');
      const sioAgain = await openAndHold(ctx, socketIo.args(gateway, sioTokens), sioConns, 1, gateway.process.pid, 'handshakes-sio-again');
      return [
        handshakeRow('handshakes-ws', 'gateway', `${kilo(wsConns)} ${rawWs.label}`, ws),
        handshakeRow('handshakes-ws-again', 'gateway', `${kilo(wsConns)} ${rawWs.label}, tokens seen before`, wsAgain),
        handshakeRow('handshakes-sio', 'gateway', `${kilo(sioConns)} ${socketIo.label}`, sio),
        handshakeRow('handshakes-sio-again', 'gateway', `${kilo(sioConns)} ${socketIo.label}, tokens seen before`, sioAgain),
      ];
    });
    const uncachedRows = await withGateway(ctx, { TOKEN_CACHE_SIZE: '0' }, async (gateway) => {
      ctx.log(`handshakes: ${kilo(wsConns)} raw WebSocket twice on a gateway without the token cache`);
      const wsTokens = await tokenFile(ctx, wsConns);
      const ws = await openAndHold(ctx, rawWs.args(gateway, wsTokens), wsConns, 1, gateway.process.pid, 'handshakes-ws-nocache');
      const wsAgain = await openAndHold(ctx, rawWs.args(gateway, wsTokens), wsConns, 1, gateway.process.pid, 'handshakes-ws-again-nocache');
      return [
        handshakeRow('handshakes-ws', 'gateway', `${kilo(wsConns)} ${rawWs.label}, TOKEN_CACHE_SIZE=0`, ws),
        handshakeRow('handshakes-ws-again', 'gateway', `${kilo(wsConns)} ${rawWs.label}, tokens seen before, TOKEN_CACHE_SIZE=0`, wsAgain),
      ];
    });
    return [reference, ...gatewayRows, ...uncachedRows];
  },
};
