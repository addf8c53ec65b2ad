import type { ConfigSection } from './section.js';

/** One section of a composition, after the sections it uses were added. */
export interface ExpandedSection {
  /** Where it appears: its key in the composition, or its own name when it is only used by others. */
  readonly key: string;
  readonly section: ConfigSection;
  /** True when the app composed it itself, so its values are returned by `loadConfig` under `key`. */
  readonly declared: boolean;
}

/**
 * Every section of a composition once, each after the sections it uses: what `loadConfig` parses,
 * `printableConfig` prints and `configurationMarkdown` documents. A used section is matched by identity
 * first (an app may compose it under any key) and shown under its own name otherwise.
 *
 * Mistakes in the declarations themselves (two owners of one variable, two different sections of one name,
 * a `uses` key that is also a schema key, a cycle) throw a plain Error: they are programming errors, found
 * by the first test that loads the composition, not something a user can fix in the environment.
 */
export function expandSections(sections: Readonly<Record<string, ConfigSection>>): ExpandedSection[] {
  const declaredKeys = new Map<ConfigSection, string>();
  for (const [key, section] of Object.entries(sections)) {
    if (!declaredKeys.has(section)) {
      declaredKeys.set(section, key);
    }
  }
  const out: ExpandedSection[] = [];
  const placed = new Set<ConfigSection>();
  const visiting: string[] = [];

  const place = (section: ConfigSection, key: string, declared: boolean): void => {
    if (placed.has(section)) {
      return;
    }
    if (visiting.includes(section.name)) {
      throw new Error(`config sections use each other in a cycle: ${[...visiting, section.name].join(' → ')}`);
    }
    visiting.push(section.name);
    const shape = section.schema.shape as Record<string, unknown>;
    for (const [usedKey, used] of Object.entries((section.uses ?? {}) as Record<string, ConfigSection>)) {
      if (usedKey in shape) {
        throw new Error(`config section ${section.name} uses ${used.name} as "${usedKey}", which is also a key of its own schema`);
      }
      const declaredKey = declaredKeys.get(used);
      place(used, declaredKey ?? used.name, declaredKey !== undefined);
    }
    visiting.pop();
    const clash = out.find((entry) => entry.key === key);
    if (clash !== undefined) {
      throw new Error(`two different config sections appear as "${key}" (${clash.section.name} and ${section.name})`);
    }
    placed.add(section);
    out.push({ key, section, declared });
  };

  for (const [key, section] of Object.entries(sections)) {
    place(section, key, true);
  }
  assertOneOwnerPerVariable(out);
  return out;
}

/** Each variable, current or deprecated, is read by one section: the whole point of `uses`. */
function assertOneOwnerPerVariable(expanded: readonly ExpandedSection[]): void {
  const owners = new Map<string, string>();
  for (const { key, section } of expanded) {
    for (const variable of [...Object.keys(section.env), ...Object.keys(section.deprecatedEnv ?? {})]) {
      const owner = owners.get(variable);
      if (owner !== undefined && owner !== key) {
        throw new Error(`${variable} is read by config sections ${owner} and ${key}: keep it in one and have the other \`use\` that section`);
      }
      owners.set(variable, key);
    }
  }
}

/**
 * The parsed values of every expanded section, found in `config`: a declared section under its key, a used
 * one inside the values of a section that uses it.
 */
export function expandedValues(
  expanded: readonly ExpandedSection[],
  config: Readonly<Record<string, unknown>>,
): Map<ConfigSection, Record<string, unknown>> {
  const values = new Map<ConfigSection, Record<string, unknown>>();
  const collect = (section: ConfigSection, value: unknown): void => {
    if (value === null || typeof value !== 'object' || values.has(section)) {
      return;
    }
    const record = value as Record<string, unknown>;
    values.set(section, record);
    for (const [usedKey, used] of Object.entries((section.uses ?? {}) as Record<string, ConfigSection>)) {
      collect(used, record[usedKey]);
    }
  };
  for (const { key, section, declared } of expanded) {
    if (declared) {
      collect(section, config[key]);
    }
  }
  return values;
}
