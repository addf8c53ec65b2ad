import type { BenchContext } from '../context.js';
import type { Row } from '../row.js';

/** One named group of measurements (`pnpm bench --scenario <name>`), each starting the servers it needs. */
export interface Scenario {
  name: string;
  /** One line for `--list` and the report. */
  description: string;
  /** Runs every measurement of the group; each phase is bounded, and servers are stopped afterwards. */
  run(ctx: BenchContext): Promise<Row[]>;
}
