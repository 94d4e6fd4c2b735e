/** A plugin context made from the real core pieces, with logs captured, for driving the plugin in tests. */
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { MetricsModule, PluginContext } from '@retina-ts/core';
import { createTestContext, type LogLine } from '@retina-ts/core/testing';
import { seriesOf } from '@retina-ts/testkit';
import type { EthtoolReadResult, EthtoolStatsReader } from '../src/ethtool/reader.js';
import { PROC_ROOT } from './fixtures.js';

/** A context for the linuxutil plugin plus handles on what it records. */
export interface TestContext {
  ctx: PluginContext;
  metrics: MetricsModule;
  logs: LogLine[];
}

/** Builds a context with `options` as `plugins.linuxutil`. */
export function testContext(options: Record<string, unknown>): TestContext {
  return createTestContext({ name: 'linuxutil', options });
}

/** The families linuxutil writes, in the order the expected-output fixtures list them. */
export const LINUXUTIL_FAMILIES = [
  'networkobservability_tcp_state',
  'networkobservability_tcp_connection_remote',
  'networkobservability_tcp_connection_stats',
  'networkobservability_ip_connection_stats',
  'networkobservability_udp_connection_stats',
  'networkobservability_interface_stats',
];

/**
 * The exposition text of linuxutil's families from the registry. HELP lines are left out: their wording belongs to
 * core's metric catalog, while names, types, labels and values are this plugin's contract.
 */
export async function exposedText(metrics: MetricsModule): Promise<string> {
  const parts: string[] = [];
  for (const name of LINUXUTIL_FAMILIES) parts.push(await metrics.registry.getSingleMetricAsString(name));
  return `${parts
    .join('\n')
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('# HELP'))
    .join('\n')}\n`;
}

/** Series of one family as `labels → value`, labels rendered `k=v,k=v`. */
export function series(metrics: MetricsModule, name: string): Promise<Map<string, number>> {
  return seriesOf(metrics.registry, name);
}

/** A copy of the captured proc root in a temporary directory, which tests may change file by file. */
export async function copyProcRoot(): Promise<{ root: string; remove: () => Promise<void> }> {
  const root = await mkdtemp(path.join(tmpdir(), 'linuxutil-proc-'));
  await cp(PROC_ROOT, root, { recursive: true });
  return { root, remove: () => rm(root, { recursive: true, force: true }) };
}

/** A fake driver statistics reader answering from a table; interfaces not in it have no statistics. */
export class FakeEthtool implements EthtoolStatsReader {
  readonly calls: string[] = [];
  closed = 0;

  constructor(public table: Record<string, Record<string, number> | 'gone' | Error>) {}

  read(ifname: string): EthtoolReadResult {
    this.calls.push(ifname);
    const entry = this.table[ifname];
    if (entry === undefined) return { kind: 'unsupported' };
    if (entry === 'gone') return { kind: 'gone' };
    if (entry instanceof Error) throw entry;
    return { kind: 'statistics', statistics: new Map(Object.entries(entry)) };
  }

  close(): void {
    this.closed++;
  }
}
