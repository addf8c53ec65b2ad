import type { Row } from './row.js';

/** One target of the issue, checked against a run. `met` is undefined when the run did not measure it. */
export interface TargetCheck {
  target: string;
  measured: string;
  met: boolean | undefined;
}

function find(rows: readonly Row[], scenario: string, server: Row['server']): Row | undefined {
  return rows.find((r) => r.scenario === scenario && r.server === server);
}

function fact(row: Row | undefined, name: string): number | undefined {
  const value = row?.facts[name];
  return typeof value === 'number' ? value : undefined;
}

const notMeasured = (target: string): TargetCheck => ({ target, measured: 'not measured in this run', met: undefined });

/**
 * Nothing grows without bound. Judged on the heap in use after a forced full GC when the run read it (start and
 * end of the window): flat when it grew by less than 2% or 5 MB. RSS alone swings by hundreds of MB between
 * full collections (V8 returns pages late), so its slope is only the judge when the heap was not read: flat when
 * its post-warm-up growth, extrapolated to a minute, stays under 2% of RSS or 5 MB.
 */
function flat(row: Row | undefined, label: string): TargetCheck {
  const slope = fact(row, 'rss_slope_kb_per_s');
  const last = fact(row, 'rss_last_mb');
  const rss = slope === undefined || last === undefined ? undefined : { perMinuteMb: (slope * 60) / 1024, slope, last };
  const rssText = rss === undefined ? '' : `${rss.slope.toFixed(0)} KB/s after warm-up (${rss.perMinuteMb.toFixed(1)} MB/min at ${rss.last.toFixed(0)} MB RSS)`;
  const heapStart = fact(row, 'heap_after_gc_start_mb');
  const heapEnd = fact(row, 'heap_after_gc_end_mb');
  if (heapStart !== undefined && heapEnd !== undefined) {
    const growth = heapEnd - heapStart;
    return {
      target: `nothing grows without bound: heap after a full GC flat (${label})`,
      measured: `${heapStart.toFixed(1)} → ${heapEnd.toFixed(1)} MB${rssText === '' ? '' : `; RSS ${rssText}`}`,
      met: growth < Math.max(5, heapStart * 0.02),
    };
  }
  const target = `nothing grows without bound: RSS flat after warm-up (${label})`;
  if (rss === undefined) {
    return notMeasured(target);
  }
  return { target, measured: rssText, met: rss.perMinuteMb < Math.max(5, rss.last * 0.02) };
}

/** Checks every benchmark target that the run measured. */
export function evaluateTargets(rows: readonly Row[]): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const gw5k = find(rows, 'fanout-5k-100', 'gateway');
  const ref5k = find(rows, 'fanout-5k-100', 'uWS reference');
  if (gw5k?.deliveriesPerS !== undefined && ref5k?.deliveriesPerS !== undefined) {
    const share = gw5k.deliveriesPerS / ref5k.deliveriesPerS;
    checks.push({
      target: 'signals 5k × 100/s: ≥ 95% of the minimal uWS server\'s deliveries/s',
      measured: `${(share * 100).toFixed(1)}% (${Math.round(gw5k.deliveriesPerS)} vs ${Math.round(ref5k.deliveriesPerS)}/s)`,
      met: share >= 0.95,
    });
  } else {
    checks.push(notMeasured('signals 5k × 100/s: ≥ 95% of the minimal uWS server\'s deliveries/s'));
  }
  checks.push(
    gw5k?.ratio === undefined
      ? notMeasured('signals 5k × 100/s: delivery ratio 1.0')
      : { target: 'signals 5k × 100/s: delivery ratio 1.0', measured: gw5k.ratio.toFixed(4), met: gw5k.ratio >= 1 },
  );
  if (gw5k?.latency !== undefined && ref5k?.latency !== undefined) {
    const factor = gw5k.latency.p99Ms / ref5k.latency.p99Ms;
    checks.push({
      target: 'signals 5k × 100/s: p99 ≤ 1.5 × the uWS server\'s p99',
      measured: `${gw5k.latency.p99Ms.toFixed(1)} ms vs ${ref5k.latency.p99Ms.toFixed(1)} ms (${factor.toFixed(2)}×)`,
      met: factor <= 1.5,
    });
  } else {
    checks.push(notMeasured('signals 5k × 100/s: p99 ≤ 1.5 × the uWS server\'s p99'));
  }
  const gwCost = gw5k?.serverCpuPerMillion;
  const refCost = ref5k?.serverCpuPerMillion;
  checks.push(
    gwCost === undefined || refCost === undefined
      ? notMeasured("signals 5k × 100/s: ≤ 1.05 × the uWS server's CPU per delivery")
      : {
          target: "signals 5k × 100/s: ≤ 1.05 × the uWS server's CPU per delivery",
          measured: `${gwCost.toFixed(2)} vs ${refCost.toFixed(2)} CPU s per million (${(gwCost / refCost).toFixed(2)}×)`,
          met: gwCost <= 1.05 * refCost,
        },
  );
  const gw1k = find(rows, 'fanout-1k-100', 'gateway');
  checks.push(
    gw1k?.latency === undefined
      ? notMeasured('signals 1k × 100/s: p99 ≤ 20 ms')
      : { target: 'signals 1k × 100/s: p99 ≤ 20 ms', measured: `${gw1k.latency.p99Ms.toFixed(1)} ms`, met: gw1k.latency.p99Ms <= 20 },
  );
  const idleWs = find(rows, 'idle-ws-10k', 'gateway');
  checks.push(
    idleWs?.rssPerConnKb === undefined
      ? notMeasured('idle memory: ≤ 3 KB per raw WebSocket connection')
      : { target: 'idle memory: ≤ 3 KB per raw WebSocket connection', measured: `${idleWs.rssPerConnKb.toFixed(1)} KB`, met: idleWs.rssPerConnKb <= 3 },
  );
  const idleSio = find(rows, 'idle-sio-5k', 'gateway');
  checks.push(
    idleSio?.rssPerConnKb === undefined
      ? notMeasured('idle memory: ≤ 12 KB per Socket.IO connection')
      : { target: 'idle memory: ≤ 12 KB per Socket.IO connection', measured: `${idleSio.rssPerConnKb.toFixed(1)} KB`, met: idleSio.rssPerConnKb <= 12 },
  );
  const trading = find(rows, 'trading-5k', 'gateway');
  checks.push(
    trading?.ratio === undefined
      ? notMeasured('trading 5k users × 4 types: every change delivered (ratio 1.0)')
      : {
          target: 'trading 5k users × 4 types: every change delivered (ratio 1.0)',
          measured: `${trading.ratio.toFixed(4)} (${String(trading.facts['pushes_received_total'])} received / ${String(trading.facts['pushes_sent_by_gateway'])} written)`,
          met: trading.ratio >= 1,
        },
  );
  // The histogram stops at app.publish (uWS writes at the end of the event-loop iteration); the client-side
  // lower bound can prove a miss that the histogram does not show.
  const lowerP99 = fact(trading, 'lateness_p99_ms');
  checks.push(
    trading?.latency === undefined
      ? notMeasured('trading: p99 ≤ 50 ms')
      : {
          target: 'trading: p99 ≤ 50 ms',
          measured:
            `${trading.latency.p99Ms.toFixed(1)} ms publish → socket write (gateway histogram)` +
            (lowerP99 === undefined ? '' : `; client receipt at least ${lowerP99.toFixed(0)} ms after publish at p99 (lower bound)`),
          met: trading.latency.p99Ms <= 50 && (lowerP99 === undefined || lowerP99 <= 50),
        },
  );
  const stock = find(rows, 'stock-2k', 'gateway');
  const min = fact(stock, 'updates_per_conn_min');
  const max = fact(stock, 'updates_per_conn_max');
  const expected = fact(stock, 'updates_per_conn_expected');
  const items = fact(stock, 'items_per_update_mean');
  const itemsExpected = fact(stock, 'items_per_update_expected');
  const dups = fact(stock, 'dup_items');
  if (min !== undefined && max !== undefined && expected !== undefined && items !== undefined && itemsExpected !== undefined) {
    checks.push({
      target: 'stock: every connection gets one price_update per interval with exactly its changed stocks',
      measured: `${min}–${max} updates per connection in ${expected} intervals; ${items} stocks per update (expected ${itemsExpected}); ${dups ?? '?'} repeated`,
      met: min >= expected - 1 && max <= expected + 1 && Math.abs(items - itemsExpected) <= 0.01 * itemsExpected && dups === 0,
    });
  } else {
    checks.push(notMeasured('stock: every connection gets one price_update per interval with exactly its changed stocks'));
  }
  checks.push(
    stock?.serverCpuCores === undefined
      ? notMeasured('stock: gateway CPU below one core')
      : { target: 'stock: gateway CPU below one core', measured: `${stock.serverCpuCores.toFixed(2)} cores`, met: stock.serverCpuCores < 1 },
  );
  const tradingCost = trading?.serverCpuPerMillion;
  const tradingFloor = find(rows, 'trading-5k', 'uWS reference')?.serverCpuPerMillion;
  checks.push(
    tradingCost === undefined
      ? notMeasured('trading 5k users: ≤ 10 CPU s per million deliveries')
      : {
          target: 'trading 5k users: ≤ 10 CPU s per million deliveries',
          measured:
            `${tradingCost.toFixed(1)} CPU s per million` +
            (tradingFloor === undefined ? '' : `; the minimal uWS server writing template pushes: ${tradingFloor.toFixed(1)}`),
          met: tradingCost <= 10,
        },
  );
  checks.push(flat(trading, 'trading, 60 s'));
  checks.push(...mixedTargets(rows));
  return checks;
}

/**
 * The mixed load's targets, for every event-loop count the run measured (rows `mixed-*-10k`, `-2loops`, …), each
 * with the minimal uWS server's figure on as many loops beside it when the run measured that too.
 */
function mixedTargets(rows: readonly Row[]): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const totals = rows.filter((r) => r.server === 'gateway' && /^mixed-17k-total(-\d+loops)?$/.test(r.scenario));
  for (const total of totals) {
    const tag = total.scenario.slice('mixed-17k-total'.length);
    const label = `mixed${tag === '' ? ', 1 loop' : `, ${tag.slice(1).replace('loops', ' loops')}`}`;
    const signals = find(rows, `mixed-signals-10k${tag}`, 'gateway');
    const trading = find(rows, `mixed-trading-5k${tag}`, 'gateway');
    const stock = find(rows, `mixed-stock-2k${tag}`, 'gateway');
    const refSignals = find(rows, `mixed-signals-10k${tag}`, 'uWS reference');
    const requested = fact(total, 'conns_requested');
    const open = fact(total, 'conns_still_open');
    const lost = fact(signals, 'lost');
    const received = fact(trading, 'pushes_received_total');
    const written = fact(trading, 'pushes_sent_by_gateway');
    checks.push(
      requested === undefined || open === undefined || lost === undefined || received === undefined || written === undefined
        ? notMeasured(`${label}: every connection open, nothing lost`)
        : {
            target: `${label}: every connection open, nothing lost`,
            measured: `${String(open)} of ${String(requested)} open; ${String(lost)} signal deliveries lost; trading ${String(received)} received / ${String(written)} written`,
            met: open === requested && lost === 0 && received === written,
          },
    );
    const p99 = signals?.latency?.source === 'client' ? signals.latency.p99Ms : undefined;
    const refP99 = refSignals?.latency?.p99Ms;
    checks.push(
      p99 === undefined
        ? notMeasured(`${label}: signal p99 ≤ 250 ms client-side`)
        : {
            target: `${label}: signal p99 ≤ 250 ms client-side`,
            measured: `${p99.toFixed(0)} ms` + (refP99 === undefined ? '' : `; the minimal uWS server under the same clients: ${refP99.toFixed(0)} ms`),
            met: p99 <= 250,
          },
    );
    const perMinute = fact(stock, 'updates_per_conn_per_min_min');
    checks.push(
      perMinute === undefined
        ? notMeasured(`${label}: stock ≥ 59 of 60 updates per connection per minute`)
        : { target: `${label}: stock ≥ 59 of 60 updates per connection per minute`, measured: `${perMinute.toFixed(1)} (the fewest of any connection)`, met: perMinute >= 59 },
    );
    checks.push(
      total.serverCpuCores === undefined
        ? notMeasured(`${label}: gateway CPU < 1.8 cores`)
        : { target: `${label}: gateway CPU < 1.8 cores`, measured: `${total.serverCpuCores.toFixed(2)} cores`, met: total.serverCpuCores < 1.8 },
    );
  }
  return checks;
}

/** Said instead of the targets table after `--quick`, whose reduced load cannot meet or miss them. */
export const QUICK_TARGETS_NOTE =
  'Targets are not judged in --quick mode: they are set for the full load (run `pnpm bench` without --quick).';

/** The checks as a Markdown table. */
export function renderTargets(checks: readonly TargetCheck[]): string {
  const lines = ['| target | measured | |', '|---|---|---|'];
  for (const check of checks) {
    lines.push(`| ${check.target} | ${check.measured} | ${check.met === undefined ? '–' : check.met ? 'met' : '**missed**'} |`);
  }
  return lines.join('\n');
}
