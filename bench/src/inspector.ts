import { WebSocket } from 'ws';
import { z } from 'zod';

/**
 * The heap of a bench gateway after a full garbage collection, read over the V8 inspector protocol: the bench
 * starts the gateway with `--inspect=127.0.0.1:<port>` (through NODE_OPTIONS, `inspectorEnv`) and asks it
 * from outside, so the product needs no forced-GC route or flag. Loopback only, bench gateways only.
 */

/** Environment that opens the gateway's inspector on `port` (127.0.0.1), for `heapAfterGc`. */
export function inspectorEnv(port: number): Record<string, string> {
  return { NODE_OPTIONS: `--inspect=127.0.0.1:${port}` };
}

const targetsSchema = z.array(z.object({ webSocketDebuggerUrl: z.string() }));
const replySchema = z.object({
  id: z.number(),
  result: z.unknown().optional(),
  error: z.object({ message: z.string() }).optional(),
});
const evaluateResultSchema = z.object({ result: z.object({ value: z.unknown() }) });
const memorySchema = z.object({ heapUsed: z.number(), heapTotal: z.number(), rss: z.number() });

/** `process.memoryUsage()` of the gateway right after a full GC (bytes). */
export interface HeapAfterGc {
  heapUsed: number;
  heapTotal: number;
  rss: number;
}

/** Runs `use` in one inspector session of the process listening on `port`: commands by id, answered in any order. */
export async function withInspector<T>(port: number, use: (send: (method: string, params?: object) => Promise<unknown>) => Promise<T>, timeoutMs: number): Promise<T> {
  const response = await fetch(`http://127.0.0.1:${port}/json/list`, { signal: AbortSignal.timeout(timeoutMs) });
  const [target] = targetsSchema.parse(await response.json());
  if (target === undefined) {
    throw new Error(`no inspector target on 127.0.0.1:${port}`);
  }
  const socket = new WebSocket(target.webSocketDebuggerUrl, { maxPayload: 64 * 1024 * 1024 });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => { resolve(); });
    socket.once('error', reject);
  });
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  let nextId = 1;
  socket.on('message', (raw: Buffer) => {
    const parsed = replySchema.safeParse(JSON.parse(raw.toString('utf8')));
    if (!parsed.success) {
      return; // an event, not a reply
    }
    const waiter = pending.get(parsed.data.id);
    pending.delete(parsed.data.id);
    if (parsed.data.error !== undefined) {
      waiter?.reject(new Error(parsed.data.error.message));
    } else {
      waiter?.resolve(parsed.data.result);
    }
  });
  const failAll = (error: Error): void => {
    for (const waiter of pending.values()) {
      waiter.reject(error);
    }
    pending.clear();
  };
  socket.on('close', () => { failAll(new Error('inspector session closed')); });
  socket.on('error', (error: Error) => { failAll(error); });
  const send = (method: string, params: object = {}): Promise<unknown> => {
    const id = nextId;
    nextId += 1;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`inspector ${method}: no answer in ${timeoutMs} ms`));
      }, timeoutMs);
      pending.set(id, {
        resolve: (value) => { clearTimeout(timer); resolve(value); },
        reject: (error) => { clearTimeout(timer); reject(error); },
      });
      socket.send(JSON.stringify({ id, method, params }));
    });
  };
  try {
    return await use(send);
  } finally {
    socket.close();
  }
}

/**
 * Forces a full GC in the gateway whose inspector listens on `port` (`HeapProfiler.collectGarbage`), then
 * reads its `process.memoryUsage()`: the live heap, without the garbage a busy process carries between
 * collections.
 */
export async function heapAfterGc(port: number, timeoutMs = 30_000): Promise<HeapAfterGc> {
  return withInspector(port, async (send) => {
    await send('HeapProfiler.collectGarbage');
    const evaluated = evaluateResultSchema.parse(
      await send('Runtime.evaluate', { expression: 'JSON.stringify(process.memoryUsage())', returnByValue: true }),
    );
    return memorySchema.parse(JSON.parse(String(evaluated.result.value)));
  }, timeoutMs);
}
