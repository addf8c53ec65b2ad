import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseBenchArgs, usage } from './cli.js';
import { describeMachine } from './machine.js';
import { renderReport } from './report.js';
import { runBench } from './runner.js';
import { scenarios, selectScenarios } from './scenarios/index.js';
import { renderNotes, renderTable } from './table.js';
import { QUICK_TARGETS_NOTE, evaluateTargets, renderTargets } from './targets.js';

/** Repository root: bench/src/main.ts is two levels below it. */
const ROOT = fileURLToPath(new URL('../../', import.meta.url)).replace(/\/$/, '');

/** `pnpm bench [options]`: see `usage` in cli.ts. Exit 0 when every selected scenario ran, 1 otherwise, 2 on bad usage. */
async function main(): Promise<number> {
  let options;
  try {
    options = parseBenchArgs(process.argv.slice(2));
  } catch (error) {
    console.error(`bench: ${error instanceof Error ? error.message : String(error)}\n\n${usage}`);
    return 2;
  }
  if (options.help) {
    console.log(usage);
    return 0;
  }
  if (options.list) {
    for (const scenario of scenarios) {
      console.log(`${scenario.name.padEnd(14)} ${scenario.description}`);
    }
    return 0;
  }
  let selected;
  try {
    selected = selectScenarios(options.scenarios);
  } catch (error) {
    console.error(`bench: ${error instanceof Error ? error.message : String(error)}`);
    return 2;
  }
  const log = (message: string): void => {
    console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);
  };
  const machine = await describeMachine();
  const outcome = await runBench({ root: ROOT, scenarios: selected, quick: options.quick, profile: options.profile, loops: options.loops, log });
  // A quick run's reduced load says nothing about targets set for the full load: it does not judge them.
  const targets = options.quick ? [] : evaluateTargets(outcome.rows);
  const verdict = options.quick ? QUICK_TARGETS_NOTE : renderTargets(targets);
  console.log(`\n${renderTable(outcome.rows)}\n\n${renderNotes(outcome.rows)}\n\n${verdict}\n`);
  for (const problem of outcome.problems) {
    console.log(`- ${problem.scenario}: ${problem.error}`);
  }
  console.log(`\ntotal ${outcome.elapsedS.toFixed(0)} s${options.quick ? ' (--quick: numbers are for development only)' : ''}`);
  const rawPath = join(tmpdir(), 'gw-bench-latest.json');
  await writeFile(rawPath, `${JSON.stringify(outcome, null, 2)}\n`);
  console.log(`raw results: ${rawPath}`);
  if (options.report) {
    const docPath = join(ROOT, 'docs', 'benchmarks.md');
    const previous = await readFile(docPath, 'utf8').catch(() => undefined);
    await writeFile(docPath, renderReport({ outcome, targets, machine, quick: options.quick, argv: process.argv.slice(2), previous }));
    console.log(`wrote ${docPath}`);
  }
  return outcome.problems.length > 0 ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error('bench failed:', error);
    process.exitCode = 1;
  },
);
