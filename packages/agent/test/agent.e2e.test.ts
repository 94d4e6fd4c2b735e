/**
 * End to end: the built `retina-agent` binary started as a user would, scraped over HTTP, stopped with SIGTERM.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  COUNTER_PLUGIN_JS,
  eventually,
  parseExposition,
  spawnAgent,
  tempDir,
  writePackage,
  type AgentProcess,
} from './helpers.js';

/** Reads /proc/net/snmp into `Group.Counter` → value. */
function readSnmp(): Map<string, number> {
  const lines = readFileSync('/proc/net/snmp', 'utf8').trim().split('\n');
  const out = new Map<string, number>();
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const [group, ...names] = lines[i]!.split(/\s+/);
    const values = lines[i + 1]!.split(/\s+/).slice(1);
    names.forEach((n, j) => out.set(`${group!.replace(':', '')}.${n}`, Number(values[j])));
  }
  return out;
}

describe('retina-agent binary', () => {
  let agent: AgentProcess;
  let before: Map<string, number>;
  const cwd = tempDir('retina-e2e');

  beforeAll(async () => {
    // A third-party plugin installed next to the user's config, found by the name it declares.
    writePackage(cwd, 'acme-retina-counter', { retina: { plugin: 'acme-counter' } }, COUNTER_PLUGIN_JS);
    writeFileSync(
      join(cwd, 'config.yaml'),
      [
        'apiServer:',
        '  host: 127.0.0.1',
        '  port: 0',
        'logLevel: info',
        'enabledPlugin: [linuxutil, acme-counter, no-such-plugin]',
        'metricsIntervalDuration: 1s',
        'clusterName: e2e',
      ].join('\n'),
    );
    before = readSnmp();
    agent = await spawnAgent(['--config', join(cwd, 'config.yaml')], { cwd, env: { NODE_NAME: 'node-e2e' } });
  });

  afterAll(() => {
    if (agent && agent.child.exitCode === null) agent.child.kill('SIGKILL');
  });

  it('serves linuxutil counters that match /proc/net/snmp', async () => {
    const metrics = await eventually(async () => {
      const text = await (await fetch(agent.url('/metrics'))).text();
      // The family's HELP line shows before its first read: wait for the samples themselves.
      return text.includes('statistic_name="RtoMin"') && text.includes('statistic_name="DefaultTTL"')
        ? parseExposition(text)
        : undefined;
    });
    const after = readSnmp();
    const universal = 'cluster="e2e",instance="node-e2e"';
    const series = (metric: string, stat: string) =>
      metrics.get(`networkobservability_${metric}{${universal},statistic_name="${stat}"}`) ??
      metrics.get(`networkobservability_${metric}{statistic_name="${stat}",${universal}}`);

    // Settings never change: exact. Counters only grow: the scraped value lies between two reads of /proc.
    expect(series('tcp_connection_stats', 'RtoMin')).toBe(before.get('Tcp.RtoMin'));
    expect(series('tcp_connection_stats', 'MaxConn')).toBe(before.get('Tcp.MaxConn'));
    expect(series('ip_connection_stats', 'DefaultTTL')).toBe(before.get('Ip.DefaultTTL'));
    for (const [metric, key] of [
      ['ip_connection_stats', 'Ip.InReceives'],
      ['ip_connection_stats', 'Ip.OutRequests'],
      ['tcp_connection_stats', 'Tcp.ActiveOpens'],
      ['tcp_connection_stats', 'Tcp.InSegs'],
      ['udp_connection_stats', 'Udp.InDatagrams'],
    ] as const) {
      const value = series(metric, key.split('.')[1]!);
      expect(value, `${metric} ${key}`).toBeTypeOf('number');
      expect(value!).toBeGreaterThanOrEqual(before.get(key)!);
      expect(value!).toBeLessThanOrEqual(after.get(key)!);
    }
  });

  it('runs a third-party plugin found by its declared name', async () => {
    const polls = await eventually(async () => {
      const m = parseExposition(await (await fetch(agent.url('/metrics'))).text());
      const key = [...m.keys()].find((k) => k.startsWith('networkobservability_acme_polls{'));
      return key && m.get(key)! >= 3 ? key : undefined;
    });
    expect(polls).toContain('node="node-e2e"');
  });

  it('reports plugin states on /plugins, an unknown plugin failed without stopping the rest', async () => {
    const body = await eventually(async () => {
      const res = (await (await fetch(agent.url('/plugins'))).json()) as {
        plugins: { name: string; state: string; lastError?: string }[];
      };
      const byName = new Map(res.plugins.map((p) => [p.name, p]));
      return byName.get('linuxutil')?.state === 'running' && byName.get('acme-counter')?.state === 'running'
        ? byName
        : undefined;
    });
    const missing = body.get('no-such-plugin');
    expect(missing?.state).toBe('failed');
    expect(missing?.lastError).toMatch(/plugin "no-such-plugin" is not installed.*installed plugins: .*acme-counter/);
    expect((await fetch(agent.url('/healthz'))).status).toBe(200);
    expect((await fetch(agent.url('/readyz'))).status).toBe(200);
  });

  it('negotiates OpenMetrics', async () => {
    const res = await fetch(agent.url('/metrics'), { headers: { accept: 'application/openmetrics-text; version=1.0.0' } });
    expect(res.headers.get('content-type')).toMatch(/^application\/openmetrics-text/);
    expect(await res.text()).toMatch(/# EOF\n$/);
  });

  it('exits 0 on SIGTERM after stopping its plugins', async () => {
    agent.child.kill('SIGTERM');
    const { code } = await agent.exited;
    expect(code).toBe(0);
    expect(agent.logs.some((l) => l['msg'] === 'agent stopped')).toBe(true);
  });
});

describe('retina-agent with a bad config', () => {
  it('exits 2 with a message naming the key and the value', async () => {
    const cwd = tempDir('retina-badconf');
    writeFileSync(join(cwd, 'bad.yaml'), 'metricsIntervalDuration: ten seconds\napiServer:\n  port: 0\n');
    const err = await spawnAgent(['--config', join(cwd, 'bad.yaml')], { cwd }).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/exited \(2\)/);
    expect((err as Error).message).toMatch(/metricsIntervalDuration.*ten seconds/);
  });
});
