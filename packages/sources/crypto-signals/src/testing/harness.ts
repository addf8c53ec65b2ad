import type { Bus, Envelope } from '@gw/bus';
import { createMemoryBus } from '@gw/bus-memory';
import { loadConfig } from '@gw/config';
import type { Env } from '@gw/config';
import { GatewayError, createLogger } from '@gw/core';
import { noopMetrics } from '@gw/metrics';
import type { GatewayMetrics, PollResult } from '@gw/metrics';
import type { DataSource } from '@gw/source';
import { signalsTopic } from '@gw/topics';
import type { Signal } from '@gw/topics';
import { cryptoSignalsConfig } from '../config.js';

/** Metrics that keep what the source reports about polls and errors (everything else is dropped). */
export interface RecordedMetrics {
  metrics: GatewayMetrics;
  polls: { source: string; result: PollResult; seconds: number }[];
  errors: { source: string; kind: string }[];
  /** The last count reported per mode (`stream`, `poll`). */
  modes: Map<string, number>;
  /** Stream reconnects reported. */
  reconnects: { count: number };
  /** Event latencies reported, in seconds. */
  eventLatencies: number[];
}

export function recordingMetrics(): RecordedMetrics {
  const polls: RecordedMetrics['polls'] = [];
  const errors: RecordedMetrics['errors'] = [];
  const modes = new Map<string, number>();
  const reconnects = { count: 0 };
  const eventLatencies: number[] = [];
  const metrics: GatewayMetrics = {
    ...noopMetrics,
    sourcePoll: (source, result, seconds) => {
      polls.push({ source, result, seconds });
    },
    sourceError: (source, kind) => {
      errors.push({ source, kind });
    },
    sourceModeCount: (_source, mode, count) => {
      modes.set(mode, count);
    },
    sourceStreamReconnected: () => {
      reconnects.count += 1;
    },
    sourceEventLatency: (_source, seconds) => {
      eventLatencies.push(seconds);
    },
  };
  return { metrics, polls, errors, modes, reconnects, eventLatencies };
}

export interface RunningSource extends RecordedMetrics {
  /** Every envelope seen on `signals`, in order. */
  signals: Envelope<Signal>[];
  /** Aborts and resolves when `run` has returned; the time that took in ms. */
  stop(): Promise<number>;
  /** The promise `run` returned (to see it did not reject). */
  done: Promise<void>;
}

/** Runs `source` on a fresh memory bus with the configuration parsed from `env`, as an app would. */
export async function runWithEnv(
  source: DataSource<typeof cryptoSignalsConfig>,
  env: Env,
  options: { failAppends?: number } = {},
): Promise<RunningSource> {
  const config = loadConfig(env, { cryptoSignals: cryptoSignalsConfig }).cryptoSignals;
  const memoryBus = createMemoryBus();
  let failures = options.failAppends ?? 0;
  // The memory bus, except that its first `failAppends` appends are refused (as while Redis is unreachable).
  const append: Bus['append'] = (topic, data, historyOptions) => {
    if (failures > 0) {
      failures -= 1;
      return Promise.reject(new GatewayError('bus_unavailable', { message: 'bus is disconnected' }));
    }
    return memoryBus.append(topic, data, historyOptions);
  };
  const bus = new Proxy(memoryBus, {
    get: (target, property) => {
      if (property === 'append') {
        return append;
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  const signals: Envelope<Signal>[] = [];
  await bus.subscribe<Signal>(signalsTopic, (message) => {
    signals.push(message);
  });
  const recorded = recordingMetrics();
  const abort = new AbortController();
  const done = source.run(
    { config, bus, logger: createLogger({ level: 'silent' }), metrics: recorded.metrics },
    abort.signal,
  );
  return {
    ...recorded,
    signals,
    done,
    stop: async () => {
      const startedAt = performance.now();
      abort.abort();
      await done;
      const took = performance.now() - startedAt;
      await bus.close();
      return took;
    },
  };
}
