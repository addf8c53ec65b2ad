import type { Bus } from '@gw/bus';
import type { GatewayMetrics } from '@gw/metrics';

/** What one source of this process has done, as the operator console shows it. Times are epoch milliseconds. */
export interface SourceStatus {
  name: string;
  /** Messages the source handed to the bus (live, latest and history alike). */
  publishes: number;
  last_publish_at: number | null;
  /** Errors the source (or its runner) counted, as `gateway_source_errors_total` counts them. */
  errors: number;
  last_error_at: number | null;
  last_error_kind: string | null;
  /**
   * Accounts (or feeds) per delivery mode for sources that have modes, e.g. trading `{stream: 480, poll: 20}`:
   * an account that fell back to polling shows here. Null for a source that reports none.
   */
  modes: Record<string, number> | null;
}

/** The dependencies a source runs with: `runSource`'s `{ bus, logger, metrics }`. */
interface SourceDeps {
  bus: Bus;
  metrics: GatewayMetrics;
}

export interface SourceActivity {
  /**
   * `deps` for running source `name`, with its bus publishes and its errors recorded on the way through
   * (everything else is the same bus and the same metrics).
   */
  watch<D extends SourceDeps>(name: string, deps: D): D;
  /** Every watched source, in the order they were watched. */
  statuses(): SourceStatus[];
}

const ignored = (): undefined => undefined;

/** Bus methods by which a source publishes. */
const PUBLISHING = new Set<PropertyKey>(['publish', 'publishLatest', 'append']);

type AnyFunction = (...args: unknown[]) => unknown;

/**
 * `target` with the methods `replacement` returns a function for replaced; other methods stay bound to
 * `target` (the bus implementations keep private fields, which a proxy receiver could not reach). Each method
 * is bound (and replaced) once, at its first use, not at every call: a source publishes thousands of times a
 * second through it.
 */
function intercept<T extends object>(target: T, replacement: (name: PropertyKey, original: AnyFunction) => AnyFunction | undefined): T {
  // By the function read, so a method the target swaps later is bound anew.
  const bound = new Map<PropertyKey, { from: AnyFunction; to: AnyFunction }>();
  return new Proxy(target, {
    get(object, property) {
      const value: unknown = Reflect.get(object, property, object);
      if (typeof value !== 'function') {
        return value;
      }
      const known = bound.get(property);
      if (known?.from === value) {
        return known.to;
      }
      const original = (value as AnyFunction).bind(object);
      const to = replacement(property, original) ?? original;
      bound.set(property, { from: value as AnyFunction, to });
      return to;
    },
  });
}

/**
 * Records, per source, when it last published and failed, so the console can say whether each source is
 * healthy without the source knowing about it. The counting is one increment and one clock read per publish.
 */
export function createSourceActivity(now: () => number = Date.now): SourceActivity {
  const statuses = new Map<string, SourceStatus>();
  return {
    watch: (name, deps) => {
      const status: SourceStatus = statuses.get(name) ?? {
        name,
        publishes: 0,
        last_publish_at: null,
        errors: 0,
        last_error_at: null,
        last_error_kind: null,
        modes: null,
      };
      statuses.set(name, status);
      const counted = (): void => {
        status.publishes += 1;
        status.last_publish_at = now();
      };
      const bus = intercept(deps.bus, (property, original) =>
        PUBLISHING.has(property)
          ? (...args: unknown[]) => {
              const result = original(...args);
              // Counted once the bus took it: a publish that failed (bus down) is not activity.
              void (result as Promise<unknown>).then(counted, ignored);
              return result;
            }
          : undefined,
      );
      // Not a proxy: metrics objects may be frozen, and a proxy must return a frozen object's own methods.
      const metrics: GatewayMetrics = Object.create(deps.metrics, {
        sourceError: {
          value: (source: string, kind: string): void => {
            if (source === name) {
              status.errors += 1;
              status.last_error_at = now();
              status.last_error_kind = kind;
            }
            deps.metrics.sourceError(source, kind);
          },
        },
        sourceModeCount: {
          value: (source: string, mode: Parameters<GatewayMetrics['sourceModeCount']>[1], count: number): void => {
            if (source === name) {
              status.modes = { ...(status.modes ?? {}), [mode]: count };
            }
            deps.metrics.sourceModeCount(source, mode, count);
          },
        },
      }) as GatewayMetrics;
      return { ...deps, bus, metrics };
    },
    statuses: () => [...statuses.values()].map((status) => ({ ...status, modes: status.modes === null ? null : { ...status.modes } })),
  };
}
