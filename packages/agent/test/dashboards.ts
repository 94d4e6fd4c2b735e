/**
 * The shipped Grafana dashboards and alert rules (`deploy/`) as tests read them: every panel query with its
 * dashboard and panel, template variables substituted the way Grafana does, and the panels a test cannot feed.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const DASHBOARD_DIR = join(REPO_ROOT, 'deploy', 'grafana-dashboards');
export const RULES_FILE = join(REPO_ROOT, 'deploy', 'helm', 'retina-ts', 'files', 'prometheus-rules.yaml');
export const RULES_TEST_FILE = join(DASHBOARD_DIR, 'test', 'prometheus-rules.test.yaml');

/** A dashboard file's content, as far as the tests read it. */
export interface Dashboard {
  uid: string;
  title: string;
  templating: { list: Variable[] };
  panels: Panel[];
}

export interface Variable {
  type: string;
  name: string;
  query: string | { query: string };
  datasource?: { type: string; uid: string };
}

export interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { type: string; uid: string };
  targets?: { refId: string; expr: string; datasource?: { type: string; uid: string } }[];
  panels?: Panel[];
}

/** One query of one panel. */
export interface PanelQuery {
  uid: string;
  panel: string;
  refId: string;
  expr: string;
}

/** Every `*.json` dashboard in deploy/grafana-dashboards, by file name. */
export function loadDashboards(): Map<string, Dashboard> {
  const out = new Map<string, Dashboard>();
  for (const file of readdirSync(DASHBOARD_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()) {
    out.set(file, JSON.parse(readFileSync(join(DASHBOARD_DIR, file), 'utf8')) as Dashboard);
  }
  return out;
}

/** A dashboard's panels, those inside rows included. */
export function allPanels(d: Dashboard): Panel[] {
  return d.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
}

/** Every panel query of every dashboard. */
export function panelQueries(): PanelQuery[] {
  const out: PanelQuery[] = [];
  for (const d of loadDashboards().values()) {
    for (const p of allPanels(d)) {
      for (const t of p.targets ?? []) out.push({ uid: d.uid, panel: p.title, refId: t.refId, expr: t.expr });
    }
  }
  return out;
}

/** Values for the template variables the queries use. */
export interface VariableValues {
  cluster: string;
  instance: string;
  namespace: string;
  /** Grafana's `$__rate_interval` and `$__range`, e.g. `5m`. */
  window: string;
}

/** `expr` with the template variables replaced (Grafana substitutes `$__rate_interval` etc. the same way). */
export function substitute(expr: string, v: VariableValues): string {
  return expr
    .replaceAll('$__rate_interval', v.window)
    .replaceAll('$__range', v.window)
    .replaceAll('$cluster', v.cluster)
    .replaceAll('$instance', v.instance)
    .replaceAll('$namespace', v.namespace);
}

/**
 * Panels the kernel test's traffic cannot feed (`<uid> / <title>` → why); deploy/grafana-dashboards/README.md
 * lists each. Their queries must still be valid PromQL.
 */
export const NOT_FED: Readonly<Record<string, string>> = {
  'retina-ts-clusters / API server handshake latency':
    'needs packets between the node and a real API server address on the node interface',
  'retina-ts-pods / API server round-trip latency':
    'needs packets between the node and a real API server address on the node interface',
  'retina-ts-pods / API server handshake latency':
    'needs packets between the node and a real API server address on the node interface',
  'retina-ts-pods / API server packets without a response':
    'needs an API server address that stops answering',
  'retina-ts-clusters / Lost events':
    'needs a ring buffer or queue overflow (the series appear with the first loss)',
  'retina-ts-hubble / Lost events':
    'needs a Hubble ring or queue overflow (the series appear with the first loss)',
  'retina-ts-hubble / Drops by source pod':
    "with Retina's context options only egress drops carry a source pod; the test drops packets on ingress",
};

/**
 * Panels whose series exist but may be 0 with the test's traffic (`<uid> / <title>` → why). Every other fed panel
 * must show a value above 0.
 */
export const MAY_BE_ZERO: Readonly<Record<string, string>> = {
  'retina-ts-clusters / TCP timeouts':
    "counts the node namespace's retransmission timeouts; test traffic runs in pod namespaces",
  'retina-ts-clusters / TCP reordering': 'needs reordered segments in the node namespace',
  'retina-ts-clusters / Interface packets (driver counters)':
    'veth drivers count only XDP packets; other drivers move only with real node traffic',
  'retina-ts-clusters / Interface drops and errors (driver counters)': 'needs a driver that drops or fails',
  'retina-ts-clusters / Plugin failures and restarts':
    'the failure of a plugin unsupported on Linux is counted before the first scrape; restarts need a crashing plugin',
  'retina-ts-dns / DNS parse errors': 'needs malformed DNS messages',
  'retina-ts-dns / DNS requests without a response': 'every test query is answered',
  'retina-ts-hubble / DNS queries without a response': 'every test query is answered',
};

/** `<uid> / <title>`, the key of NOT_FED and MAY_BE_ZERO. */
export const panelKey = (q: { uid: string; panel: string }): string => `${q.uid} / ${q.panel}`;
