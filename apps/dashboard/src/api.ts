import type { JsonObject } from './wire.js';

/** An answer of the gateway's REST API: status and JSON body (undefined when the body is not a JSON object). */
export interface JsonReply {
  readonly status: number;
  readonly body: JsonObject | undefined;
}

/** No poll waits longer than this for an answer; the next poll tries again. */
export const REQUEST_TIMEOUT_MS = 5_000;

/**
 * Runs `task` now and then `intervalMs` after each run ends (never two at once, however slow the gateway).
 * `task` handles its own failures. Returns a function that stops the polling.
 */
export function poll(intervalMs: number, task: () => Promise<void>): () => void {
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const run = (): void => {
    task()
      .catch(() => undefined)
      .finally(() => {
        if (!stopped) {
          timer = setTimeout(run, intervalMs);
        }
      });
  };
  run();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
