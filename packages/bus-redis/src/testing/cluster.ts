/**
 * A throwaway Redis Cluster for tests: six `redis-server` processes on 127.0.0.1 (three masters, three
 * replicas), no persistence, in a temporary directory, on free ports. Tests start it, may kill nodes to
 * provoke a failover, and stop it in `afterAll` (every process it started is killed, also when the test
 * process exits early).
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, killProcess, spawnRedisServer } from './redis-server.js';

export interface RedisClusterOptions {
  /** `cluster-node-timeout`: how long a node may be unreachable before it counts as failed (default 1 000 ms). */
  nodeTimeoutMs?: number;
  /** Bound on start-up and on every wait (default 30 000 ms). */
  timeoutMs?: number;
}

export interface ClusterNodeInfo {
  port: number;
  role: 'master' | 'replica';
  /** For a replica, the port of its master. */
  masterPort?: number;
}

export interface LocalRedisCluster {
  /** One `redis://127.0.0.1:<port>` per node, comma-separated: what `REDIS_URL` takes with `REDIS_CLUSTER=true`. */
  readonly url: string;
  readonly ports: readonly number[];
  /** The nodes still running, as they see themselves now. */
  nodes(): Promise<ClusterNodeInfo[]>;
  /** SIGKILL of one node (no shutdown, no save): a crashed machine. */
  kill(port: number): Promise<void>;
  /** Resolves when every running node reports `cluster_state:ok` and every running replica's link is up. */
  waitHealthy(): Promise<void>;
  /** A command on one node (a short-lived connection). */
  command(port: number, name: string, ...args: (string | number)[]): Promise<unknown>;
  /** Kills every node and removes the temporary directory. Idempotent. */
  stop(): Promise<void>;
}

const REDIS_CLI = 'redis-cli';
const NODE_COUNT = 6;

async function distinctFreePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) {
    ports.add(await freePort());
  }
  return [...ports];
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it returns true; throws with `what` after `timeoutMs`. */
async function until(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      if (await check()) {
        return;
      }
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      const cause = last instanceof Error ? ` (${last.message})` : '';
      throw new Error(`redis cluster: timed out waiting for ${what}${cause}`);
    }
    await pause(50);
  }
}

async function onNode<T>(port: number, run: (client: Redis) => Promise<T>): Promise<T> {
  const client = new Redis({
    host: '127.0.0.1',
    port,
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    connectTimeout: 1_000,
    commandTimeout: 2_000,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await run(client);
  } finally {
    client.disconnect();
  }
}

function field(info: string, name: string): string | undefined {
  const line = info.split('\r\n').find((l) => l.startsWith(`${name}:`));
  return line?.slice(name.length + 1);
}

function runCli(args: string[], timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(REDIS_CLI, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) {
        resolve();
      } else {
        reject(new Error(`redis-cli ${args.join(' ')} failed (${String(code)}): ${output.slice(-2_000)}`));
      }
    });
  });
}

/** Starts six nodes, creates the cluster (one replica per master) and waits until it is healthy. */
export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<LocalRedisCluster> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const dir = await mkdtemp(join(tmpdir(), 'gw-redis-cluster-'));
  // Client and cluster-bus ports both chosen free: the default bus port (port + 10 000) may be taken.
  const allPorts = await distinctFreePorts(NODE_COUNT * 2);
  const ports = allPorts.slice(0, NODE_COUNT);
  const children = new Map<number, ChildProcess>();

  const stop = async (): Promise<void> => {
    await Promise.all(
      [...children.entries()].map(async ([port, child]) => {
        children.delete(port);
        await killProcess(child);
      }),
    );
    await rm(dir, { recursive: true, force: true });
  };

  try {
    ports.forEach((port, i) => {
      const child = spawnRedisServer(
        [
          '--port', String(port),
          '--cluster-port', String(allPorts[NODE_COUNT + i]),
          '--bind', '127.0.0.1',
          '--dir', dir,
          '--cluster-enabled', 'yes',
          '--cluster-config-file', `nodes-${port}.conf`,
          '--cluster-node-timeout', String(options.nodeTimeoutMs ?? 1_000),
          // A replica may always take over, however long its link was down: tests kill masters on purpose.
          '--cluster-replica-validity-factor', '0',
          '--appendonly', 'no',
          '--save', '',
        ],
      );
      children.set(port, child);
    });
    for (const port of ports) {
      await until(`node ${port} to accept connections`, timeoutMs, () => onNode(port, async (c) => {
        await c.ping();
        return true;
      }));
    }
    await runCli(['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '1', '--cluster-yes'], timeoutMs);
  } catch (error) {
    await stop();
    throw error;
  }

  const command = (port: number, name: string, ...args: (string | number)[]): Promise<unknown> =>
    onNode(port, (c) => c.call(name, ...args));

  const nodes = async (): Promise<ClusterNodeInfo[]> => {
    const result: ClusterNodeInfo[] = [];
    for (const port of children.keys()) {
      const info = (await command(port, 'INFO', 'replication')) as string;
      if (field(info, 'role') === 'master') {
        result.push({ port, role: 'master' });
      } else {
        result.push({ port, role: 'replica', masterPort: Number(field(info, 'master_port')) });
      }
    }
    return result;
  };

  const waitHealthy = (): Promise<void> =>
    until('cluster_state:ok on every node', timeoutMs, async () => {
      for (const port of children.keys()) {
        const info = (await command(port, 'CLUSTER', 'INFO')) as string;
        if (field(info, 'cluster_state') !== 'ok' || field(info, 'cluster_slots_assigned') !== '16384') {
          return false;
        }
        const replication = (await command(port, 'INFO', 'replication')) as string;
        if (field(replication, 'role') === 'slave' && field(replication, 'master_link_status') !== 'up') {
          return false;
        }
      }
      // Every running node agrees on the masters: a failover is finished, not half seen.
      const views = await Promise.all([...children.keys()].map((port) => command(port, 'CLUSTER', 'SLOTS')));
      return views.every((view) => JSON.stringify(view) === JSON.stringify(views[0]));
    });

  try {
    await waitHealthy();
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    url: ports.map((port) => `redis://127.0.0.1:${port}`).join(','),
    ports,
    nodes,
    command,
    waitHealthy,
    kill: async (port) => {
      const child = children.get(port);
      if (child === undefined) {
        throw new Error(`redis cluster: no running node on port ${port}`);
      }
      children.delete(port);
      await killProcess(child);
    },
    stop,
  };
}
