/** docker-compose.yml as the tests read it: YAML merge keys resolved, `${VAR:-default}` interpolated. */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { INFRA_DIR } from './processes.js';

export const COMPOSE_FILE = `${INFRA_DIR}docker-compose.yml`;

/** The parts of a compose service the tests look at. */
export interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string; target?: string };
  command?: string[];
  /** YAML may give numbers or booleans where a string is meant; compose turns them into strings. */
  environment?: Record<string, string | number | boolean | null>;
  expose?: string[];
  ports?: string[];
  volumes?: string[];
  stop_grace_period?: string;
  depends_on?: Record<string, { condition: string }> | string[];
  healthcheck?: unknown;
}

export interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

/** The file as compose sees it before interpolation: `<<` merge keys applied, `x-` extensions kept. */
export function readCompose(): ComposeFile {
  return parse(readFileSync(COMPOSE_FILE, 'utf8'), { merge: true }) as ComposeFile;
}

/**
 * Compose's interpolation of `${VAR}`, `${VAR:-default}` and `${VAR-default}` against `env`, enough for the
 * forms this file uses (it has no `$$`, `:?` or nested defaults; the test of the file fails if it gains one).
 */
export function interpolate(value: string, env: Readonly<Record<string, string | undefined>>): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)-([^}]*))?\}/g, (_match, name: string, colon: string | undefined, fallback: string | undefined) => {
    const set = env[name];
    if (fallback === undefined) {
      return set ?? '';
    }
    const useFallback = colon === ':' ? set === undefined || set === '' : set === undefined;
    return useFallback ? fallback : (set ?? '');
  });
}

/** A service's environment after interpolation against `env` (the host's, in compose). */
export function serviceEnvironment(service: ComposeService, env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  return Object.fromEntries(Object.entries(service.environment ?? {}).map(([key, value]) => [key, interpolate(value === null ? '' : String(value), env)]));
}

/** A compose duration ("20s", "1m30s") in seconds. */
export function durationSeconds(duration: string): number {
  const units: Record<string, number> = { h: 3600, m: 60, s: 1, ms: 0.001 };
  const parts = [...duration.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== duration) {
    throw new Error(`not a duration: "${duration}"`);
  }
  return parts.reduce((sum, [, amount, unit]) => sum + Number(amount) * (units[unit ?? ''] ?? Number.NaN), 0);
}
