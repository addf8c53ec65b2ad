import { parseArgs } from 'node:util';

/** What `pnpm bench` was asked to do. */
export interface BenchOptions {
  /** Scenario names to run; undefined = all of them. */
  scenarios: string[] | undefined;
  quick: boolean;
  /** Rewrite docs/benchmarks.md from this run. */
  report: boolean;
  /** Also run the profiling passes (node --cpu-prof under the signals 5k and stock scenarios). */
  profile: boolean;
  list: boolean;
  help: boolean;
}

export const usage = `Usage: pnpm bench [--scenario NAME[,NAME]] [--quick] [--profile] [--report] [--list]

Starts the gateway (and the minimal uWS reference server) as real processes on 127.0.0.1, drives them with
the vendored C load generator (bench/wsload, compiled with gcc into a temporary directory) and prints the
results table.

  --scenario NAMES  run only these scenarios (comma list or repeated); --list names them
  --quick           development mode: ~1/10 of the connections, a few seconds per phase (numbers not comparable)
  --profile         also profile the gateway (node --cpu-prof) under the signals 5k and stock scenarios
  --report          rewrite docs/benchmarks.md with this run's table, commands, machine and profile
                    (implies --profile unless --scenario limits the run)
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
  };
}
