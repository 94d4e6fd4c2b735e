// Small builders for Grafana dashboard JSON (schema 39), so every panel of every dashboard is laid out and wired
// to the data source the same way.

/** Every panel and query variable reads from the dashboard's `datasource` variable. */
export const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };

/** Label matchers every query carries: the cluster and node variables. */
export const SCOPE = 'cluster=~"$cluster", instance=~"$instance"';

/** `{<scope>, <extra>}` as a PromQL selector body. */
export function sel(extra = '') {
  return `{${[SCOPE, extra].filter(Boolean).join(', ')}}`;
}

/** `rate(<metric>{scope, extra}[$__rate_interval])`. */
export function rate(metric, extra = '') {
  return `rate(${metric}${sel(extra)}[$__rate_interval])`;
}

/** The `datasource` variable (any Prometheus data source). */
function datasourceVariable() {
  return {
    type: 'datasource',
    name: 'datasource',
    label: 'Data source',
    query: 'prometheus',
    current: {},
    hide: 0,
    refresh: 1,
    regex: '',
    skipUrlSync: false,
  };
}

/**
 * A query variable with an "All" choice matching anything (also series without the label, e.g. an agent started
 * without a cluster name). `regex` extracts the value from each result when the query is a `query_result`.
 */
export function queryVariable(name, label, query, { regex = '' } = {}) {
  return {
    type: 'query',
    name,
    label,
    datasource: DATASOURCE,
    definition: query,
    query: { query, refId: `${name}-variable` },
    regex,
    refresh: 2,
    sort: 1,
    multi: true,
    includeAll: true,
    allValue: '.*',
    current: { selected: true, text: ['All'], value: ['$__all'] },
    hide: 0,
    skipUrlSync: false,
    options: [],
  };
}

/** The `cluster` and `instance` variables, read from the label values of `metric`. */
export function scopeVariables(metric) {
  return [
    queryVariable('cluster', 'Cluster', `label_values(${metric}, cluster)`),
    queryVariable('instance', 'Node', `label_values(${metric}{cluster=~"$cluster"}, instance)`),
  ];
}

const UNITS = {
  pps: 'pps',
  Bps: 'Bps',
  ops: 'ops',
  short: 'short',
  percent: 'percent',
  ms: 'ms',
  s: 's',
};

/**
 * A panel: `kind` is timeseries, stat, table or bargauge; `queries` are [expr, legend] pairs. Instant queries for
 * stat, table and bargauge panels (they show the current value).
 */
export function panel(
  kind,
  title,
  description,
  queries,
  { unit = 'short', width = 12, height = 8, stack = false } = {},
) {
  if (!UNITS[unit]) throw new Error(`panel "${title}": unknown unit ${unit}`);
  const instant = kind !== 'timeseries';
  const p = {
    type: kind,
    title,
    description,
    datasource: DATASOURCE,
    width,
    height,
    targets: queries.map(([expr, legendFormat], i) => ({
      refId: String.fromCharCode(65 + i),
      datasource: DATASOURCE,
      expr,
      legendFormat: legendFormat ?? '__auto',
      range: !instant,
      instant,
      ...(kind === 'table' ? { format: 'table' } : {}),
    })),
    fieldConfig: {
      defaults: {
        unit,
        ...(kind === 'timeseries'
          ? {
              custom: {
                drawStyle: 'line',
                lineWidth: 1,
                fillOpacity: stack ? 30 : 10,
                stacking: { mode: stack ? 'normal' : 'none' },
              },
            }
          : {}),
      },
      overrides: [],
    },
    options: {},
  };
  if (kind === 'timeseries') {
    p.options = {
      legend: {
        displayMode: 'table',
        placement: 'right',
        showLegend: true,
        calcs: ['mean', 'max', 'lastNotNull'],
      },
      tooltip: { mode: 'multi', sort: 'desc' },
    };
  } else if (kind === 'stat' || kind === 'bargauge') {
    p.options = {
      reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
      orientation: 'horizontal',
    };
  } else if (kind === 'table') {
    p.options = { showHeader: true };
    p.transformations = [
      { id: 'merge', options: {} },
      { id: 'organize', options: { excludeByName: { Time: true } } },
    ];
  }
  return p;
}

export const timeseries = (title, description, queries, opts) =>
  panel('timeseries', title, description, queries, opts);
export const stat = (title, description, queries, opts) =>
  panel('stat', title, description, queries, { width: 6, height: 4, ...opts });
export const table = (title, description, queries, opts) =>
  panel('table', title, description, queries, { width: 24, ...opts });
export const bargauge = (title, description, queries, opts) =>
  panel('bargauge', title, description, queries, opts);

/** A row and the panels under it. */
export function row(title, panels) {
  return { title, panels };
}

/** Lays the rows out on Grafana's 24-column grid, numbering panels from 1. */
function layout(rows) {
  const out = [];
  let id = 1;
  let y = 0;
  for (const r of rows) {
    out.push({
      type: 'row',
      id: id++,
      title: r.title,
      collapsed: false,
      gridPos: { h: 1, w: 24, x: 0, y },
      panels: [],
    });
    y += 1;
    let x = 0;
    let lineHeight = 0;
    for (const { width, height, ...p } of r.panels) {
      if (x + width > 24) {
        x = 0;
        y += lineHeight;
        lineHeight = 0;
      }
      out.push({ id: id++, gridPos: { h: height, w: width, x, y }, ...p });
      x += width;
      lineHeight = Math.max(lineHeight, height);
    }
    y += lineHeight;
  }
  return out;
}

/** A whole dashboard. */
export function dashboard({ uid, title, description, variables, rows }) {
  return {
    uid,
    title,
    description,
    tags: ['retina-ts', 'networking'],
    editable: true,
    graphTooltip: 1,
    refresh: '30s',
    schemaVersion: 39,
    version: 1,
    time: { from: 'now-1h', to: 'now' },
    timepicker: {},
    timezone: 'browser',
    annotations: { list: [] },
    links: [{ type: 'dashboards', tags: ['retina-ts'], asDropdown: true, title: 'retina-ts dashboards' }],
    templating: { list: [datasourceVariable(), ...variables] },
    panels: layout(rows),
  };
}
