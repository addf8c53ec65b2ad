/* eslint-disable @typescript-eslint/no-deprecated --
 * The SDK marks the classic dashboard model deprecated in favour of the v2 schema, which Grafana (12.x) loads from
 * provisioned files only behind feature flags; the classic JSON model is what every current Grafana provisions.
 */
/**
 * The Grafana dashboard of the gateway, built with Grafana's own Foundation SDK so the JSON has the shape
 * Grafana expects. `pnpm --filter @gw/infra dashboard` writes it to grafana/dashboards/gateway.json (Grafana
 * provisioning loads that file); a test checks the file is current and that every gateway_* metric family of
 * a real registry appears in some panel.
 */
import {
  DashboardBuilder,
  DashboardCursorSync,
  DatasourceVariableBuilder,
  QueryVariableBuilder,
  RowBuilder,
  VariableRefresh,
  VariableSort,
} from '@grafana/grafana-foundation-sdk/dashboard';
import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import {
  BigValueGraphMode,
  LegendDisplayMode,
  LegendPlacement,
  ReduceDataOptionsBuilder,
  VizLegendOptionsBuilder,
} from '@grafana/grafana-foundation-sdk/common';
import { DataqueryBuilder, PromQueryFormat } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StatPanelBuilder } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TimeseriesPanelBuilder } from '@grafana/grafana-foundation-sdk/timeseries';
import { PanelBuilder as HeatmapPanelBuilder } from '@grafana/grafana-foundation-sdk/heatmap';

/** The dashboard's uid: stable, so links and provisioning updates keep pointing at the same dashboard. */
export const DASHBOARD_UID = 'realtime-gateway';

/** The datasource every panel queries: the `datasource` variable, defaulting to the provisioned Prometheus. */
const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };

/** A metric selector filtered by the dashboard's job and instance variables, plus optional extra matchers. */
function m(metric: string, ...matchers: string[]): string {
  return `${metric}{${['job=~"$job"', 'instance=~"$instance"', ...matchers].join(', ')}}`;
}

/** Per-second rate of a counter over Grafana's rate interval (at least four scrapes). */
function rate(metric: string, ...matchers: string[]): string {
  return `rate(${m(metric, ...matchers)}[$__rate_interval])`;
}

/** One query of a panel: its PromQL and the legend of each series it returns. */
interface Query {
  expr: string;
  legend: string;
}

function q(expr: string, legend: string): Query {
  return { expr, legend };
}

function targets(queries: readonly Query[]): DataqueryBuilder[] {
  return queries.map((query, index) =>
    new DataqueryBuilder()
      .expr(query.expr)
      .legendFormat(query.legend)
      .refId(String.fromCharCode(65 + index))
      .datasource(DATASOURCE),
  );
}

const legend = (): VizLegendOptionsBuilder =>
  new VizLegendOptionsBuilder().showLegend(true).displayMode(LegendDisplayMode.List).placement(LegendPlacement.Bottom);

/** A time-series panel, half the dashboard wide. */
function timeseries(title: string, description: string, unit: string, queries: readonly Query[]): TimeseriesPanelBuilder {
  const panel = new TimeseriesPanelBuilder()
    .title(title)
    .description(description)
    .unit(unit)
    .datasource(DATASOURCE)
    .legend(legend())
    .span(12)
    .height(8);
  for (const target of targets(queries)) {
    panel.withTarget(target);
  }
  return panel;
}

/** A single-number panel of the headline row. */
function stat(title: string, description: string, unit: string, query: Query): StatPanelBuilder {
  const panel = new StatPanelBuilder()
    .title(title)
    .description(description)
    .unit(unit)
    .datasource(DATASOURCE)
    .graphMode(BigValueGraphMode.Area)
    .reduceOptions(new ReduceDataOptionsBuilder().calcs(['lastNotNull']))
    .span(6)
    .height(4);
  for (const target of targets([query])) {
    panel.withTarget(target);
  }
  return panel;
}

function variables(builder: DashboardBuilder): DashboardBuilder {
  return builder
    .withVariable(new DatasourceVariableBuilder('datasource').label('Data source').type('prometheus'))
    .withVariable(
      new QueryVariableBuilder('job')
        .label('Job')
        .datasource(DATASOURCE)
        .query('label_values(gateway_bus_connected, job)')
        .definition('label_values(gateway_bus_connected, job)')
        .refresh(VariableRefresh.OnTimeRangeChanged)
        .sort(VariableSort.AlphabeticalAsc)
        .multi(true)
        .includeAll(true)
        .allValue('.*'),
    )
    .withVariable(
      new QueryVariableBuilder('instance')
        .label('Instance')
        .datasource(DATASOURCE)
        .query('label_values(gateway_bus_connected{job=~"$job"}, instance)')
        .definition('label_values(gateway_bus_connected{job=~"$job"}, instance)')
        .refresh(VariableRefresh.OnTimeRangeChanged)
        .sort(VariableSort.AlphabeticalAsc)
        .multi(true)
        .includeAll(true)
        .allValue('.*'),
    );
}

/** The dashboard as Grafana's JSON model, panel ids numbered in layout order. */
export function buildGatewayDashboard(): Dashboard {
  const builder = variables(
    new DashboardBuilder('Realtime gateway')
      .uid(DASHBOARD_UID)
      .description('Clients, messages, bus, data sources and Node process of the realtime gateway and its workers.')
      .tags(['realtime-gateway'])
      .refresh('30s')
      .time({ from: 'now-1h', to: 'now' })
      .timezone('browser')
      .tooltip(DashboardCursorSync.Crosshair),
  );

  builder
    .withRow(new RowBuilder('Overview'))
    .withPanel(stat('Connections', 'Open client connections, all protocols.', 'short', q(`sum(${m('gateway_connections')})`, 'connections')))
    .withPanel(
      stat('Messages sent /s', 'Messages written to client sockets per second.', 'short', q(`sum(${rate('gateway_messages_sent_total')})`, 'sent')),
    )
    .withPanel(
      stat(
        'Processes on the bus',
        'Gateways and workers whose bus connection is up.',
        'short',
        q(`sum(${m('gateway_bus_connected')})`, 'connected'),
      ),
    )
    .withPanel(
      stat(
        'Delivery p99',
        'Publish-to-socket latency, 99th percentile, all protocols.',
        's',
        q(`histogram_quantile(0.99, sum by (le) (${rate('gateway_delivery_latency_seconds_bucket')}))`, 'p99'),
      ),
    );

  builder
    .withRow(new RowBuilder('Clients'))
    .withPanel(
      timeseries('Connections by protocol', 'Open connections (gateway_connections).', 'short', [
        q(`sum by (protocol) (${m('gateway_connections')})`, '{{protocol}}'),
      ]),
    )
    .withPanel(
      timeseries('Connections by gateway', 'Open connections per process: the balance between gateways.', 'short', [
        q(`sum by (instance) (${m('gateway_connections')})`, '{{instance}}'),
      ]),
    )
    .withPanel(
      timeseries('New connections /s', 'Connections accepted per second (gateway_connections_opened_total).', 'cps', [
        q(`sum by (protocol) (${rate('gateway_connections_opened_total')})`, '{{protocol}}'),
      ]),
    )
    .withPanel(
      timeseries('Closes by code /s', 'Connections closed per second by close code (WebSocket) or disconnect reason (Socket.IO): 1001 drain, 4401 token expired, 4408 slow consumer, 4429 flooding, 1009 frame too big.', 'cps', [
        q(`sum by (protocol, code) (${rate('gateway_connections_closed_total')})`, '{{protocol}} {{code}}'),
      ]),
    )
    .withPanel(
      timeseries('Auth failures /s', 'Refused handshakes and expired tokens, by protocol and reason.', 'short', [
        q(`sum by (protocol, reason) (${rate('gateway_auth_failures_total')})`, '{{protocol}} {{reason}}'),
      ]),
    )
    .withPanel(
      timeseries('Subscriptions', 'Active client subscriptions, by protocol and kind.', 'short', [
        q(`sum by (protocol, kind) (${m('gateway_subscriptions')})`, '{{protocol}} {{kind}}'),
      ]),
    )
    .withPanel(
      timeseries('Client errors /s', 'Error answers to clients (bad input, limits), by protocol and code.', 'short', [
        q(`sum by (protocol, code) (${rate('gateway_client_errors_total')})`, '{{protocol}} {{code}}'),
      ]),
    );

  builder
    .withRow(new RowBuilder('Messages'))
    .withPanel(
      timeseries('Messages sent /s', 'Messages written to client sockets, by protocol and type.', 'short', [
        q(`sum by (protocol, type) (${rate('gateway_messages_sent_total')})`, '{{protocol}} {{type}}'),
      ]),
    )
    .withPanel(
      timeseries('Messages received /s', 'Messages received from clients, by protocol and type.', 'short', [
        q(`sum by (protocol, type) (${rate('gateway_messages_received_total')})`, '{{protocol}} {{type}}'),
      ]),
    )
    .withPanel(
      timeseries(
        'Delivery latency',
        'From the source publish to the socket write, by protocol. Stock prices include the conflation interval (STOCK_PUSH_INTERVAL_MS).',
        's',
        [
          q(`histogram_quantile(0.99, sum by (le, protocol) (${rate('gateway_delivery_latency_seconds_bucket')}))`, 'p99 {{protocol}}'),
          q(`histogram_quantile(0.5, sum by (le, protocol) (${rate('gateway_delivery_latency_seconds_bucket')}))`, 'p50 {{protocol}}'),
          q(
            `sum by (protocol) (${rate('gateway_delivery_latency_seconds_sum')}) / sum by (protocol) (${rate('gateway_delivery_latency_seconds_count')})`,
            'mean {{protocol}}',
          ),
        ],
      ),
    )
    .withPanel(
      new HeatmapPanelBuilder()
        .title('Delivery latency distribution')
        .description('Deliveries per latency bucket, all protocols.')
        .datasource(DATASOURCE)
        .span(12)
        .height(8)
        .withTarget(
          new DataqueryBuilder()
            .expr(`sum by (le) (increase(${m('gateway_delivery_latency_seconds_bucket')}[$__rate_interval]))`)
            .legendFormat('{{le}}')
            .format(PromQueryFormat.Heatmap)
            .refId('A')
            .datasource(DATASOURCE),
        ),
    )
    .withPanel(
      timeseries(
        'Slow consumers',
        'Messages held back (dropped or conflated) and connections closed because a client output buffer was over its bound.',
        'short',
        [
          q(`sum by (protocol) (${rate('gateway_backpressure_dropped_total')})`, 'held back /s {{protocol}}'),
          q(`sum by (protocol) (${rate('gateway_backpressure_disconnects_total')})`, 'disconnects /s {{protocol}}'),
        ],
      ),
    )
    .withPanel(
      timeseries('HTTP requests /s', 'REST and system routes answered, by route pattern and status.', 'reqps', [
        q(`sum by (route, status) (${rate('gateway_http_requests_total')})`, '{{route}} {{status}}'),
      ]),
    );

  builder
    .withRow(new RowBuilder('Bus'))
    .withPanel(
      timeseries('Bus connected', 'Per process: 1 while the bus (Redis) connection is up.', 'short', [
        q(m('gateway_bus_connected'), '{{instance}}'),
      ]),
    )
    .withPanel(
      timeseries('Bus lag', "Gateways: the round trip of the node's own bus probe, and the age of the last probe back (readiness fails past its bound).", 's', [
        q(m('gateway_bus_lag_seconds'), 'round trip {{instance}}'),
        q(m('gateway_bus_probe_age_seconds'), 'last probe age {{instance}}'),
      ]),
    )
    .withPanel(
      timeseries('Bus reconnects', 'Reconnections to the bus per process.', 'short', [
        q(`increase(${m('gateway_bus_reconnects_total')}[$__rate_interval])`, '{{instance}}'),
      ]),
    )
    .withPanel(
      timeseries('Bus messages published /s', 'Messages published to the bus, by kind (live, latest, history).', 'short', [
        q(`sum by (kind) (${rate('gateway_bus_messages_published_total')})`, '{{kind}}'),
      ]),
    );

  builder
    .withRow(new RowBuilder('Data sources'))
    .withPanel(
      timeseries('Source polls /s', 'Polls of data sources, by source and result (changed, unchanged, error).', 'short', [
        q(`sum by (source, result) (${rate('gateway_source_polls_total')})`, '{{source}} {{result}}'),
      ]),
    )
    .withPanel(
      timeseries('Source poll duration', 'Duration of data-source polls (upstream API calls), by source.', 's', [
        q(`histogram_quantile(0.99, sum by (le, source) (${rate('gateway_source_poll_duration_seconds_bucket')}))`, 'p99 {{source}}'),
        q(
          `sum by (source) (${rate('gateway_source_poll_duration_seconds_sum')}) / sum by (source) (${rate('gateway_source_poll_duration_seconds_count')})`,
          'mean {{source}}',
        ),
      ]),
    )
    .withPanel(
      timeseries('Source errors /s', 'Data-source errors, by source and kind (auth, network, rate_limit, invalid_data, internal).', 'short', [
        q(`sum by (source, kind) (${rate('gateway_source_errors_total')})`, '{{source}} {{kind}}'),
      ]),
    )
    .withPanel(
      timeseries('Source accounts by mode', 'Accounts (or feeds) of each source by how their data arrives: streamed or polled.', 'short', [
        q(`sum by (source, mode) (${m('gateway_source_mode_accounts')})`, '{{source}} {{mode}}'),
      ]),
    )
    .withPanel(
      timeseries('Source stream reconnects', 'Upstream streams connected again after a failure, by source.', 'short', [
        q(`sum by (source) (increase(${m('gateway_source_stream_reconnects_total')}[$__rate_interval]))`, '{{source}}'),
      ]),
    )
    .withPanel(
      timeseries('Source event latency', "From an upstream event's own timestamp to its publish on the bus (spans the upstream's clock).", 's', [
        q(`histogram_quantile(0.99, sum by (le, source) (${rate('gateway_source_event_latency_seconds_bucket')}))`, 'p99 {{source}}'),
        q(`histogram_quantile(0.5, sum by (le, source) (${rate('gateway_source_event_latency_seconds_bucket')}))`, 'p50 {{source}}'),
      ]),
    );

  builder
    .withRow(new RowBuilder('Node process'))
    .withPanel(
      timeseries('CPU', 'CPU seconds per second, per process (1 = one core).', 'percentunit', [
        q(rate('process_cpu_seconds_total'), 'total {{instance}}'),
        q(rate('process_cpu_user_seconds_total'), 'user {{instance}}'),
        q(rate('process_cpu_system_seconds_total'), 'system {{instance}}'),
      ]),
    )
    .withPanel(
      timeseries('Memory', 'Resident and virtual memory, V8 heap and external memory, per process.', 'bytes', [
        q(m('process_resident_memory_bytes'), 'resident {{instance}}'),
        q(m('process_virtual_memory_bytes'), 'virtual {{instance}}'),
        q(m('process_heap_bytes'), 'process heap {{instance}}'),
        q(m('nodejs_heap_size_total_bytes'), 'V8 heap total {{instance}}'),
        q(m('nodejs_heap_size_used_bytes'), 'V8 heap used {{instance}}'),
        q(m('nodejs_external_memory_bytes'), 'external {{instance}}'),
      ]),
    )
    .withPanel(
      timeseries('V8 heap spaces', 'Per heap space: used, total and available bytes.', 'bytes', [
        q(`sum by (instance, space) (${m('nodejs_heap_space_size_used_bytes')})`, 'used {{space}} {{instance}}'),
        q(`sum by (instance, space) (${m('nodejs_heap_space_size_total_bytes')})`, 'total {{space}} {{instance}}'),
        q(`sum by (instance, space) (${m('nodejs_heap_space_size_available_bytes')})`, 'available {{space}} {{instance}}'),
      ]),
    )
    .withPanel(
      timeseries('Event-loop lag', 'How late timers fire: a busy gateway delivers late. p99 is the number to watch; a gateway of several event loops shows each process (loop-0, loop-1, sources).', 's', [
        q(m('nodejs_eventloop_lag_p99_seconds'), 'p99 {{instance}} {{process}}'),
        q(m('nodejs_eventloop_lag_p90_seconds'), 'p90 {{instance}} {{process}}'),
        q(m('nodejs_eventloop_lag_p50_seconds'), 'p50 {{instance}} {{process}}'),
        q(m('nodejs_eventloop_lag_mean_seconds'), 'mean {{instance}} {{process}}'),
        q(m('nodejs_eventloop_lag_stddev_seconds'), 'stddev {{instance}} {{process}}'),
        q(m('nodejs_eventloop_lag_min_seconds'), 'min {{instance}} {{process}}'),
        q(m('nodejs_eventloop_lag_max_seconds'), 'max {{instance}} {{process}}'),
        q(m('nodejs_eventloop_lag_seconds'), 'last sample {{instance}} {{process}}'),
      ]),
    )
    .withPanel(
      timeseries('Stock flush steps', 'How long the stock flush holds the event loop per synchronous step (spreading changes, writing): p99 and longest.', 's', [
        q(`histogram_quantile(0.99, sum by (le, instance) (${rate('gateway_stock_flush_slice_seconds_bucket')}))`, 'p99 {{instance}}'),
        q(`histogram_quantile(1, sum by (le, instance) (${rate('gateway_stock_flush_slice_seconds_bucket')}))`, 'longest {{instance}}'),
        q(`sum by (instance) (${rate('gateway_stock_flush_slice_seconds_count')})`, 'steps/s {{instance}}'),
      ]),
    )
    .withPanel(
      timeseries('Garbage collection', 'Seconds spent in GC per second, and collections per second, by GC kind.', 'short', [
        q(`sum by (instance, kind) (${rate('nodejs_gc_duration_seconds_sum')})`, 'time {{kind}} {{instance}}'),
        q(`sum by (instance, kind) (${rate('nodejs_gc_duration_seconds_count')})`, 'runs {{kind}} {{instance}}'),
        q(
          `histogram_quantile(0.99, sum by (le, instance) (${rate('nodejs_gc_duration_seconds_bucket')}))`,
          'p99 pause {{instance}}',
        ),
      ]),
    )
    .withPanel(
      timeseries('File descriptors', 'Open file descriptors (each connection holds one) against the limit.', 'short', [
        q(m('process_open_fds'), 'open {{instance}}'),
        q(m('process_max_fds'), 'max {{instance}}'),
      ]),
    )
    .withPanel(
      timeseries('Active handles, requests, resources', 'libuv handles and requests keeping the event loop alive, by type.', 'short', [
        q(m('nodejs_active_handles_total'), 'handles {{instance}}'),
        q(`sum by (instance, type) (${m('nodejs_active_handles')})`, 'handles {{type}} {{instance}}'),
        q(m('nodejs_active_requests_total'), 'requests {{instance}}'),
        q(`sum by (instance, type) (${m('nodejs_active_requests')})`, 'requests {{type}} {{instance}}'),
        q(m('nodejs_active_resources_total'), 'resources {{instance}}'),
        q(`sum by (instance, type) (${m('nodejs_active_resources')})`, 'resources {{type}} {{instance}}'),
      ]),
    )
    .withPanel(
      timeseries('Uptime and Node version', 'Seconds since each process started; the legend names its Node.js version.', 's', [
        q(`time() - ${m('process_start_time_seconds')}`, 'uptime {{instance}}'),
        q(`0 * ${m('nodejs_version_info')}`, 'node {{version}} {{instance}}'),
      ]),
    );

  const dashboard = builder.build();
  // Grafana wants a unique id per panel; the SDK leaves them unset (rows get 0).
  let id = 1;
  for (const panel of dashboard.panels ?? []) {
    panel.id = id++;
  }
  return dashboard;
}
