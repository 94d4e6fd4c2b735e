/**
 * Hubble's flow export: JSON lines in the exporter's form (protojson GetFlowsResponse with proto names), allow- and
 * deny-lists compiled by the FlowFilter compiler, field masks, size-based rotation with a bounded number of backups,
 * and losses counted instead of queued when the exporter falls behind the ring.
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FlowBus, Verdict, parseConfig } from '@retina-ts/core';
import {
  FlowExporter,
  FlowRing,
  exportLine,
  hubbleOptionsFromConfig,
  hubbleTypes,
  parseExportFilters,
  parseFieldMask,
  protojsonTime,
  startHubble,
  toPbFlow,
} from '../src/index.js';
import type { HubbleServer, RingEntry } from '../src/index.js';
import { tcpFlow, waitFor } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'hubble-export-'));
const servers: HubbleServer[] = [];
afterAll(async () => {
  for (const s of servers) await s.stop();
});

const structType = hubbleTypes().struct;
const lines = (path: string): Record<string, any>[] => // eslint-disable-line @typescript-eslint/no-explicit-any
  readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('export line format', () => {
  it('prints times as protojson does', () => {
    expect(protojsonTime({ seconds: 1_700_000_000, nanos: 0 })).toBe('2023-11-14T22:13:20Z');
    expect(protojsonTime({ seconds: 1_700_000_000, nanos: 5_000_000 })).toBe('2023-11-14T22:13:20.005Z');
    expect(protojsonTime({ seconds: 1_700_000_000, nanos: 5_000 })).toBe('2023-11-14T22:13:20.000005Z');
    expect(protojsonTime({ seconds: 1_700_000_000, nanos: 5 })).toBe('2023-11-14T22:13:20.000000005Z');
  });

  it('writes a GetFlowsResponse in protojson with proto field names and enum names', () => {
    const pb = toPbFlow(
      tcpFlow(1, { uuid: 'u1', verdict: Verdict.DROPPED, dropReasonDesc: 133, eventType: { type: 1, subType: 133 }, extensions: { bytes: 60, dropReason: 'IPTABLE_RULE_DROP' } }),
      { nodeName: 'node-a', clusterName: 'prod', structType },
    );
    const line = JSON.parse(exportLine(pb, pb.node_name, pb.time)) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(Object.keys(line)).toEqual(['flow', 'node_name', 'time']);
    expect(line.node_name).toBe('prod/node-a');
    expect(line.time).toBe('2023-11-14T22:13:21Z');
    expect(line.flow).toMatchObject({
      time: '2023-11-14T22:13:21Z',
      uuid: 'u1',
      verdict: 'DROPPED',
      drop_reason_desc: 'POLICY_DENIED',
      IP: { source: '10.201.0.1', destination: '10.201.0.2', ipVersion: 'IPv4' },
      l4: { TCP: { destination_port: 80, flags: { SYN: true } } },
      source: { namespace: 'shop', pod_name: 'web-7c9f-abcde', labels: ['k8s:app=web'], cluster_name: 'prod' },
      Type: 'L3_L4',
      node_name: 'prod/node-a',
      event_type: { type: 1, sub_type: 133 },
      traffic_direction: 'EGRESS',
      trace_observation_point: 'TO_STACK',
      is_reply: false,
      extensions: {
        '@type': 'type.googleapis.com/google.protobuf.Struct',
        bytes: 60,
        drop_reason: 'IPTABLE_RULE_DROP',
      },
    });
    expect(typeof line.flow.Summary).toBe('string');
  });
});

describe('export settings', () => {
  it('parses filters one after the other or as an array, with enum names', () => {
    expect(parseExportFilters('{"verdict":["DROPPED"]} {"source_pod":["kube-system/"]}', 'k')).toEqual([
      { verdict: [2] },
      { source_pod: ['kube-system/'] },
    ]);
    expect(parseExportFilters('[{"traffic_direction":["INGRESS"]}]', 'k')).toEqual([{ traffic_direction: [1] }]);
    expect(parseExportFilters(' ', 'k')).toEqual([]);
    expect(parseFieldMask('time source.namespace,verdict')).toEqual(['time', 'source.namespace', 'verdict']);
  });

  it('refuses filters that are not FlowFilters, naming the key and the field', () => {
    expect(() => parseExportFilters('{"verdict":["DROPPED"]', 'hubble-export-allowlist')).toThrow(
      /hubble-export-allowlist: not JSON FlowFilter objects/,
    );
    expect(() => parseExportFilters('{"verdikt":["DROPPED"]}', 'hubble-export-denylist')).toThrow(
      'hubble-export-denylist[0].verdikt: not a FlowFilter field',
    );
    expect(() => parseExportFilters('{"verdict":["NOPE"]}', 'hubble-export-denylist')).toThrow(/hubble-export-denylist\[0\]/);
    expect(() => parseExportFilters('{"source_pod":"x"}', 'k')).toThrow(/k\[0\]: source_pod/);
  });

  it('reads Retina\'s hubble-export-* keys', () => {
    const { config } = parseConfig(
      {
        controlPlane: 'hubble',
        'hubble-export-file-path': '/var/run/cilium/hubble/events.log',
        'hubble-export-file-max-size-mb': '20',
        'hubble-export-file-max-backups': '3',
        'hubble-export-allowlist': '{"verdict":["DROPPED"]}',
        'hubble-export-denylist': '',
        'hubble-export-fieldmask': 'time verdict',
      },
      { env: {} },
    );
    expect(hubbleOptionsFromConfig(config).options.export).toEqual({
      filePath: '/var/run/cilium/hubble/events.log',
      maxSizeMb: 20,
      maxBackups: 3,
      allowlist: [{ verdict: [2] }],
      denylist: [],
      fieldMask: ['time', 'verdict'],
    });
    const bad = parseConfig(
      { controlPlane: 'hubble', 'hubble-export-file-path': '/x.log', 'hubble-export-file-max-size-mb': '0' },
      { env: {} },
    ).config;
    expect(() => hubbleOptionsFromConfig(bad)).toThrow('hubble-export-file-max-size-mb: "0" is not a whole number from 1 to 100000');
  });
});

describe('FlowExporter', () => {
  it('exports the flows that pass the lists, masked, and rotates by size keeping the newest backups', async () => {
    const dir = mkdtempSync(join(tmp, 'rot-'));
    const filePath = join(dir, 'hubble.log');
    const bus = new FlowBus();
    const server = await startHubble({
      flowBus: bus,
      nodeName: 'node-a',
      options: {
        unixSocket: false,
        listenAddress: false,
        export: {
          filePath,
          maxSizeMb: 1 / 1024, // 1 KiB: a handful of lines per file
          maxBackups: 2,
          allowlist: parseExportFilters('{"source_pod":["shop/"]}', 'allow'),
          denylist: parseExportFilters('{"destination_port":["81"]}', 'deny'),
          fieldMask: ['time', 'uuid', 'source.pod_name', 'l4'],
        },
      },
    });
    servers.push(server);
    const exporter = server.exporter!;
    for (let i = 0; i < 60; i++) {
      const other = i % 3 === 1;
      const denied = i % 3 === 2;
      bus.publish(
        tcpFlow(i, {
          uuid: `x${i}`,
          ...(other ? { source: { namespace: 'ops', podName: 'job-1' } } : {}),
          ...(denied ? { l4: { tcp: { sourcePort: 1, destinationPort: 81 } } } : {}),
        }),
      );
    }
    await waitFor(() => exporter.stats.exported + exporter.stats.filtered === 60, 'the export');
    await server.stop();
    expect(exporter.stats).toMatchObject({ exported: 20, filtered: 40, dropped: 0, errors: 0 });
    expect(exporter.stats.rotations).toBeGreaterThanOrEqual(3);
    const files = readdirSync(dir).sort();
    // The live file and at most two rotated ones, named <stem>-<UTC time>.log.
    expect(files).toContain('hubble.log');
    expect(files.length).toBe(3);
    for (const f of files.filter((n) => n !== 'hubble.log')) expect(f).toMatch(/^hubble-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3}Z\.log$/);
    const kept = files.flatMap((f) => lines(join(dir, f)));
    for (const l of kept) {
      expect(Object.keys(l.flow).sort()).toEqual(['l4', 'source', 'time', 'uuid']);
      expect(l.flow.source).toEqual({ pod_name: 'web-7c9f-abcde' });
      expect(l.node_name).toBe('node-a');
    }
    // The newest lines survive rotation, in order, ending with the last exported flow.
    const uuids = kept.map((l) => Number(String(l.flow.uuid).slice(1))).sort((a, b) => a - b);
    expect(uuids.at(-1)).toBe(57);
    expect(uuids.every((n) => n % 3 === 0)).toBe(true);
    for (const f of files) expect(readFileSync(join(dir, f)).length).toBeLessThanOrEqual(1024);
  });

  it('counts entries overwritten before it read them as dropped', async () => {
    const ring = new FlowRing(3);
    const exporter = new FlowExporter(ring, { filePath: join(tmp, 'drops', 'hubble.log') });
    const entries: RingEntry[] = [];
    for (let i = 0; i < 10; i++) {
      const flow = toPbFlow(tcpFlow(i, { uuid: `d${i}` }), { nodeName: 'n', structType });
      entries.push({ timeNs: BigInt(i), time: flow.time, flow });
    }
    // One push of ten entries into a ring of three: the exporter can read only the last three.
    ring.push(entries);
    await exporter.stop();
    expect(exporter.stats).toMatchObject({ exported: 3, dropped: 7 });
    expect(lines(join(tmp, 'drops', 'hubble.log')).map((l) => l.flow.uuid)).toEqual(['d7', 'd8', 'd9']);
  });

  it('refuses unusable settings naming the key', () => {
    const ring = new FlowRing(3);
    expect(() => new FlowExporter(ring, { filePath: join(tmp, 'x.log'), maxBackups: -1 })).toThrow(
      'hubble-export-file-max-backups',
    );
  });
});
