import { parseArgs } from 'node:util';

/** What `pnpm bench` was asked to do. */
export interface BenchOptions {
  /** Scenario names to run; undefined = all of them. */
  scenarios: string[] | undefined;
  quick: boolean;
  /** Rewrite docs/benchmarks.md from this run. */
  report: boolean;
  /** Also run the profiling passes (node --cpu-prof under the selected ones of signals 5k, stock and trading). */
  profile: boolean;
  list: boolean;
  help: boolean;
  /** Event loops (`LOOPS`) the mixed scenario runs the gateway with, one run each; undefined = 1 and the cores. */
  loops: number[] | undefined;
}

export const usage = `Usage: pnpm bench [--scenario NAME[,NAME]] [--quick] [--profile] [--report] [--list]

Starts the gateway (and the minimal uWS reference server) as real processes on 127.0.0.1, drives them with
the vendored C load generator (bench/wsload, compiled with gcc into a temporary directory) and prints the
results table.

  --scenario NAMES  run only these scenarios (comma list or repeated); --list names them
  --quick           development mode: ~1/10 of the connections, a few seconds per phase (numbers not comparable)
  --profile         also profile the gateway (node --cpu-prof) under the selected ones of the signals 5k,
                    stock and trading scenarios, each in a run of its own
  --report          rewrite docs/benchmarks.md with this run's table, commands, machine and profile
                    (implies --profile unless --scenario limits the run)
  --loops N[,N]     event loops (LOOPS) of the gateway in the mixed scenario, one run each
                    (default: 1 and the number of cores); the other scenarios always run one loop
  --list            list the scenarios and exit
  --help            this text`;

/** Parses the command line. Throws (with a message naming the problem) on unknown or malformed options. */
export function parseBenchArgs(argv: readonly string[]): BenchOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      scenario: { type: 'string', multiple: true },
      quick: { type: 'boolean', default: false },
      report: { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      list: { type: 'boolean', default: false },
      loops: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  const scenarios = values.scenario
    ?.flatMap((s) => s.split(','))
    .map((s) => s.trim())
    .filter((s) => s !== '');
  return {
    scenarios: scenarios === undefined || scenarios.length === 0 ? undefined : scenarios,
    quick: values.quick,
    report: values.report,
    profile: values.profile || (values.report && scenarios === undefined),
    list: values.list,
    help: values.help,
    loops: parseLoops(values.loops),
  };
}

function parseLoops(text: string | undefined): number[] | undefined {
  if (text === undefined) {
    return undefined;
  }
  const loops = text.split(',').map((part) => Number(part.trim()));
  if (loops.length === 0 || loops.some((n) => !Number.isInteger(n) || n < 1 || n > 64)) {
    throw new Error(`--loops: expected a comma list of integers from 1 to 64, got "${text}"`);
  }
  return loops;
}
