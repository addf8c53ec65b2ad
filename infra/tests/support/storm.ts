// A reconnect storm through the deployment kit's nginx: gateways on a private Redis behind nginx, signal and
// Socket.IO clients connected through it, one gateway SIGKILLed while signals are published at a steady rate,
// every client of that gateway reconnecting to the others. Used by infra/tests/storm.test.ts with counts a
// loaded CI machine carries, and by bench/src/storm.ts at full scale.
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { NGINX, nginxArgs, nginxClusterConfig } from './nginx.js';
import { INFRA_DIR, freePort, httpGet, spawnLogged, startGateway, waitUntil } from './processes.js';
import type { ServiceProcess, Spawned } from './processes.js';
import { startPrivateRedis } from './redis-server.js';
import type { PrivateRedis } from './redis-server.js';
import { epochNow } from './storm-clients.js';
import type { ClientProcessLoad, ClientProcessRequest, ClientProcessSetup, ClientProcessStatus, ClientReport, SignalClientReport } from './storm-clients.js';

export interface StormOptions {
  signalClients: number;
  socketIoClients: number;
  /** Gateway processes (at least 2: one is killed). */
  gateways: number;
  /** Signals published per second, steadily, from before the kill until everyone is back. */
  publishPerSecond: number;
  /** Upper bound of a signal client's random wait before reconnecting (ms). */
  reconnectJitterMs: number;
  /** How long everyone may take to come back before the storm counts as failed (ms). */
  reconnectDeadlineMs: number;
  /** nginx connections per worker (see nginxClusterConfig). */
  nginxWorkerConnections?: number;
  /** nginx's listen backlog (`listen … backlog=N`; the kit's value when not given). */
  nginxBacklog?: number;
  /**
   * Client processes the clients are spread over (default 2), each with its own event loop: one process holding
   * thousands of clients stalls, and its late timestamps would be measured instead of the gateways.
   */
  clientProcesses?: number;
  /** socket.io-client's reconnectionDelay (ms) and randomizationFactor (library defaults 1000 and 0.5). */
  socketIoReconnectionDelayMs?: number;
  socketIoRandomizationFactor?: number;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

/** Per client kind: how many there were on the killed node and how they fared. */
export interface StormKindResult {
  total: number;
  /** SIGKILL → the last dropped client of this kind open again, seconds (NaN when none dropped). */
  secondsToAllBack: number;
  /** On the killed gateway when it was killed (its own stats). */
  onVictim: number;
  /** Clients that lost a connection at least once. */
  dropped: number;
  /** Clients that lost a connection more than once. */
  droppedTwice: number;
  /** Clients open at the end. */
  openAtEnd: number;
  /** Reconnect attempts that failed, by what happened, over all clients of this kind. */
  failedAttempts: Record<string, number>;
}

export interface StormResult {
  victim: string;
  /** Connections per node (signals + Socket.IO) just before the kill. */
  before: Record<string, number>;
  /** Connections per surviving node once everyone was back. */
  after: Record<string, number>;
  signals: StormKindResult & {
    /** Signal clients whose ids differ from the published list (lost, duplicated or out of order). */
    wrongSequence: number;
    /** Examples of what differed, for a failure message. */
    examples: string[];
    /** Recovery frames with `recovered: false`, and their `reason`s counted. */
    notRecovered: number;
    notRecoveredReasons: Record<string, number>;
    /** "signal history unavailable" warnings of the surviving gateways (a history read from Redis that failed). */
    historyUnavailable: number;
  };
  socketIo: StormKindResult;
  /** Signals published in all (steadily, through the storm), with an id answered. */
  published: number;
  /** Publishes that got no answer (timeout, reset): they may have been delivered, under an id not known here. */
  publishFailures: number;
  /** SIGKILL → the last dropped client open again (signals: upgraded; Socket.IO: greeted), seconds. */
  secondsToAllBack: number;
  /** SIGKILL → half of the dropped clients back, seconds. */
  secondsToHalfBack: number;
  /** Opening every client the first time (all client processes at once), seconds. */
  secondsToConnect: number;
  /**
   * Each client process during the storm, SIGKILL → all back: its clients, CPU in cores and its event loop's
   * longest delay. Near one core, or delays of seconds, mean the clients themselves were part of the limit.
   */
  clientProcesses: ClientProcessLoad[];
  /** This coordinating process (the publisher and the polling of the client processes), the same way. */
  coordinator: { cores: number; loopDelayMaxMs: number };
  /**
   * CPU in cores, SIGKILL → all back, from /proc: each surviving gateway, nginx (master and workers), Redis,
   * the client processes together, this coordinating process, and the whole machine (busy time of all cores).
   */
  cpu: Record<string, number>;
  /**
   * This machine's cores, its 1-minute load average when everyone was back, and the connections its kernel
   * dropped meanwhile because a listen backlog (nginx's, a gateway's) was full: machine-wide, so another
   * program's overflow would count too.
   */
  machine: { cores: number; loadAverage: number; listenOverflows: number };
}

interface Cluster {
  gateways: { name: string; gateway: ServiceProcess }[];
  nginx: Spawned;
  redis: PrivateRedis;
  base: string;
  adminToken: string;
  stop(): Promise<void>;
}

const JWT_SECRET = 'storm-test-secret-0123456789abcdef';

async function startCluster(options: StormOptions, scratch: string): Promise<Cluster> {
  const redis = await startPrivateRedis();
  const adminToken = `storm-admin-${Math.random().toString(36).slice(2)}`;
  const names = Array.from({ length: options.gateways }, (_, i) => `gateway-${i + 1}`);
  const gateways = await Promise.all(
    names.map(async (name) => ({
      name,
      gateway: await startGateway({
        NODE_ID: name,
        JWT_SECRET,
        ADMIN_TOKEN: adminToken,
        REDIS_URL: redis.url,
        // nginx (and the test itself) talk from loopback: trusted, so each client's X-Forwarded-For address is
        // its address, as behind the kit's proxy.
        TRUSTED_PROXIES: '127.0.0.0/8',
        LOG_LEVEL: 'info',
      }),
    })),
  );
  const port = await freePort();
  const file = join(scratch, 'nginx.conf');
  const clusterOptions = options.nginxWorkerConnections === undefined ? {} : { workerConnections: options.nginxWorkerConnections };
  let config = nginxClusterConfig(scratch, port, gateways.map((g) => g.gateway.port), clusterOptions);
  if (options.nginxBacklog !== undefined) {
    const listen = /listen 127\.0\.0\.1:(\d+)( backlog=\d+)?;/u;
    if (!listen.test(config)) {
      throw new Error('nginx.conf: no listen line to set the backlog on');
    }
    config = config.replace(listen, `listen 127.0.0.1:$1 backlog=${options.nginxBacklog};`);
  }
  writeFileSync(file, config);
  const nginx = spawnLogged(NGINX, nginxArgs(scratch, file), { cwd: scratch, env: {} });
  const base = `http://127.0.0.1:${port}`;
  await waitUntil(`nginx on ${base}`, async () => (await httpGet(`${base}/api/health`)).status === 200, 20_000);
  return {
    gateways,
    nginx,
    redis,
    base,
    adminToken,
    stop: async () => {
      nginx.child.kill('SIGTERM');
      await nginx.exited;
      const running = gateways.filter((g) => g.gateway.child.exitCode === null && g.gateway.child.signalCode === null);
      await Promise.all(running.map((g) => g.gateway.stop()));
      await redis.stop();
    },
  };
}

/** Connections per protocol of one gateway, from its own stats. */
async function connectionsOf(gateway: ServiceProcess): Promise<{ signals: number; socketio: number }> {
  const { body } = await httpGet(`http://127.0.0.1:${gateway.port}/api/websocket/stats`);
  const protocols = (JSON.parse(body) as { data: { protocols: Record<string, { connections: number }> } }).data.protocols;
  return { signals: protocols['signals']?.connections ?? 0, socketio: protocols['socketio']?.connections ?? 0 };
}

/**
 * POST on a connection of its own: a kept-alive connection the gateway closed while this process was busy
 * with thousands of clients would fail the request, and retrying a publish could send a signal twice.
 */
function postJson(url: string, adminToken: string, payload: unknown): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(payload);
    const request = httpRequest(
      url,
      {
        method: 'POST',
        agent: false,
        timeout: 10_000,
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) },
      },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => {
          resolve({ status: response.statusCode ?? 0, body });
        });
        response.on('error', reject);
      },
    );
    request.on('timeout', () => request.destroy(new Error('publish: no answer within 10 s')));
    request.on('error', reject);
    request.end(data);
  });
}

/** Publishes one signal per period to `gatewayPort` until stopped, in order; keeps the ids the gateway answered. */
class SteadyPublisher {
  readonly ids: string[] = [];
  /** Publishes that got no answer at all. */
  failures = 0;
  #running = true;
  readonly #done: Promise<void>;

  constructor(url: string, adminToken: string, perSecond: number) {
    const period = 1000 / perSecond;
    this.#done = (async () => {
      const start = performance.now();
      for (let n = 0; this.#running; n += 1) {
        // A steady schedule: a slow answer delays the next signal, never doubles one up.
        const due = start + n * period - performance.now();
        if (due > 0) {
          await new Promise((resolve) => setTimeout(resolve, due));
        }
        // A publish without an answer (the gateway too busy to answer within 10 s, the connection reset) may
        // or may not have reached the bus: it is counted, not retried, and its id is unknown.
        const answer = await postJson(url, adminToken, { type: n % 2 === 0 ? 'buy' : 'sell', content: { symbol: 'BTCUSDT', price: 75_000 + n } }).catch(
          (error: unknown) => ({ status: 0, body: JSON.stringify({ error: String(error) }) }),
        );
        const id = (JSON.parse(answer.body) as { id?: unknown }).id;
        if (answer.status === 201 && typeof id === 'string') {
          this.ids.push(id);
        } else if (answer.status === 0) {
          this.failures += 1;
        } else {
          throw new Error(`publish answered ${answer.status}: ${answer.body}`);
        }
      }
    })();
    // Handled where it is awaited (stop, publishedMore); this only keeps a failure from being "unhandled" meanwhile.
    this.#done.catch(() => undefined);
  }

  /** Stops after the signal in flight and rejects if any publish failed. */
  async stop(): Promise<string[]> {
    this.#running = false;
    await this.#done;
    return this.ids;
  }

  /** Resolves once `count` more signals than now have been published (rejects if publishing failed). */
  async publishedMore(count: number, timeoutMs: number): Promise<void> {
    const target = this.ids.length + count;
    await Promise.race([this.#done.then(() => Promise.reject(new Error('publishing stopped'))), waitUntil(`${count} more signals`, () => Promise.resolve(this.ids.length >= target), timeoutMs)]);
  }
}

/** A forked client process (storm-clients.ts) and its request/answer channel. */
class ClientProcess {
  readonly child: ChildProcess;
  readonly ready: Promise<void>;
  #next = 1;
  readonly #pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();

  constructor(readonly name: string) {
    this.child = fork(fileURLToPath(new URL('./storm-clients.ts', import.meta.url)), [], {
      // tsx as the gateways are run; resolved from the infra package.
      execArgv: ['--import', 'tsx'],
      cwd: INFRA_DIR,
      env: { PATH: process.env['PATH'] ?? '', STORM_CLIENT_PROCESS: '1' },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.ready = new Promise((resolve, reject) => {
      this.#pending.set(0, {
        resolve: () => {
          resolve();
        },
        reject,
      });
    });
    this.child.on('message', (message: { id: number; ok: boolean; value?: unknown; error?: string }) => {
      const pending = this.#pending.get(message.id);
      this.#pending.delete(message.id);
      if (message.ok) {
        pending?.resolve(message.value);
      } else {
        pending?.reject(new Error(`${this.name}: ${message.error ?? 'failed'}`));
      }
    });
    this.child.on('exit', (code, signal) => {
      for (const pending of this.#pending.values()) {
        pending.reject(new Error(`${this.name} exited (${code ?? signal ?? '?'})`));
      }
      this.#pending.clear();
    });
  }

  request<T>(request: ClientProcessRequest): Promise<T> {
    const id = this.#next;
    this.#next += 1;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, {
        resolve: (value) => {
          resolve(value as T);
        },
        reject,
      });
      this.child.send({ id, request });
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) {
      return;
    }
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    await this.request({ op: 'close' }).catch(() => undefined);
    this.child.disconnect();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}

/** CPU time (user + system) of a process so far, seconds, from /proc/<pid>/stat; 0 once it is gone. */
function processCpuSeconds(pid: number | undefined): number {
  if (pid === undefined) {
    return 0;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // After the command name in parentheses: state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

/** Linux's USER_HZ, the unit of /proc CPU times (100 on every common kernel). */
const CLOCK_TICKS = 100;

/** The children of `pid` (nginx's workers), from /proc. */
function childPids(pid: number | undefined): number[] {
  if (pid === undefined) {
    return [];
  }
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/u.test(entry)) {
      continue;
    }
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) {
        children.push(Number(entry));
      }
    } catch {
      // gone meanwhile
    }
  }
  return children;
}

/** The redis-server serving `port` (its process title, or its arguments, name the port), from /proc. */
function redisPid(port: number): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/u.test(entry)) {
      continue;
    }
    try {
      const command = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (command.includes('redis-server') && new RegExp(`[: ]${port}(\\s|$)`, 'u').test(command)) {
        return Number(entry);
      }
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

/** The machine's count of connections dropped because a listen backlog was full (TcpExt ListenOverflows). */
function listenOverflows(): number {
  const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n').filter((l) => l.startsWith('TcpExt:'));
  const [names, values] = lines.map((l) => l.trim().split(/\s+/u));
  const at = names?.indexOf('ListenOverflows') ?? -1;
  return at < 0 ? Number.NaN : Number(values?.[at]);
}

/** Busy CPU seconds of the whole machine (all cores, idle and iowait excluded), from /proc/stat. */
function machineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const [, ...values] = line.trim().split(/\s+/u);
  const ticks = values.slice(0, 8).map(Number);
  const total = ticks.reduce((a, b) => a + b, 0);
  return (total - (ticks[3] ?? 0) - (ticks[4] ?? 0)) / CLOCK_TICKS;
}

interface ClientRecord {
  drops: number;
  open: boolean;
  openedAt: number | null;
  failures: Record<string, number>;
}

function kindResult(total: number, onVictim: number, clients: readonly ClientRecord[], killedAt: number): StormKindResult {
  const back = clients.filter((c) => c.drops > 0).map((c) => (c.openedAt ?? Number.NaN) - killedAt);
  const failedAttempts: Record<string, number> = {};
  for (const client of clients) {
    for (const [what, count] of Object.entries(client.failures)) {
      failedAttempts[what] = (failedAttempts[what] ?? 0) + count;
    }
  }
  return {
    failedAttempts,
    total,
    secondsToAllBack: back.length === 0 ? Number.NaN : back.reduce((a, b) => Math.max(a, b), -Infinity) / 1000,
    onVictim,
    dropped: clients.filter((c) => c.drops > 0).length,
    droppedTwice: clients.filter((c) => c.drops > 1).length,
    openAtEnd: clients.filter((c) => c.open).length,
  };
}

/** p-th fraction (0..1) of sorted values. */
function quantile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? Number.NaN;
}

/** Client indexes 0 … count-1 dealt round robin over `processes`, offset by `first`. */
function deal(first: number, count: number, processes: number, which: number): number[] {
  const indexes: number[] = [];
  for (let i = which; i < count; i += processes) {
    indexes.push(first + i);
  }
  return indexes;
}

/**
 * Runs the storm and reports what happened; throws only when the setup fails or a wait passes its deadline.
 * Everything it starts is stopped before it returns (and by stopAll as a safety net).
 */
export async function runReconnectStorm(options: StormOptions): Promise<StormResult> {
  const log = options.log ?? (() => undefined);
  const scratch = mkdtempSync(join(tmpdir(), 'infra-storm-'));
  // A start that fails half-way leaves its processes to stopAll; the scratch folder is removed here.
  const cluster = await startCluster(options, scratch).catch((error: unknown) => {
    rmSync(scratch, { recursive: true, force: true });
    throw error;
  });
  const processCount = Math.max(1, Math.min(options.clientProcesses ?? 2, options.signalClients + options.socketIoClients));
  const processes = Array.from({ length: processCount }, (_, i) => new ClientProcess(`client process ${i + 1}`));
  let publisher: SteadyPublisher | undefined;
  const all = <T>(request: ClientProcessRequest): Promise<T[]> => Promise.all(processes.map((p) => p.request<T>(request)));
  const statuses = async (lastId?: string): Promise<ClientProcessStatus> => {
    const each = await all<ClientProcessStatus>(lastId === undefined ? { op: 'status' } : { op: 'status', lastId });
    return each.reduce((a, b) => ({
      signalsWithId: a.signalsWithId + b.signalsWithId,
      dropped: a.dropped + b.dropped,
      droppedOpen: a.droppedOpen + b.droppedOpen,
      signalsAtLastId: a.signalsAtLastId + b.signalsAtLastId,
    }));
  };
  try {
    const wsUrl = `${cluster.base.replace('http', 'ws')}/ws/signals`;
    log(`cluster up: ${cluster.gateways.map((g) => `${g.name}:${g.gateway.port}`).join(' ')} behind nginx ${cluster.base}; ${processCount} client processes`);
    await Promise.all(processes.map((p) => p.ready));
    const connectStarted = performance.now();
    await Promise.all(
      processes.map((p, i) => {
        const setup: ClientProcessSetup = {
          wsUrl,
          base: cluster.base,
          jwtSecret: JWT_SECRET,
          signalIndexes: deal(0, options.signalClients, processCount, i),
          socketIoIndexes: deal(options.signalClients, options.socketIoClients, processCount, i),
          reconnectJitterMs: options.reconnectJitterMs,
          ...(options.socketIoReconnectionDelayMs === undefined ? {} : { socketIoReconnectionDelayMs: options.socketIoReconnectionDelayMs }),
          ...(options.socketIoRandomizationFactor === undefined ? {} : { socketIoRandomizationFactor: options.socketIoRandomizationFactor }),
          // About 64 first connections in flight over all processes, as when one process held them all.
          connectConcurrency: Math.max(16, Math.ceil(64 / processCount)),
        };
        return p.request({ op: 'start', setup });
      }),
    );
    const secondsToConnect = (performance.now() - connectStarted) / 1000;
    log(`${options.signalClients} signal + ${options.socketIoClients} Socket.IO clients connected in ${secondsToConnect.toFixed(1)} s`);

    // Every Socket.IO client sits on one gateway (nginx hashes /socket.io/ by the TCP peer: this machine):
    // that gateway is the one to kill, with its share of the round-robin signal clients.
    const counts = await Promise.all(cluster.gateways.map(async (g) => ({ ...g, ...(await connectionsOf(g.gateway)) })));
    const victim = counts.reduce((a, b) => (b.socketio > a.socketio || (b.socketio === a.socketio && b.signals > a.signals) ? b : a));
    const survivors = cluster.gateways.filter((g) => g.name !== victim.name);
    const [publishTo] = survivors;
    if (publishTo === undefined) {
      throw new Error('a storm needs at least two gateways');
    }
    const before = Object.fromEntries(counts.map((c) => [c.name, c.signals + c.socketio]));

    publisher = new SteadyPublisher(`http://127.0.0.1:${publishTo.gateway.port}/api/signals`, cluster.adminToken, options.publishPerSecond);
    // Every signal client has a position to recover from before the kill.
    await waitUntil('every signal client to receive a signal', async () => (await statuses()).signalsWithId === options.signalClients, 30_000);
    log(`killing ${victim.name} (${victim.signals} signal, ${victim.socketio} Socket.IO clients); before: ${JSON.stringify(before)}`);
    // Who is on the victim is settled: count again right before the kill (nothing connects meanwhile).
    const onVictim = await connectionsOf(victim.gateway);

    // CPU of everything on the machine that takes part, from the kill until everyone is back.
    const nginxPids = [cluster.nginx.child.pid, ...childPids(cluster.nginx.child.pid)].filter((pid): pid is number => pid !== undefined);
    const redis = redisPid(cluster.redis.port);
    const cpuOf: Record<string, () => number> = {
      ...Object.fromEntries(survivors.map((g) => [g.name, () => processCpuSeconds(g.gateway.child.pid)])),
      nginx: () => nginxPids.reduce((sum, pid) => sum + processCpuSeconds(pid), 0),
      redis: () => processCpuSeconds(redis),
      'client processes': () => processes.reduce((sum, p) => sum + processCpuSeconds(p.child.pid), 0),
      coordinator: () => processCpuSeconds(process.pid),
      machine: machineBusySeconds,
    };
    const cpuAtKill = Object.fromEntries(Object.entries(cpuOf).map(([name, read]) => [name, read()]));
    const overflowsAtKill = listenOverflows();
    await all({ op: 'mark' });
    const loopDelay = monitorEventLoopDelay({ resolution: 20 });
    loopDelay.enable();
    const killedAtLocal = performance.now();
    const killedAt = epochNow();
    victim.gateway.child.kill('SIGKILL');
    await victim.gateway.exited;

    const expectedDropped = onVictim.signals + onVictim.socketio;
    await waitUntil(
      `all ${expectedDropped} clients of ${victim.name} to reconnect`,
      async () => {
        const status = await statuses();
        return status.dropped >= expectedDropped && status.droppedOpen === status.dropped;
      },
      options.reconnectDeadlineMs,
    );
    const wallSeconds = (performance.now() - killedAtLocal) / 1000;
    const cpu = Object.fromEntries(Object.entries(cpuOf).map(([name, read]) => [name, (read() - (cpuAtKill[name] ?? 0)) / wallSeconds]));
    loopDelay.disable();
    const clientProcesses = await all<ClientProcessLoad>({ op: 'measure' });
    const coordinator = { cores: cpu['coordinator'] ?? Number.NaN, loopDelayMaxMs: loopDelay.max / 1e6 };
    const machine = { cores: availableParallelism(), loadAverage: loadavg()[0] ?? Number.NaN, listenOverflows: listenOverflows() - overflowsAtKill };
    log(`all dropped clients back (polled after ${wallSeconds.toFixed(2)} s; load average ${machine.loadAverage.toFixed(1)}); cpu ${JSON.stringify(cpu, (_k, v: unknown) => (typeof v === 'number' ? Number(v.toFixed(2)) : v))}`);

    // Publishing goes on a little after everyone is back, then every client must hold every id.
    await publisher.publishedMore(Math.max(5, options.publishPerSecond), 30_000);
    const published = await publisher.stop();
    const publishFailures = publisher.failures;
    publisher = undefined;
    const last = published.at(-1);
    await waitUntil('every signal client to receive the last signal', async () => (await statuses(last)).signalsAtLastId === options.signalClients, 30_000).catch(() => undefined);
    const reports = await all<{ signals: SignalClientReport[]; socketIo: ClientReport[] }>({ op: 'report', published, publishFailures });
    const signalReports = reports.flatMap((r) => r.signals).sort((a, b) => a.index - b.index);
    const socketIoReports = reports.flatMap((r) => r.socketIo).sort((a, b) => a.index - b.index);
    const backTimes = [...signalReports, ...socketIoReports]
      .filter((c) => c.drops > 0)
      .map((c) => (c.openedAt ?? Number.NaN) - killedAt)
      .sort((a, b) => a - b);
    const wrong = signalReports.filter((c) => c.wrongSequence);
    const after = Object.fromEntries(
      await Promise.all(survivors.map(async (g) => {
        const c = await connectionsOf(g.gateway);
        return [g.name, c.signals + c.socketio] as const;
      })),
    );
    return {
      victim: victim.name,
      before,
      after,
      signals: {
        ...kindResult(signalReports.length, onVictim.signals, signalReports, killedAt),
        wrongSequence: wrong.length,
        examples: wrong.slice(0, 3).map((c) => c.example ?? `client ${c.index}`),
        notRecovered: signalReports.reduce((n, c) => n + c.notRecovered, 0),
        notRecoveredReasons: signalReports.reduce<Record<string, number>>((counts, c) => {
          for (const [reason, count] of Object.entries(c.notRecoveredReasons)) {
            counts[reason] = (counts[reason] ?? 0) + count;
          }
          return counts;
        }, {}),
        historyUnavailable: survivors.reduce((n, g) => n + g.gateway.output().split('signal history unavailable').length - 1, 0),
      },
      socketIo: kindResult(socketIoReports.length, onVictim.socketio, socketIoReports, killedAt),
      published: published.length,
      publishFailures,
      secondsToAllBack: quantile(backTimes, 1) / 1000,
      secondsToHalfBack: quantile(backTimes, 0.5) / 1000,
      secondsToConnect,
      clientProcesses,
      coordinator,
      cpu,
      machine,
    };
  } catch (error) {
    // The gateways' own account of a failed request is the useful part of a failure message.
    const failures = cluster.gateways.flatMap((g) => g.gateway.output().split('\n').filter((l) => l.includes('"level":50') || l.includes('route failed')).slice(0, 3));
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n${failures.join('\n')}`, { cause: error });
  } finally {
    await publisher?.stop().catch(() => undefined);
    await Promise.all(processes.map((p) => p.stop()));
    await cluster.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}
