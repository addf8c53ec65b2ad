/**
 * `pnpm new:source <name>`: creates packages/sources/<name> from the template, registers it in the runtime,
 * installs (so the workspace links the new package) and regenerates docs/configuration.md, then prints the next
 * steps. `--root DIR` generates into another workspace root; `--skip-install` leaves the last two steps to you.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { NewSourceError, generateSource } from './generate.js';
import type { GeneratedSource } from './generate.js';

const usage = `Usage: pnpm new:source <name> [--root DIR] [--skip-install]

Creates packages/sources/<name> (@gw/source-<name>) from tools/new-source/template, registers it in
packages/runtime (so \`pnpm worker --source <name>\` and SOURCES know it), runs
\`flock /tmp/pnpm-install.lock pnpm install\` and regenerates docs/configuration.md.
<name>: lower-case words joined by "-", e.g. okx-tickers.`;

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** Runs a step of the setup in `root`; false (with what to do by hand) when it fails. */
function step(root: string, what: string, command: string, args: string[]): boolean {
  console.log(`\n$ ${[command, ...args].join(' ')}`);
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
  if (result.status === 0) {
    return true;
  }
  console.error(`new:source: ${what} failed (${result.error?.message ?? `exit ${String(result.status)}`}); run it yourself: ${[command, ...args].join(' ')}`);
  return false;
}

/** docs/configuration.md lists every variable of every registered source; a test checks it is current. */
function regenerateConfigDoc(root: string): boolean {
  console.log('\n$ pnpm -s config-doc > docs/configuration.md');
  const result = spawnSync('pnpm', ['-s', 'config-doc'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (result.status !== 0 || result.stdout.trim() === '') {
    console.error('new:source: regenerating docs/configuration.md failed; run: pnpm -s config-doc > docs/configuration.md');
    return false;
  }
  writeFileSync(join(root, 'docs/configuration.md'), result.stdout);
  return true;
}

function nextSteps(generated: GeneratedSource, installed: boolean): string {
  const { name, packageName, UPPER_NAME } = generated.names;
  const setup = installed
    ? []
    : ['flock /tmp/pnpm-install.lock pnpm install      # links the new package', 'pnpm -s config-doc > docs/configuration.md   # lists its settings'];
  const lines = [
    ...setup,
    `pnpm vitest run ${generated.packageDir}    # its unit and conformance tests`,
    `REDIS_URL=redis://127.0.0.1:6379 pnpm worker --source ${name}`,
    `REDIS_URL=redis://127.0.0.1:6379 pnpm --filter @gw/source-testing watch-topics --pattern '${name}.*'`,
    `SOURCES=heartbeat,${name} pnpm start    # embedded: SOURCES lists every source the gateway runs`,
    `then replace the simulated upstream in ${generated.packageDir}/src/upstream.ts (docs/data-sources.md), and pnpm test`,
  ];
  return [
    `Created ${generated.packageDir} (${packageName}, settings ${UPPER_NAME}_*, topics ${name}.<key>)`,
    `and registered it in ${generated.registeredIn.join(' and ')}.`,
    '',
    'Next:',
    ...lines.map((line, i) => `  ${i + 1}. ${line}`),
  ].join('\n');
}

function main(): number {
  const { values, positionals } = parseArgs({
    options: { root: { type: 'string' }, 'skip-install': { type: 'boolean' }, help: { type: 'boolean' } },
    allowPositionals: true,
    strict: true,
  });
  if (values.help === true || positionals.length !== 1) {
    console.log(usage);
    return values.help === true ? 0 : 1;
  }
  const root = resolve(values.root ?? repoRoot);
  const generated = generateSource({ root, name: positionals[0] ?? '' });
  let installed = false;
  if (values['skip-install'] !== true) {
    installed = step(root, 'pnpm install', 'flock', ['/tmp/pnpm-install.lock', 'pnpm', 'install']) && regenerateConfigDoc(root);
  }
  console.log(`\n${nextSteps(generated, installed)}`);
  return 0;
}

try {
  process.exitCode = main();
} catch (error) {
  const problems = error instanceof NewSourceError ? error.problems : [error instanceof Error ? error.message : String(error)];
  console.error(`new:source: cannot create the source:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  process.exitCode = 1;
}
