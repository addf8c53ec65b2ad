import { unlink } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import type { AppendOptions, Bus, Envelope, InterestLease, ReadSinceOptions, Subscription } from '@gw/bus';
import { MemoryHub, createMemoryBus } from '@gw/bus-memory';
import { GatewayError, createLogger } from '@gw/core';
import type { Logger } from '@gw/core';
import {
  DEFAULT_MAX_BUFFERED_BYTES,
  DEFAULT_MAX_FRAME_BYTES,
  FrameReader,
  FrameWriter,
  PROTOCOL_VERSION,
  ProtocolError,
  parseFrame,
  preview,
  toWireError,
} from './protocol.js';

export interface BusHostOptions {
  /** The Unix socket the loop buses connect to. A stale file left by a dead host is replaced. */
  socketPath: string;
  /** The cluster the loop nodes join; the host process's own nodes use it too (default: a new hub). */
  hub?: MemoryHub;
  /** How long a node's interest outlives its process, unless its hello asks otherwise (default 15 000 ms). */
  interestTtlMs?: number;
  /** Protocol errors, refused peers and lost nodes are logged here (default: a `bus-host` logger). */
  logger?: Logger;
  /** A frame longer than this drops the peer (default 64 MiB). */
  maxFrameBytes?: number;
  /** A peer that leaves more than this unread is dropped as stuck (default 64 MiB). */
  maxBufferedBytes?: number;
}

export interface BusHost {
  readonly socketPath: string;
  /** The shared hub: `createMemoryBus({ hub })` puts a node of the host's own process on the same bus. */
  readonly hub: MemoryHub;
  /** Ids of the loop nodes connected now. */
  nodeIds(): string[];
  /**
   * Stops listening and closes every loop node cleanly (their interest is released at once); the loop buses
   * see their connection end and turn `disconnected`. Idempotent.
   */
  close(): Promise<void>;
}

/**
 * Serves the embedded bus to the event-loop processes of one node. Each connection is one bus node: a
 * `MemoryBus` on the shared hub, named by the client's hello, whose calls the client makes over the socket
 * and whose deliveries the host pushes back. A connection that ends without a goodbye is a process that
 * died: its node is crashed (`MemoryHub.simulateCrash`), so its interest expires after its TTL exactly as
 * for any crashed node. A peer that breaks the protocol gets a `fatal` frame naming the problem and is
 * dropped the same way; the other nodes are not affected.
 */
export async function createBusHost(options: BusHostOptions): Promise<BusHost> {
  const context: HostContext = {
    hub: options.hub ?? new MemoryHub(),
    interestTtlMs: Math.max(1, options.interestTtlMs ?? 15_000),
    logger: options.logger ?? createLogger({ name: 'bus-host' }),
    maxFrameBytes: options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
    maxBufferedBytes: options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES,
    connections: new Set(),
    encode: envelopeEncoder(),
  };
  let closing: Promise<void> | undefined;
  const server = createServer((socket) => {
    if (closing !== undefined) {
      socket.destroy();
      return;
    }
    context.connections.add(new HostConnection(socket, context));
  });
  await listen(server, options.socketPath);
  return {
    socketPath: options.socketPath,
    hub: context.hub,
    nodeIds: () => [...context.connections].flatMap((c) => (c.nodeId === undefined ? [] : [c.nodeId])),
    close: () => {
      closing ??= (async () => {
        const closed = new Promise<void>((resolve) => {
          server.close(() => {
            resolve();
          });
        });
        await Promise.all([...context.connections].map((c) => c.shutdown()));
        await closed;
      })();
      return closing;
    },
  };
}

interface HostContext {
  hub: MemoryHub;
  interestTtlMs: number;
  logger: Logger;
  maxFrameBytes: number;
  maxBufferedBytes: number;
  connections: Set<HostConnection>;
  encode: (envelope: Envelope) => Uint8Array;
}

/** How long a peer told to go away may take to close its end before the host destroys the socket. */
const END_GRACE_MS = 1_000;

/**
 * One message reaches every node in turn (the hub delivers it synchronously to each), so remembering the
 * last one serialises and encodes each message once for all connections.
 */
function envelopeEncoder(): (envelope: Envelope) => Uint8Array {
  let last: Envelope | undefined;
  let bytes: Uint8Array = new Uint8Array(0);
  return (envelope) => {
    if (envelope !== last) {
      bytes = Buffer.from(JSON.stringify(envelope));
      last = envelope;
    }
    return bytes;
  };
}

function listenOnce(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => {
      reject(error);
    };
    server.once('error', onError);
    server.listen(path, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

async function listen(server: Server, path: string): Promise<void> {
  try {
    await listenOnce(server, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') {
      throw error;
    }
    // The file exists: a host that is alive answers; the file of one that died refuses, and is replaced.
    if (await answers(path)) {
      throw new GatewayError('config_invalid', { message: `another bus host is listening on ${path}` });
    }
    await unlink(path);
    await listenOnce(server, path);
  }
}

function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createConnection(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => {
      resolve(false);
    });
  });
}

function noValue(): undefined {
  return undefined;
}

function ignore(): void {
  // Intentionally empty: a failure already answered elsewhere.
}

function field(frame: Record<string, unknown>, name: string, type: 'string' | 'number'): never {
  throw new ProtocolError(`malformed ${String(frame['op'])} frame: ${name} must be a ${type}`);
}

function str(frame: Record<string, unknown>, name: string): string {
  const value = frame[name];
  return typeof value === 'string' ? value : field(frame, name, 'string');
}

function key(frame: Record<string, unknown>, name: string): number {
  const value = frame[name];
  return Number.isSafeInteger(value) ? (value as number) : field(frame, name, 'number');
}

function strings(frame: Record<string, unknown>, name: string): string[] {
  const value = frame[name];
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    throw new ProtocolError(`malformed ${String(frame['op'])} frame: ${name} must be an array of strings`);
  }
  return value;
}

function readSinceOptions(frame: Record<string, unknown>): ReadSinceOptions {
  const value = frame['sincePublishedAt'];
  if (value === undefined) {
    return {};
  }
  if (typeof value !== 'number') {
    throw new ProtocolError('malformed readSince frame: sincePublishedAt must be a number');
  }
  return { sincePublishedAt: value };
}

function appendOptions(frame: Record<string, unknown>): AppendOptions {
  const value = frame['opts'];
  if (typeof value !== 'object' || value === null) {
    throw new ProtocolError('malformed append frame: opts must be an object');
  }
  const { maxLength, maxAgeMs, publishedAt } = value as Record<string, unknown>;
  // Wrong numbers are the bus's to reject (bad_request); wrong types are a broken peer.
  if (typeof maxLength !== 'number' || typeof maxAgeMs !== 'number') {
    throw new ProtocolError('malformed append frame: opts.maxLength and opts.maxAgeMs must be numbers');
  }
  if (publishedAt === undefined) {
    return { maxLength, maxAgeMs };
  }
  if (typeof publishedAt !== 'number') {
    throw new ProtocolError('malformed append frame: opts.publishedAt must be a number');
  }
  return { maxLength, maxAgeMs, publishedAt };
}

/** One loop node: its socket, its `MemoryBus` on the hub, and what its client registered by id. */
class HostConnection {
  readonly #socket: Socket;
  readonly #context: HostContext;
  readonly #reader: FrameReader;
  readonly #writer: FrameWriter;
  readonly #subs = new Map<number, Promise<Subscription>>();
  readonly #watches = new Map<number, Promise<Subscription>>();
  readonly #leases = new Map<number, Promise<InterestLease>>();
  readonly #closed: Promise<void>;
  #bus: Bus | undefined;
  #nodeId: string | undefined;
  /** Nothing more is read or served (goodbye, protocol error, stuck peer, host closing). */
  #done = false;
  /** The node's bus was closed or crashed: a closing socket has nothing left to do. */
  #finished = false;
  // The delivery being assembled: further subscriptions matched by the same message join it.
  #open: Envelope | undefined;
  #openSubs = '';
  #openBytes: Uint8Array = new Uint8Array(0);

  constructor(socket: Socket, context: HostContext) {
    this.#socket = socket;
    this.#context = context;
    this.#reader = new FrameReader(context.maxFrameBytes);
    this.#writer = new FrameWriter(socket, {
      maxBufferedBytes: context.maxBufferedBytes,
      beforeFlush: this.#closeDelivery,
      onOverflow: this.#onOverflow,
    });
    this.#closed = new Promise((resolve) => {
      socket.once('close', () => {
        resolve();
      });
    });
    socket.on('data', this.#onData);
    // A peer that died resets the connection: 'close' follows, which is where its node is crashed.
    socket.on('error', ignore);
    socket.once('close', this.#onClose);
  }

  get nodeId(): string | undefined {
    return this.#done ? undefined : this.#nodeId;
  }

  /** The host is closing: the node leaves cleanly (interest released) and the socket ends. */
  async shutdown(): Promise<void> {
    this.#done = true;
    if (!this.#finished) {
      this.#finished = true;
      await this.#bus?.close();
      this.#writer.flush();
      this.#end();
    }
    await this.#closed;
  }

  #serving(): boolean {
    return !this.#done;
  }

  readonly #onData = (chunk: Buffer): void => {
    try {
      for (const line of this.#reader.push(chunk)) {
        // Checked per frame: a goodbye or a fatal error ends the node in the middle of a chunk.
        if (!this.#serving()) {
          return;
        }
        this.#handle(parseFrame(line));
      }
    } catch (error) {
      if (!(error instanceof ProtocolError)) {
        throw error;
      }
      this.#fatal(error);
    }
  };

  #handle(frame: Record<string, unknown>): void {
    const id = key(frame, 'id');
    const op = frame['op'];
    const bus = this.#bus;
    if (bus === undefined) {
      if (op !== 'hello') {
        throw new ProtocolError(`the first frame must be a hello, got ${preview(JSON.stringify(frame))}`);
      }
      this.#hello(id, frame);
      return;
    }
    switch (op) {
      case 'pub':
        this.#answer(id, bus.publish(str(frame, 'topic'), frame['data']));
        return;
      case 'pubLatest':
        this.#answer(id, bus.publishLatest(str(frame, 'topic'), frame['data']));
        return;
      case 'append':
        this.#answer(id, bus.append(str(frame, 'topic'), frame['data'], appendOptions(frame)));
        return;
      case 'latest':
        this.#answer(id, bus.latest(str(frame, 'topic')));
        return;
      case 'latestMany':
        this.#answer(id, bus.latestMany(strings(frame, 'topics')));
        return;
      case 'readSince':
        this.#answer(id, bus.readSince(str(frame, 'topic'), str(frame, 'since'), readSinceOptions(frame)));
        return;
      case 'position':
        this.#answer(id, bus.position(str(frame, 'topic')));
        return;
      case 'interested':
        this.#answer(id, bus.interestedTopics(str(frame, 'prefix')));
        return;
      case 'sub': {
        const sub = this.#newKey(this.#subs, frame, 'sub');
        const pending = bus.subscribe(str(frame, 'pattern'), (message) => {
          this.#deliver(sub, message);
        });
        this.#register(this.#subs, sub, pending);
        this.#answer(id, pending.then(noValue));
        return;
      }
      case 'unsub':
        this.#answer(id, this.#drop(this.#subs, key(frame, 'sub'), (s) => s.unsubscribe()));
        return;
      case 'watch': {
        const watch = this.#newKey(this.#watches, frame, 'watch');
        const pending = bus.watchInterest(str(frame, 'prefix'), ({ topic, interested }) => {
          this.#send(`{"w":${watch},"topic":${JSON.stringify(topic)},"on":${interested}}`);
        });
        this.#register(this.#watches, watch, pending);
        this.#answer(id, pending.then(noValue));
        return;
      }
      case 'unwatch':
        this.#answer(id, this.#drop(this.#watches, key(frame, 'watch'), (s) => s.unsubscribe()));
        return;
      case 'declare': {
        const lease = this.#newKey(this.#leases, frame, 'lease');
        const pending = bus.declareInterest(str(frame, 'topic'));
        this.#register(this.#leases, lease, pending);
        this.#answer(id, pending.then(noValue));
        return;
      }
      case 'release':
        this.#answer(id, this.#drop(this.#leases, key(frame, 'lease'), (l) => l.release()));
        return;
      case 'bye':
        this.#goodbye(id, bus);
        return;
      default:
        throw new ProtocolError(`unknown op ${preview(String(op))}`);
    }
  }

  #hello(id: number, frame: Record<string, unknown>): void {
    if (frame['v'] !== PROTOCOL_VERSION) {
      throw new ProtocolError(`protocol version ${String(frame['v'])} is not supported (this host speaks ${PROTOCOL_VERSION})`);
    }
    const nodeId = str(frame, 'node');
    const ttl = frame['ttl'] === undefined ? this.#context.interestTtlMs : key(frame, 'ttl');
    if (nodeId === '' || ttl < 1) {
      throw new ProtocolError('malformed hello: node must not be empty and ttl must be positive');
    }
    try {
      this.#bus = createMemoryBus({
        hub: this.#context.hub,
        nodeId,
        interestTtlMs: ttl,
        // Only the host's own forwarding functions run as handlers here; anything they throw is a host bug.
        onError: (error) => {
          this.#context.logger.error({ err: error, nodeId }, 'bus host: error while serving a node');
        },
      });
    } catch {
      throw new ProtocolError(`node id ${JSON.stringify(nodeId)} is already live on this bus`);
    }
    this.#nodeId = nodeId;
    this.#send(`{"re":${id}}`);
  }

  #goodbye(id: number, bus: Bus): void {
    this.#done = true;
    this.#finished = true;
    void bus.close().then(() => {
      this.#send(`{"re":${id}}`);
      this.#writer.flush();
      this.#end();
    });
  }

  #newKey(map: Map<number, unknown>, frame: Record<string, unknown>, name: string): number {
    const value = key(frame, name);
    if (map.has(value)) {
      throw new ProtocolError(`malformed ${String(frame['op'])} frame: ${name} ${value} is already in use`);
    }
    return value;
  }

  /** Kept as a promise: a release or unsubscribe may arrive before the registration settled. */
  #register<R>(map: Map<number, Promise<R>>, id: number, pending: Promise<R>): void {
    map.set(id, pending);
    pending.catch(() => {
      if (map.get(id) === pending) {
        map.delete(id);
      }
    });
  }

  #drop<R>(map: Map<number, Promise<R>>, id: number, stop: (registration: R) => Promise<void>): Promise<void> {
    const pending = map.get(id);
    map.delete(id);
    // A registration that failed was answered with its error already: nothing to undo.
    return pending === undefined ? Promise.resolve() : pending.then(stop, ignore);
  }

  #answer(id: number, result: Promise<unknown>): void {
    result.then(
      (value) => {
        this.#send(this.#reply(id, value));
      },
      (error: unknown) => {
        this.#send(JSON.stringify({ re: id, err: toWireError(error) }));
      },
    );
  }

  #reply(id: number, value: unknown): string {
    if (value === undefined) {
      return `{"re":${id}}`;
    }
    let frame: string;
    try {
      frame = `{"re":${id},"ok":${JSON.stringify(value)}}`;
    } catch (error) {
      return JSON.stringify({ re: id, err: toWireError(new GatewayError('internal', { message: 'reply not JSON-serializable', cause: error })) });
    }
    if (frame.length > this.#context.maxFrameBytes) {
      // The client would drop the connection over it: the call fails instead.
      return JSON.stringify({
        re: id,
        err: { code: 'payload_too_large', message: `reply longer than ${this.#context.maxFrameBytes} bytes` },
      });
    }
    return frame;
  }

  #deliver(sub: number, envelope: Envelope): void {
    if (envelope === this.#open) {
      this.#openSubs += `,${sub}`;
      return;
    }
    this.#closeDelivery();
    this.#openBytes = this.#context.encode(envelope);
    this.#open = envelope;
    this.#openSubs = `${sub}`;
    this.#writer.schedule();
  }

  readonly #closeDelivery = (): void => {
    if (this.#open !== undefined) {
      this.#open = undefined;
      this.#writer.pushDelivery(this.#openSubs, this.#openBytes);
    }
  };

  #send(frame: string): void {
    this.#closeDelivery();
    this.#writer.push(frame);
  }

  #fatal(error: ProtocolError): void {
    this.#context.logger.warn(
      { nodeId: this.#nodeId, code: error.code, reason: error.message },
      'bus host: protocol error, dropping the peer',
    );
    this.#crash();
    this.#send(JSON.stringify({ fatal: { code: error.code, message: error.message } }));
    this.#writer.flush();
    this.#writer.stop();
    this.#end();
  }

  readonly #onOverflow = (buffered: number): void => {
    this.#context.logger.warn(
      { nodeId: this.#nodeId, buffered },
      'bus host: a node stopped reading its deliveries, dropping it',
    );
    this.#crash();
    this.#socket.destroy();
  };

  readonly #onClose = (): void => {
    this.#context.connections.delete(this);
    this.#writer.stop();
    if (this.#bus !== undefined && !this.#finished) {
      this.#context.logger.warn(
        { nodeId: this.#nodeId },
        'bus host: a node left without closing its bus; its interest expires after its TTL',
      );
    }
    this.#crash();
  };

  /** The node stops as a dead process would: its interest is NOT released but expires after its TTL. */
  #crash(): void {
    this.#done = true;
    if (this.#bus !== undefined && !this.#finished) {
      this.#finished = true;
      this.#context.hub.simulateCrash(this.#bus);
    }
  }

  /** Half-closes; a peer that does not close its end in time is cut off. */
  #end(): void {
    this.#socket.end();
    setTimeout(() => this.#socket.destroy(), END_GRACE_MS).unref();
  }
}
