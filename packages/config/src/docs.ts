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

/**
 * A Markdown table per section of every environment variable: default (from the schema itself), whether it
 * is secret, and the section's own description. `docs/configuration.md` is this output, checked by a test.
 */
export function configurationMarkdown(sections: Record<string, ConfigSection>): string {
  const parts: string[] = [];
  for (const [name, section] of Object.entries(sections)) {
    parts.push(`## ${name}\n\n| variable | default | description |\n|---|---|---|`);
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
