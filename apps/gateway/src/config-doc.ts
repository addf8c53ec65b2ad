import { fileURLToPath } from 'node:url';
import { configurationMarkdown } from '@gw/config';
import { builtInSources, sourceSections } from '@gw/runtime';
import { adapterSections } from './adapters.js';
import { gatewaySections } from './config.js';

/** The text of docs/configuration.md: every variable of the gateway, its adapters and its sources. */
export function configurationDoc(): string {
  const sections = { ...gatewaySections, ...adapterSections, ...sourceSections(builtInSources()) };
  return `# Configuration

Every setting is an environment variable, parsed by the zod schema of the package that owns it (defaults live in
the schemas). An invalid value stops startup with one message listing every problem. \`pnpm gateway --print-config\`
prints the effective values with secrets masked. Workers (\`pnpm worker\`) read the \`process\`, \`bus\` and source
sections, plus \`METRICS_PORT\` (default 9464) and \`METRICS_HOST\`.

With \`GATEWAY_ENV=production\` the gateway refuses to start without a JWT key (\`JWT_SECRET\`, \`JWT_PUBLIC_KEY\` or
\`JWT_JWKS_URL\`, not the development secret) and an \`ADMIN_TOKEN\`.

This file is generated: \`pnpm config-doc > docs/configuration.md\` (a test checks it is current).

${configurationMarkdown(sections).replaceAll(repoRoot, '<repo>/')}`;
}

/** Defaults that are paths inside the checkout are shown relative to it, the same on every machine. */
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

if (process.argv[1]?.endsWith('config-doc.ts') === true) {
  process.stdout.write(configurationDoc());
}
