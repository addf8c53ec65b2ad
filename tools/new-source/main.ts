/**
 * `pnpm new:source <name> [--kind K]`: creates packages/sources/<name> from the template of its kind (asked on a
 * terminal when --kind is not given; `data` otherwise), registers it in the runtime,
 * installs (so the workspace links the new package) and regenerates docs/configuration.md, then prints the next
 * steps. `--root DIR` generates into another workspace root; `--skip-install` leaves the last two steps to you.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import { NewSourceError, generateSource } from './generate.js';
import type { GeneratedSource } from './generate.js';
import { isSourceKind, sourceKinds } from './template.js';
import type { SourceKind } from './template.js';

const kindHelp: Record<SourceKind, string> = {
  strategy: 'a strategy buy list: stock clients subscribe with {"subscription_type":"strategy","target":"<name>"}',
  signals: 'buy/sell signals: signal clients ask for them with /ws/signals?sources=<name>',
  quotes: 'stock prices: stock clients subscribe to the stock or its market',
  trading: 'per-user balance/positions/pnl/orders for watched users: trading clients (Socket.IO) subscribe_trading',
  data: 'readings on the bus only, for other sources (no client protocol)',
};

const usage = `Usage: pnpm new:source <name> [--kind ${sourceKinds.join('|')}] [--root DIR] [--skip-install]

Kinds (asked when --kind is not given on a terminal; data otherwise):
${sourceKinds.map((kind) => `  ${kind.padEnd(9)}${kindHelp[kind]}`).join('\n')}

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

/** The kind from --kind, or asked on a terminal, or `data`; throws on a kind that does not exist. */
async function chooseKind(flag: string | undefined): Promise<SourceKind> {
  if (flag !== undefined) {
    if (!isSourceKind(flag)) {
      throw new Error(`--kind ${flag}: expected one of ${sourceKinds.join(', ')}`);
    }
    return flag;
  }
  if (!process.stdin.isTTY) {
    return 'data';
  }
  const terminal = createInterface({ input: process.stdin, output: process.stdout });
  try {
    console.log(sourceKinds.map((kind, i) => `  ${i + 1}. ${kind.padEnd(9)}${kindHelp[kind]}`).join('\n'));
    for (;;) {
      const answer = (await terminal.question(`What does the source publish? [1-${sourceKinds.length} or a kind, default data] `)).trim();
      const kind = answer === '' ? 'data' : (sourceKinds[Number(answer) - 1] ?? answer);
      if (isSourceKind(kind)) {
        return kind;
      }
      console.log(`"${answer}" is not a kind: answer ${sourceKinds.join(', ')} or its number`);
    }
  } finally {
    terminal.close();
  }
}

/** How a client sees the generated source's data, once it runs. */
function clientLine(generated: GeneratedSource): string | undefined {
  const { name, UPPER_NAME } = generated.names;
  switch (generated.kind) {
    case 'strategy':
      return `stock clients: {"type":"subscribe","subscription_type":"strategy","target":"${UPPER_NAME.toLowerCase()}"} on /ws/stock/prices (prices come from a quotes source, e.g. SOURCES=stock-market,${name})`;
    case 'signals':
      return `signal clients: /ws/signals?sources=${name}`;
    case 'quotes':
      return `stock clients: {"type":"subscribe","subscription_type":"stock","target":"<code>"} on /ws/stock/prices`;
    case 'trading':
      return `trading clients: socket.io on /socket.io/ with auth: {token: <JWT>}, then emit subscribe_trading {"types":["balance"]}; each user gets only their own account (run it instead of the built-in trading source: both publish trading.*)`;
    case 'data':
      return undefined;
  }
}

/** The topics the generated source publishes on, for `watch-topics`. */
function watchPattern(generated: GeneratedSource): string {
  switch (generated.kind) {
    case 'strategy':
      return `stock.buylist.${generated.names.UPPER_NAME.toLowerCase()}`;
    case 'signals':
      return 'signals';
    case 'quotes':
      return 'stock.quote.*';
    case 'trading':
      return 'trading.*';
    case 'data':
      return `${generated.names.name}.*`;
  }
}

function nextSteps(generated: GeneratedSource, installed: boolean): string {
  const { name, packageName, UPPER_NAME } = generated.names;
  const client = clientLine(generated);
  const setup = installed
    ? []
    : ['flock /tmp/pnpm-install.lock pnpm install      # links the new package', 'pnpm -s config-doc > docs/configuration.md   # lists its settings'];
  const lines = [
    ...setup,
    `pnpm vitest run ${generated.packageDir}    # its unit, conformance${client === undefined ? '' : ' and client'} tests`,
    `REDIS_URL=redis://127.0.0.1:6379 pnpm worker --source ${name}`,
    `REDIS_URL=redis://127.0.0.1:6379 pnpm --filter @gw/source-testing watch-topics --pattern '${watchPattern(generated)}'`,
    `SOURCES=heartbeat,${name} pnpm start    # embedded: SOURCES lists every source the gateway runs`,
    ...(client === undefined ? [] : [client]),
    `then replace the simulated upstream in ${generated.packageDir}/src/upstream.ts (docs/data-sources.md), and pnpm test`,
  ];
  return [
    `Created ${generated.packageDir} (${packageName}, kind ${generated.kind}, settings ${UPPER_NAME}_*)`,
    `and registered it in ${generated.registeredIn.join(' and ')}.`,
    '',
    'Next:',
    ...lines.map((line, i) => `  ${i + 1}. ${line}`),
  ].join('\n');
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    options: { kind: { type: 'string' }, root: { type: 'string' }, 'skip-install': { type: 'boolean' }, help: { type: 'boolean' } },
    allowPositionals: true,
    strict: true,
  });
  if (values.help === true || positionals.length !== 1) {
    console.log(usage);
    return values.help === true ? 0 : 1;
  }
  const root = resolve(values.root ?? repoRoot);
  const kind = await chooseKind(values.kind);
  const generated = generateSource({ root, name: positionals[0] ?? '', kind });
  let installed = false;
  if (values['skip-install'] !== true) {
    installed = step(root, 'pnpm install', 'flock', ['/tmp/pnpm-install.lock', 'pnpm', 'install']) && regenerateConfigDoc(root);
  }
  console.log(`\n${nextSteps(generated, installed)}`);
  return 0;
}

try {
  process.exitCode = await main();
} catch (error) {
  const problems = error instanceof NewSourceError ? error.problems : [error instanceof Error ? error.message : String(error)];
  console.error(`new:source: cannot create the source:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  process.exitCode = 1;
}
