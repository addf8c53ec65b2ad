/**
 * The wire protocol between a bus host and its loop buses: newline-delimited JSON over one Unix socket per
 * node. `JSON.stringify` never emits a raw newline, so a frame is exactly one line.
 *
 * Client → host (the first frame is `hello`; every frame carries a request `id` the answer repeats):
 *   {"op":"hello","id":0,"v":1,"node":"<node id>","ttl":<interestTtlMs>?}
 *   {"op":"pub"|"pubLatest","id":n,"topic":t,"data":d}     {"op":"append","id":n,"topic":t,"data":d,"opts":{..}}
 *   {"op":"latest"|"position","id":n,"topic":t}            {"op":"latestMany","id":n,"topics":[..]}
 *   {"op":"readSince","id":n,"topic":t,"since":s,"sincePublishedAt":p?}   {"op":"interested","id":n,"prefix":p}
 *   {"op":"sub","id":n,"sub":k,"pattern":p}               {"op":"unsub","id":n,"sub":k}
 *   {"op":"declare","id":n,"lease":k,"topic":t}           {"op":"release","id":n,"lease":k}
 *   {"op":"watch","id":n,"watch":k,"prefix":p}            {"op":"unwatch","id":n,"watch":k}
 *   {"op":"bye","id":n}                                    (clean close: the node's interest is released)
 * Host → client:
 *   {"re":n} | {"re":n,"ok":<result>} | {"re":n,"err":{"code":..,"message":..}}   answer to request n
 *   {"m":[k,..],"e":<envelope>}    one live message for the client's subscriptions k.. (once per message)
 *   {"w":k,"topic":t,"on":bool}    an interest change for the client's watcher k
 *   {"fatal":{"code":..,"message":..}}   the host refuses the peer (bad hello, malformed frame) and closes
 *
 * Subscription, lease and watcher ids (`k`) are chosen by the client before it sends the request, so a
 * delivery or notice that overtakes the answer already has somewhere to go.
 */
import { StringDecoder } from 'node:string_decoder';
import type { Socket } from 'node:net';
import { GatewayError, gatewayErrorCodes } from '@gw/core';
import type { GatewayErrorCode } from '@gw/core';

export const PROTOCOL_VERSION = 1;

/** A frame (one line) longer than this is a protocol error: 64 MiB, far above any message or history read. */
export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024 * 1024;
/** Output a peer has not read yet beyond which it counts as stuck: 64 MiB, seconds of a heavy stream. */
export const DEFAULT_MAX_BUFFERED_BYTES = 64 * 1024 * 1024;
/** Frames queued in one tick are written at once; past this many bytes they are written right away. */
const FLUSH_AT_BYTES = 256 * 1024;
const INITIAL_BATCH_BYTES = 16 * 1024;

export interface WireError {
  code: string;
  message: string;
}

export function toWireError(error: unknown): WireError {
  if (error instanceof GatewayError) {
    return { code: error.code, message: error.message };
  }
  return { code: 'internal', message: error instanceof Error ? error.message : String(error) };
}

const knownCodes = new Set<string>(gatewayErrorCodes);

export function fromWireError(wire: unknown, context: string): GatewayError {
  const { code, message } = (typeof wire === 'object' && wire !== null ? wire : {}) as Partial<WireError>;
  return new GatewayError(typeof code === 'string' && knownCodes.has(code) ? (code as GatewayErrorCode) : 'internal', {
    message: typeof message === 'string' ? message : `${context}: malformed error`,
  });
}

/** A peer broke the protocol: the connection cannot be trusted any more. */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  readonly code: GatewayErrorCode;

  constructor(message: string, code: GatewayErrorCode = 'bad_request') {
    super(message);
    this.code = code;
  }
}

/**
 * Splits a byte stream into lines. Memory is bounded: a line (complete or not) longer than `maxFrameBytes`
 * characters is a `payload_too_large` protocol error instead of a growing buffer.
 */
export class FrameReader {
  readonly #decoder = new StringDecoder('utf8');
  readonly #maxChars: number;
  /** The unfinished last line, in pieces: a large frame arriving in many chunks is joined once, not per chunk. */
  #rest: string[] = [];
  #restLength = 0;

  constructor(maxFrameBytes: number) {
    this.#maxChars = maxFrameBytes;
  }

  /** The complete lines `chunk` finishes, oldest first. One string decode per chunk, not per frame. */
  push(chunk: Buffer): string[] {
    const piece = this.#decoder.write(chunk);
    const last = piece.lastIndexOf('\n');
    if (last === -1) {
      this.#rest.push(piece);
      this.#restLength += piece.length;
      this.#checkLength(this.#restLength);
      return [];
    }
    const head = this.#rest.length === 0 ? '' : this.#rest.join('');
    const tail = piece.slice(last + 1);
    this.#rest = tail === '' ? [] : [tail];
    this.#restLength = tail.length;
    this.#checkLength(tail.length);
    const lines = (head + piece.slice(0, last)).split('\n');
    for (const line of lines) {
      this.#checkLength(line.length);
    }
    return lines;
  }

  #checkLength(length: number): void {
    if (length > this.#maxChars) {
      throw new ProtocolError(`frame longer than ${this.#maxChars} bytes`, 'payload_too_large');
    }
  }
}

export interface FrameWriterOptions {
  maxBufferedBytes: number;
  /** Runs before each write: the owner adds what it holds back (a delivery still collecting subscription ids). */
  beforeFlush?: () => void;
  /** The peer left more than `maxBufferedBytes` unread. The writer stops writing; the owner drops the peer. */
  onOverflow: (buffered: number) => void;
}

const DELIVERY_HEAD = Buffer.from('{"m":[');
const DELIVERY_MIDDLE = Buffer.from('],"e":');
const DELIVERY_TAIL = Buffer.from('}\n');
const NEWLINE = 10;

/**
 * Frames queued during one event-loop turn go out in one `write` (one syscall for thousands of messages),
 * at the next `setImmediate` or as soon as `FLUSH_AT_BYTES` are queued. Frames are encoded straight into
 * one byte batch; a delivery copies the envelope's bytes, encoded once per message for every connection.
 * What the peer has not read counts against `maxBufferedBytes`: past it the writer gives up on the peer
 * rather than grow without bound.
 */
export class FrameWriter {
  readonly #socket: Socket;
  readonly #options: FrameWriterOptions;
  #batch = Buffer.allocUnsafe(INITIAL_BATCH_BYTES);
  #length = 0;
  #scheduled = false;
  #stopped = false;

  constructor(socket: Socket, options: FrameWriterOptions) {
    this.#socket = socket;
    this.#options = options;
  }

  /** Bytes waiting for the peer: queued here or buffered by the socket. */
  get buffered(): number {
    return this.#length + this.#socket.writableLength;
  }

  get overflowing(): boolean {
    return this.buffered > this.#options.maxBufferedBytes;
  }

  /** Queues one frame (a JSON text without newline). */
  push(frame: string): void {
    if (this.#stopped) {
      return;
    }
    // UTF-8 needs at most three bytes per UTF-16 unit.
    this.#reserve(frame.length * 3 + 1);
    this.#length += this.#batch.write(frame, this.#length, 'utf8');
    this.#batch[this.#length++] = NEWLINE;
    this.#queued();
  }

  /** Queues `{"m":[<subs>],"e":<envelope>}`; `subs` is ASCII (comma-separated ids). */
  pushDelivery(subs: string, envelope: Uint8Array): void {
    if (this.#stopped) {
      return;
    }
    this.#reserve(DELIVERY_HEAD.length + subs.length + DELIVERY_MIDDLE.length + envelope.length + DELIVERY_TAIL.length);
    const batch = this.#batch;
    let at = this.#length;
    batch.set(DELIVERY_HEAD, at);
    at += DELIVERY_HEAD.length;
    for (let i = 0; i < subs.length; i += 1) {
      batch[at++] = subs.charCodeAt(i);
    }
    batch.set(DELIVERY_MIDDLE, at);
    at += DELIVERY_MIDDLE.length;
    batch.set(envelope, at);
    at += envelope.length;
    batch.set(DELIVERY_TAIL, at);
    this.#length = at + DELIVERY_TAIL.length;
    this.#queued();
  }

  /** Makes sure a flush runs this turn (for frames the owner holds back until `beforeFlush`). */
  schedule(): void {
    if (!this.#scheduled && !this.#stopped) {
      this.#scheduled = true;
      setImmediate(this.#scheduledFlush);
    }
  }

  flush(): void {
    if (this.#stopped) {
      return;
    }
    this.#options.beforeFlush?.();
    if (this.#length === 0) {
      return;
    }
    // The socket keeps the written bytes until the kernel took them: the next batch is a new buffer.
    const frames = this.#batch.subarray(0, this.#length);
    this.#batch = Buffer.allocUnsafe(Math.max(INITIAL_BATCH_BYTES, Math.min(this.#batch.length, FLUSH_AT_BYTES)));
    this.#length = 0;
    if (this.#socket.destroyed || !this.#socket.writable) {
      return;
    }
    this.#socket.write(frames);
    const buffered = this.#socket.writableLength;
    if (buffered > this.#options.maxBufferedBytes) {
      this.stop();
      this.#options.onOverflow(buffered);
    }
  }

  /** Drops what is queued and writes nothing more. */
  stop(): void {
    this.#stopped = true;
    this.#length = 0;
  }

  #reserve(bytes: number): void {
    const needed = this.#length + bytes;
    if (needed <= this.#batch.length) {
      return;
    }
    const grown = Buffer.allocUnsafe(Math.max(needed, this.#batch.length * 2));
    this.#batch.copy(grown, 0, 0, this.#length);
    this.#batch = grown;
  }

  #queued(): void {
    if (this.#length >= FLUSH_AT_BYTES) {
      this.flush();
    } else {
      this.schedule();
    }
  }

  readonly #scheduledFlush = (): void => {
    this.#scheduled = false;
    this.flush();
  };
}

/** Parses one line into a JSON object; anything else is a protocol error. */
export function parseFrame(line: string): Record<string, unknown> {
  let frame: unknown;
  try {
    frame = JSON.parse(line);
  } catch {
    throw new ProtocolError(`malformed frame (not JSON): ${preview(line)}`);
  }
  if (typeof frame !== 'object' || frame === null || Array.isArray(frame)) {
    throw new ProtocolError(`malformed frame (not a JSON object): ${preview(line)}`);
  }
  return frame as Record<string, unknown>;
}

export function preview(line: string): string {
  return JSON.stringify(line.length > 80 ? `${line.slice(0, 80)}…` : line);
}
