/**
 * The shipped Grafana dashboards and Prometheus alert rules without a kernel: the JSON is what the generator
 * writes and has what Grafana needs (data source variable, cluster and node variables, unique ids, grid
 * positions, a query on every panel), every metric a query names is one the agent emits, every query and rule is
 * valid for promtool, the alert unit tests pass, and the README lists every panel the kernel test cannot feed.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ADVANCED_FLOW_FAMILIES,
  ADVANCED_REFUSED_METRIC,
  APISERVER_FAMILIES,
  BASIC_METRICS,
  METRIC_PREFIX,
  SELF_METRICS,
} from '@retina-ts/core';
import { HUBBLE_METRIC_NAMES } from '@retina-ts/hubble';
import { LATENCY_METRIC, PARSE_ERRORS_METRIC } from '@retina-ts/plugin-dns';
import {
  allPanels,
  DASHBOARD_DIR,
  loadDashboards,
  NOT_FED,
  panelQueries,
  RULES_FILE,
  RULES_TEST_FILE,
  substitute,
} from './dashboards.js';

const dashboards = loadDashboards();
const tmp = mkdtempSync(join(tmpdir(), 'retina-dashboards-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function promtool(args: string[]): { status: number | null; output: string } {
  const r = spawnSync('promtool', args, { encoding: 'utf8' });
  if (r.error)
    throw new Error(`promtool could not run (tools/system-deps installs prometheus): ${r.error.message}`);
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/** Every family name the agent can expose, histogram series names included. */
function knownMetrics(): Set<string> {
  const names = new Set<string>();
  const add = (name: string, histogram = false) => {
    names.add(name);
    if (histogram) for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
  };
  for (const m of [...Object.values(BASIC_METRICS), ...Object.values(SELF_METRICS)])
    add(m.name, m.type === 'histogram');
  for (const f of Object.values(ADVANCED_FLOW_FAMILIES)) add(METRIC_PREFIX + f.family);
  for (const f of Object.values(APISERVER_FAMILIES))
    add(METRIC_PREFIX + f, f !== 'adv_node_apiserver_no_response');
  add(ADVANCED_REFUSED_METRIC);
  add(METRIC_PREFIX + LATENCY_METRIC, true);
  add(METRIC_PREFIX + PARSE_ERRORS_METRIC);
  for (const n of Object.values(HUBBLE_METRIC_NAMES)) add(n);
  return names;
}

describe('the Grafana dashboards', () => {
  it('are what deploy/grafana-dashboards/src generates', () => {
    const r = spawnSync(process.execPath, [join(DASHBOARD_DIR, 'src', 'generate.mjs'), '--check'], {
      encoding: 'utf8',
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('are four dashboards with unique uids and the datasource, cluster and instance variables', () => {
    expect([...dashboards.keys()]).toEqual([
      'retina-ts-clusters.json',
      'retina-ts-dns.json',
      'retina-ts-hubble.json',
      'retina-ts-pods.json',
    ]);
    const uids = [...dashboards.values()].map((d) => d.uid);
    expect(new Set(uids).size).toBe(uids.length);
    for (const d of dashboards.values()) {
      const vars = new Map(d.templating.list.map((v) => [v.name, v]));
      expect(vars.get('datasource')).toMatchObject({ type: 'datasource', query: 'prometheus' });
      for (const name of ['cluster', 'instance']) {
        const v = vars.get(name);
        expect(v, `${d.uid}: variable ${name}`).toMatchObject({
          type: 'query',
          datasource: { type: 'prometheus', uid: '${datasource}' },
        });
        expect((v!.query as { query: string }).query).toMatch(new RegExp(`^label_values\\(.+, ${name}\\)$`));
      }
    }
  });

  it('give every panel a unique id, a grid position, the data source and queries', () => {
    for (const d of dashboards.values()) {
      const panels = allPanels(d);
      const ids = panels.map((p) => p.id);
      expect(new Set(ids).size, `${d.uid}: panel ids`).toBe(ids.length);
      for (const p of panels) {
        const where = `${d.uid} / ${p.title}`;
        const { h, w, x, y } = p.gridPos;
        for (const n of [h, w, x, y]) expect(Number.isInteger(n), where).toBe(true);
        expect(h > 0 && w > 0 && x >= 0 && y >= 0 && x + w <= 24, where).toBe(true);
        if (p.type === 'row') continue;
        expect(p.datasource, where).toEqual({ type: 'prometheus', uid: '${datasource}' });
        expect(p.targets?.length, where).toBeGreaterThan(0);
        const refIds = p.targets!.map((t) => t.refId);
        expect(new Set(refIds).size, where).toBe(refIds.length);
        for (const t of p.targets!) {
          expect(t.expr.trim(), where).not.toBe('');
          expect(t.datasource, where).toEqual({ type: 'prometheus', uid: '${datasource}' });
          // Every query honours the cluster and node selection.
          expect(t.expr, where).toContain('cluster=~"$cluster", instance=~"$instance"');
        }
      }
    }
  });

  it('query only metrics the agent emits', () => {
    const known = knownMetrics();
    const unknown = new Set<string>();
    for (const q of panelQueries()) {
      for (const m of q.expr.matchAll(/\b(?:controlplane_)?(?:networkobservability|hubble)_[a-z0-9_]+/g)) {
        if (!known.has(m[0])) unknown.add(`${q.uid} / ${q.panel}: ${m[0]}`);
      }
    }
    expect([...unknown]).toEqual([]);
  });

  it('have queries promtool accepts once the variables are substituted', () => {
    const vars = { cluster: 'c1', instance: 'node-1', namespace: '.*', window: '5m' };
    const rules = panelQueries().map((q, i) => {
      const expr = substitute(q.expr, vars);
      expect(expr, `${q.uid} / ${q.panel}`).not.toMatch(/\$[a-zA-Z_]/);
      return { record: `dashboard_panel_${i}`, expr };
    });
    const file = join(tmp, 'panels.rules.json');
    writeFileSync(file, JSON.stringify({ groups: [{ name: 'panels', rules }] }));
    const r = promtool(['check', 'rules', file]);
    expect(r.output).toContain(`SUCCESS: ${rules.length} rules found`);
    expect(r.status).toBe(0);
  });

  it('are documented: the README lists every panel the kernel test cannot feed', () => {
    const readme = readFileSync(join(DASHBOARD_DIR, 'README.md'), 'utf8');
    for (const key of Object.keys(NOT_FED)) {
      const [uid, title] = key.split(' / ');
      expect(readme, key).toContain(`| ${uid} | ${title} |`);
    }
  });
});

describe('the Prometheus alert rules', () => {
  it('pass promtool check rules', () => {
    const r = promtool(['check', 'rules', RULES_FILE]);
    expect(r.output).toMatch(/SUCCESS: \d+ rules found/);
    expect(r.status).toBe(0);
  });

  it('pass their promtool unit tests', () => {
    const r = promtool(['test', 'rules', RULES_TEST_FILE]);
    expect(r.output).toContain('SUCCESS');
    expect(r.status).toBe(0);
  });
});
