import { expandSections } from './expand.js';
import type { ConfigSection } from './section.js';

function defaultOf(section: ConfigSection, key: string): string {
  const parsed = section.schema.safeParse({});
  if (!parsed.success) {
    return '(required)';
  }
  const value: unknown = parsed.data[key];
  if (value === undefined) {
    return '—';
  }
  return `\`${Array.isArray(value) ? value.join(',') : JSON.stringify(value).replace(/^"|"$/g, '')}\``;
}

/** "Also uses the values of `environment`" under a section's heading, so a reader knows where its defaults come from. */
function usesLine(section: ConfigSection, keyOf: ReadonlyMap<ConfigSection, string>): string | undefined {
  const used = Object.values((section.uses ?? {}) as Record<string, ConfigSection>).map((u) => keyOf.get(u) ?? u.name);
  if (used.length === 0) {
    return undefined;
  }
  const links = used.map((key) => `[\`${key}\`](#${key})`).join(' and ');
  return `Also uses the values of ${links} (see ${used.length === 1 ? 'that section' : 'those sections'}).\n`;
}

/**
 * A Markdown table per section of every environment variable: default (from the schema itself), whether it
 * is secret, and the section's own description. A section used by others is documented once, before the
 * first section that uses it. `docs/configuration.md` is this output, checked by a test.
 */
export function configurationMarkdown(sections: Record<string, ConfigSection>): string {
  const parts: string[] = [];
  const expanded = expandSections(sections);
  const keyOf = new Map(expanded.map(({ key, section }) => [section, key]));
  for (const { key: name, section } of expanded) {
    parts.push(`## ${name}\n`);
    const uses = usesLine(section, keyOf);
    if (uses !== undefined) {
      parts.push(uses);
    }
    parts.push('| variable | default | description |\n|---|---|---|');
    const secrets = new Set<string>(section.secrets ?? []);
    const docs = (section.docs ?? {}) as Record<string, string | undefined>;
    for (const [variable, key] of Object.entries(section.env)) {
      const description = (docs[key] ?? '').replace(/\|/g, '\\|');
      parts.push(`| \`${variable}\` | ${defaultOf(section, key)} | ${description}${secrets.has(key) ? ' (secret: masked, never logged)' : ''} |`);
    }
    parts.push('');
  }
  return parts.join('\n');
}
