import { fileURLToPath } from 'node:url';
import { configurationMarkdown, deprecatedVariables } from '@gw/config';
import type { ConfigSection } from '@gw/config';
import { builtInSources, sourceSections } from '@gw/runtime';
import { adapterSections } from './adapters.js';
import { gatewaySections } from './config.js';

/** The text of docs/configuration.md: every variable of the gateway, its adapters and its sources. */
export function configurationDoc(): string {
  const sections = { ...gatewaySections, ...adapterSections, ...sourceSections(builtInSources()) };
  return `# Configuration

Every setting is an environment variable, parsed by the zod schema of the package that owns it (defaults live in
the schemas). An invalid value stops startup with one message listing every problem. \`pnpm gateway --print-config\`
prints the effective values with secrets masked. Each variable belongs to one section; a section that needs another's
values (the deployment environment, the signal history bounds) uses that section, listed once under its own name.
Workers (\`pnpm worker\`) read the \`process\`, \`bus\` and source sections (with those they use), plus
\`METRICS_PORT\` (default 9464) and \`METRICS_HOST\`.

With \`GATEWAY_ENV=production\` the gateway refuses to start without a JWT key (\`JWT_SECRET\`, \`JWT_PUBLIC_KEY\` or
\`JWT_JWKS_URL\`, not the development secret) and an \`ADMIN_TOKEN\`.

This file is generated: \`pnpm config-doc > docs/configuration.md\` (a test checks it is current).

${renamedSettings(sections)}
${configurationMarkdown(sections).replaceAll(repoRoot, '<repo>/')}`;
}

/** The former names still accepted, from the sections' own declarations, so the list cannot drift. */
function renamedSettings(sections: Record<string, ConfigSection>): string {
  const rows = deprecatedVariables(sections).map(({ variable, replacement }) => `| \`${variable}\` | \`${replacement}\` |`);
  return `## Renamed settings

The client message rate is named the same way for all three protocols: a token bucket per connection,
\`<PROTOCOL>_MESSAGES_PER_SECOND\` (refill) and \`<PROTOCOL>_MESSAGE_BURST\` (size), for \`SIGNALS\`, \`STOCK\` and
\`SOCKETIO\`. All three default to 20 messages per second and a burst of 250, so a client that subscribes to 200
targets at once is served completely. The former names below are still read for one release: a process started
with one logs a warning, and when both names are set the new one wins.

| former name | new name |
|---|---|
${rows.join('\n')}

\`--print-config\` shows \`GATEWAY_ENV\` under \`environment\` (formerly under \`process\`) and \`SIGNAL_HISTORY_SIZE\`,
\`SIGNAL_HISTORY_MAX_AGE_MS\` under \`signal-history\`; their names and values are unchanged.
`;
}

/** Defaults that are paths inside the checkout are shown relative to it, the same on every machine. */
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

if (process.argv[1]?.endsWith('config-doc.ts') === true) {
  process.stdout.write(configurationDoc());
}
