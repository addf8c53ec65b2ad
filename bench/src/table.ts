import type { Row } from './row.js';

const dash = '–';

function num(value: number | undefined, digits = 0): string {
  if (value === undefined || !Number.isFinite(value)) {
    return dash;
  }
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** Deliveries per second in thousands (`498k`), the unit the table uses. */
function perSecond(value: number | undefined): string {
  if (value === undefined) {
    return dash;
  }
  return value >= 10_000 ? `${num(value / 1000)}k` : num(value);
}

function latency(row: Row): string {
  const l = row.latency;
  if (l === undefined) {
    return dash;
  }
  const fmt = (v: number): string => (v < 10 ? v.toFixed(1) : v.toFixed(0));
  return `${fmt(l.p50Ms)} / ${fmt(l.p99Ms)} / ${l.source === 'server' ? '≤' : ''}${fmt(l.maxMs)}`;
}

function ratio(row: Row): string {
  if (row.ratio === undefined) {
    return dash;
  }
  return row.ratio === 1 ? '1.000' : row.ratio.toFixed(4);
}

function tool(row: Row): string {
  if (row.toolCpuCores === undefined) {
    return dash;
  }
  return `${row.toolCpuCores.toFixed(2)}${row.toolSaturated === true ? ' (saturated)' : ''}`;
}

export const TABLE_HEADER = [
  'scenario',
  'server',
  'load',
  'conns',
  'deliveries/s',
  'ratio',
  'latency p50 / p99 / max ms',
  'latency from',
  'server CPU s per M deliveries',
  'server cores',
  'RSS KB/conn',
  'handshakes/s',
  'load-tool cores',
] as const;

/** The results as a Markdown table, one line per row, in run order. */
export function renderTable(rows: readonly Row[]): string {
  const lines = [`| ${TABLE_HEADER.join(' | ')} |`, `|${TABLE_HEADER.map(() => '---').join('|')}|`];
  for (const row of rows) {
    const cells = [
      row.scenario,
      row.server,
      row.shape,
      num(row.conns),
      perSecond(row.deliveriesPerS),
      ratio(row),
      latency(row),
      row.latency === undefined ? dash : row.latency.source === 'client' ? 'client' : 'gateway histogram',
      num(row.serverCpuPerMillion, 1),
      num(row.serverCpuCores, 2),
      num(row.rssPerConnKb, 1),
      num(row.handshakesPerS),
      tool(row),
    ];
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

/** Each row's notes as a Markdown list (rows without notes left out). */
export function renderNotes(rows: readonly Row[]): string {
  const lines: string[] = [];
  for (const row of rows) {
    if (row.notes.length === 0) {
      continue;
    }
    lines.push(`- **${row.scenario}** (${row.server}, ${row.shape}): ${row.notes.join('; ')}.`);
  }
  return lines.join('\n');
}
