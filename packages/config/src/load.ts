import type { ConfigOf, ConfigSection } from './section.js';

export type Env = Readonly<Record<string, string | undefined>>;

/** One thing wrong with the environment, named by the variable a user would fix. */
export interface ConfigProblem {
  variable: string;
  /** What was expected, in the schema's words. */
  expected: string;
  /** What was given, quoted; for secrets only its length. Undefined when the variable was not set. */
  given: string | undefined;
}

/** Startup fails with this: its message lists every problem, one per line. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    super(
      `invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems.map((p) => `  - ${p.variable}: ${p.expected}; given ${p.given ?? 'nothing (not set)'}`).join('\n'),
    );
    this.problems = problems;
  }
}

function describeGiven(value: string | undefined, secret: boolean): string | undefined {
  if (value === undefined) {
    return undefined;
  }
  if (secret) {
    return `a secret of ${value.length} characters (not shown)`;
  }
  // Long values (PEM keys, URLs with credentials pasted in the wrong variable) are shortened, not echoed whole.
  return value.length > 60 ? `${JSON.stringify(value.slice(0, 24))}… (${value.length} characters)` : JSON.stringify(value);
}

/** The raw object a section's schema parses: env values by schema key. Empty strings count as unset. */
function rawSectionInput(section: ConfigSection, env: Env): Record<string, string> {
  const raw: Record<string, string> = {};
  for (const [variable, key] of Object.entries(section.env)) {
    const value = env[variable];
    if (value !== undefined && value !== '') {
      raw[key] = value;
    }
  }
  return raw;
}

function variableFor(section: ConfigSection, key: string | undefined): string {
  const entry = Object.entries(section.env).find(([, k]) => k === key);
  return entry?.[0] ?? `${section.name}${key === undefined ? '' : `.${key}`}`;
}

/**
 * Parses every section from `env` and returns the typed configuration, or throws ONE ConfigError that lists
 * every problem of every section (variable, what was expected, what was given; never a secret's value).
 */
export function loadConfig<Sections extends Record<string, ConfigSection>>(
  env: Env,
  sections: Sections,
): ConfigOf<Sections> {
  const problems: ConfigProblem[] = [];
  const result: Record<string, unknown> = {};
  for (const [name, section] of Object.entries(sections)) {
    const raw = rawSectionInput(section, env);
    const parsed = section.schema.safeParse(raw);
    if (parsed.success) {
      result[name] = parsed.data;
      continue;
    }
    const secrets = new Set<string>(section.secrets ?? []);
    for (const issue of parsed.error.issues) {
      const key = typeof issue.path[0] === 'string' ? issue.path[0] : undefined;
      const variable = variableFor(section, key);
      problems.push({
        variable,
        expected: issue.message,
        given: describeGiven(key === undefined ? undefined : raw[key], key !== undefined && secrets.has(key)),
      });
    }
  }
  if (problems.length > 0) {
    throw new ConfigError(problems);
  }
  return result as ConfigOf<Sections>;
}

/**
 * The effective configuration by environment variable, secrets masked: what `--print-config` shows.
 * Values are the parsed ones (defaults applied), so a reader sees exactly what the process runs with.
 */
export function printableConfig(
  sections: Record<string, ConfigSection>,
  config: Record<string, unknown>,
): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [name, section] of Object.entries(sections)) {
    const values = (config[name] ?? {}) as Record<string, unknown>;
    const secrets = new Set<string>(section.secrets ?? []);
    const shown: Record<string, unknown> = {};
    for (const [variable, key] of Object.entries(section.env)) {
      const value = values[key];
      shown[variable] = secrets.has(key) && value !== undefined ? '********' : (value ?? null);
    }
    out[name] = shown;
  }
  return out;
}
