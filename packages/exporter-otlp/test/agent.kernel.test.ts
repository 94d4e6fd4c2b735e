/**
 * The real `retina-agent` exporting over OTLP on real kernel traffic. Two namespaces joined by a veth pair: `cli`
 * sends UDP datagrams to `srv`, where iptables drops them on two ports. Two agents run inside `srv` with linuxutil
 * and dropreason (observing `srv` only, one flow per dropped packet): one exports over gRPC, the other over
 * HTTP/protobuf, each to its own receiver built from the official OTLP protos on this process's loopback, reached
 * from inside `srv` through unix-socket forwarders. Checked: the exported values equal what /metrics shows, the
 * dropped packets arrive as flow log records (only those the allow list lets through), a receiver that goes down
 * costs counted failures while /healthz keeps answering, and SIGTERM exits 0.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  commandExists,
  createNetnsPair,
  describeKernel,
  getOverUnixSocket,
  packageBin,
  sendUdp,
  startForwarderIn,
  startLocalForwarder,
  waitForAsync,
  type LocalForwarder,
  type NetnsPair,
} from '@retina-ts/testkit';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { attributesOf, metricsByName, startReceiver, type Received, type Receiver } from './receiver.js';

/** The `retina-agent` bin of the package that provides it (a fresh install links bins before anything is built). */
const AGENT_BIN = packageBin('@retina-ts/agent-cli', 'retina-agent', import.meta.url);

// Addresses live only inside the namespaces this file creates.
const CLI_IP = '10.246.13.1';
const SRV_IP = '10.246.13.2';
/** UDP port srv drops whose flows the allow list exports. */
const EXPORTED_PORT = 9931;
/** UDP port srv drops whose flows the allow list leaves out. */
const FILTERED_PORT = 9932;
const DROPS = 3;
const FILTERED_DROPS = 2;
/** Where each agent finds its receiver inside srv (forwarded to the receiver on this process's loopback). */
const GRPC_PORT_IN_NS = 4317;
const HTTP_PORT_IN_NS = 4318;

const PREFIX = 'controlplane_networkobservability_otlp';

interface RunningAgent {
  name: string;
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Unix socket forwarded to the agent's HTTP port inside srv. */
  socket: string;
  receiver: Receiver;
}

const get = getOverUnixSocket;
/** Waits for an asynchronous condition (30 s at most: exports and metrics run on 1 s intervals). */
const eventually = <T>(what: string, probe: () => Promise<T | undefined>): Promise<T> =>
  waitForAsync(probe, { description: what, timeoutMs: 30_000 });

interface PromFamily {
  name: string;
  type: string;
  metrics: Array<{ value?: string; labels?: Record<string, string>; count?: string; sum?: string }>;
}

function seriesKey(name: string, labels: Record<string, unknown>): string {
  const sorted = Object.entries(labels)
    .map(([k, v]) => `${k}=${JSON.stringify(String(v))}`)
    .sort();
  return `${name}{${sorted.join(',')}}`;
}

/** Every series of an exposition (histograms as `_count` and `_sum`), by name and labels. */
function scrapedSeries(exposition: string): { values: Map<string, number>; families: Set<string> } {
  const values = new Map<string, number>();
  const families = new Set<string>();
  for (const family of parsePrometheusTextFormat(exposition) as PromFamily[]) {
    if (family.metrics.length === 0) continue;
    families.add(family.name);
    for (const m of family.metrics) {
      const labels = m.labels ?? {};
      if (family.type === 'HISTOGRAM' || family.type === 'SUMMARY') {
        values.set(seriesKey(`${family.name}_count`, labels), Number(m.count));
        values.set(seriesKey(`${family.name}_sum`, labels), Number(m.sum));
      } else {
        values.set(seriesKey(family.name, labels), Number(m.value));
      }
    }
  }
  return { values, families };
}

/** Every series of an OTLP metrics request, keyed as `scrapedSeries` keys them. */
function exportedSeries(body: Record<string, unknown>): { values: Map<string, number>; families: Set<string> } {
  const values = new Map<string, number>();
  const families = new Set<string>();
  for (const [name, metric] of metricsByName(body)) {
    families.add(name);
    const data = (metric['sum'] ?? metric['gauge'] ?? metric['histogram']) as { dataPoints: Array<Record<string, unknown>> };
    for (const dp of data.dataPoints) {
      const labels = attributesOf(dp['attributes']);
      if (metric['histogram']) {
        values.set(seriesKey(`${name}_count`, labels), Number(dp['count']));
        values.set(seriesKey(`${name}_sum`, labels), Number(dp['sum'] ?? 0));
      } else {
        values.set(seriesKey(name, labels), Number(dp['asDouble'] ?? dp['asInt']));
      }
    }
  }
  return { values, families };
}

/** When the request's values were collected (ms since the epoch): the time of its data points. */
function collectedMs(r: Received): number {
  let latest = 0;
  for (const metric of metricsByName(r.body).values()) {
    const data = (metric['sum'] ?? metric['gauge'] ?? metric['histogram']) as { dataPoints: Array<Record<string, unknown>> };
    for (const dp of data.dataPoints) latest = Math.max(latest, Number(BigInt(String(dp['timeUnixNano'])) / 1_000_000n));
  }
  return latest;
}

/** An OTLP AnyValue as plain JSON. */
function anyValue(v: Record<string, unknown> | undefined): unknown {
  if (!v) return undefined;
  if ('kvlistValue' in v) {
    const list = (v['kvlistValue'] as { values?: Array<{ key: string; value: Record<string, unknown> }> }).values ?? [];
    return Object.fromEntries(list.map((kv) => [kv.key, anyValue(kv.value)]));
  }
  if ('arrayValue' in v) return ((v['arrayValue'] as { values?: Record<string, unknown>[] }).values ?? []).map(anyValue);
  if ('intValue' in v) return Number(v['intValue']);
  return v['stringValue'] ?? v['doubleValue'] ?? v['boolValue'];
}

interface LogRecord {
  attributes: Record<string, string | number | boolean>;
  body: Record<string, unknown>;
  severityText?: string;
}

/** Every log record the receiver got. */
function logRecords(receiver: Receiver): LogRecord[] {
  const out: LogRecord[] = [];
  for (const r of receiver.received) {
    if (r.signal !== 'logs') continue;
    for (const rl of (r.body['resourceLogs'] ?? []) as Array<Record<string, unknown>>) {
      for (const sl of (rl['scopeLogs'] ?? []) as Array<Record<string, unknown>>) {
        for (const rec of (sl['logRecords'] ?? []) as Array<Record<string, unknown>>) {
          out.push({
            attributes: attributesOf(rec['attributes']),
            body: anyValue(rec['body'] as Record<string, unknown>) as Record<string, unknown>,
            ...(typeof rec['severityText'] === 'string' ? { severityText: rec['severityText'] } : {}),
          });
        }
      }
    }
  }
  return out;
}

/** The value of one series on /metrics (0 when absent). */
function sample(exposition: string, name: string, labels: Record<string, string> = {}): number {
  for (const family of parsePrometheusTextFormat(exposition) as PromFamily[]) {
    if (family.name !== name) continue;
    return family.metrics
      .filter((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))
      .reduce((sum, m) => sum + Number(m.value), 0);
  }
  return 0;
}

function requirements(): string | undefined {
  if (!commandExists('iptables')) return 'iptables not found (apt-get install -y iptables)';
  return undefined;
}

describeKernel(
  'retina-agent exporting over OTLP on real kernel traffic',
  () => {
    const work = mkdtempSync(join(tmpdir(), 'retina-otlp-agent-'));
    let pair: NetnsPair;
    const children: ChildProcess[] = [];
    const forwarders: LocalForwarder[] = [];
    const receivers: Receiver[] = [];
    let grpcAgent: RunningAgent;
    let httpAgent: RunningAgent;

    /** Starts the agent `name` inside srv with the OTLP block `otlp`; resolves once plugins run. */
    async function startAgent(name: string, receiver: Receiver, otlp: Record<string, unknown>): Promise<RunningAgent> {
      const dir = mkdtempSync(join(work, `${name}-`));
      const config = {
        apiServer: { host: '127.0.0.1', port: 0 },
        enabledPlugin: ['linuxutil', 'dropreason'],
        metricsIntervalDuration: '1s',
        // Every dropped packet becomes a flow (no folding), only drops inside srv.
        plugins: { dropreason: { flowEvents: true, eventIntervalMs: 0, netnsInode: pair.peerNs.inode } },
        exporters: {
          otlp: {
            interval: '1s',
            timeout: '1s',
            flows: true,
            allowList: [{ source_ip: [CLI_IP], destination_port: [String(EXPORTED_PORT)] }],
            resourceAttributes: { 'test.agent': name },
            ...otlp,
          },
        },
      };
      // JSON is YAML.
      writeFileSync(join(dir, 'config.yaml'), JSON.stringify(config, null, 2));
      const child = spawn(
        'ip',
        ['netns', 'exec', pair.peerNs.name, process.execPath, realpathSync(AGENT_BIN), '--config', join(dir, 'config.yaml')],
        { env: { ...process.env, NODE_NAME: `otlp-${name}`, KUBECONFIG: '' }, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      children.push(child);
      let stderr = '';
      // The last log lines, for a failure message.
      const logs: string[] = [];
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
        child.on('exit', (code, signal) => resolve({ code, signal })),
      );
      const port = await new Promise<number>((resolve, reject) => {
        createInterface({ input: child.stdout! }).on('line', (line) => {
          logs.push(line);
          if (logs.length > 20) logs.shift();
          try {
            const rec = JSON.parse(line) as Record<string, unknown>;
            if (typeof rec['port'] === 'number' && String(rec['msg']).startsWith('serving /metrics')) resolve(rec['port']);
          } catch {
            // Not a log line.
          }
        });
        void exited.then(({ code }) => reject(new Error(`agent ${name} exited (${String(code)}) before listening: ${stderr}`)));
      });
      const socket = join(dir, 'agent.sock');
      children.push(await startForwarderIn(pair.peerNs, socket, `127.0.0.1:${port}`));
      await eventually(`agent ${name}: linuxutil and dropreason running`, async () => {
        if (child.exitCode !== null) throw new Error(`agent ${name} exited (${child.exitCode}): ${stderr}`);
        const body = JSON.parse((await get(socket, '/plugins')).body) as { plugins: { name: string; state: string; lastError?: string }[] };
        const failed = body.plugins.find((p) => p.state === 'failed');
        if (failed) throw new Error(`plugin ${failed.name} failed: ${failed.lastError ?? '(no error)'}`);
        return body.plugins.filter((p) => p.state === 'running').length === 2 ? true : undefined;
      }).catch((err: Error) => {
        throw new Error(`${err.message}; stderr: ${stderr}; last log lines:\n${logs.join('\n')}`);
      });
      return { name, child, exited, socket, receiver };
    }

    /** A receiver on loopback, reachable inside srv at 127.0.0.1:`portInNs`. */
    async function receiverInNs(name: string, transport: 'grpc' | 'http', portInNs: number): Promise<Receiver> {
      const receiver = await startReceiver();
      receivers.push(receiver);
      const url = new URL(transport === 'grpc' ? receiver.grpcUrl : receiver.httpUrl);
      const socket = join(work, `${name}-receiver.sock`);
      forwarders.push(await startLocalForwarder(socket, Number(url.port)));
      children.push(await startForwarderIn(pair.peerNs, `127.0.0.1:${portInNs}`, socket));
      return receiver;
    }

    beforeAll(async () => {
      pair = createNetnsPair({
        prefix: 'rtoc',
        peerPrefix: 'rtos',
        addresses: { local: `${CLI_IP}/24`, peer: `${SRV_IP}/24` },
        ipv6: false,
      });
      for (const port of [EXPORTED_PORT, FILTERED_PORT]) {
        pair.peerNs.exec('iptables', ['-A', 'INPUT', '-p', 'udp', '--dport', String(port), '-j', 'DROP']);
      }
      const [grpcReceiver, httpReceiver] = await Promise.all([
        receiverInNs('grpc', 'grpc', GRPC_PORT_IN_NS),
        receiverInNs('http', 'http', HTTP_PORT_IN_NS),
      ]);
      [grpcAgent, httpAgent] = await Promise.all([
        startAgent('grpc', grpcReceiver, { endpoint: `http://127.0.0.1:${GRPC_PORT_IN_NS}`, protocol: 'grpc' }),
        startAgent('http', httpReceiver, { endpoint: `http://127.0.0.1:${HTTP_PORT_IN_NS}`, protocol: 'http/protobuf' }),
      ]);
      sendUdp(pair.ns, { address: SRV_IP, port: EXPORTED_PORT, count: DROPS });
      sendUdp(pair.ns, { address: SRV_IP, port: FILTERED_PORT, count: FILTERED_DROPS });
    }, 60_000);

    afterAll(async () => {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      for (const f of forwarders) await f.close();
      for (const r of receivers) await r.close();
      pair?.destroy();
      rmSync(work, { recursive: true, force: true });
    });

    it('exports the dropped packets as flow log records, only those the allow list lets through', async () => {
      for (const agent of [grpcAgent, httpAgent]) {
        const records = await eventually(`${agent.name}: ${DROPS} flow log records`, async () => {
          const r = logRecords(agent.receiver);
          return r.length >= DROPS ? r : undefined;
        });
        expect(records, agent.name).toHaveLength(DROPS);
        for (const rec of records) {
          expect(rec.attributes).toMatchObject({
            verdict: 'DROPPED',
            drop_reason: 'POLICY_DENIED',
            'source.ip': CLI_IP,
            'destination.ip': SRV_IP,
            protocol: 'UDP',
            traffic_direction: 'INGRESS',
          });
          expect(rec.severityText).toBe('WARN');
          const flow = rec.body['flow'] as Record<string, unknown>;
          expect(rec.body['node_name']).toBe(`otlp-${agent.name}`);
          expect(flow['verdict']).toBe('DROPPED');
          expect(flow['drop_reason_desc']).toBe('POLICY_DENIED');
          expect(flow['IP']).toMatchObject({ source: CLI_IP, destination: SRV_IP, ipVersion: 'IPv4' });
          expect((flow['l4'] as { UDP: Record<string, unknown> }).UDP['destination_port']).toBe(EXPORTED_PORT);
        }
        // The datagrams to the other port were dropped and seen, but left out by the allow list.
        // The exported count grows once the receiver's answer is back, just after the records arrived; the drop
        // counters are read every metricsIntervalDuration.
        let last = '';
        const metrics = await eventually(`${agent.name}: drops, exported and filtered flows counted`, async () => {
          last = (await get(agent.socket, '/metrics')).body;
          const drops = sample(last, 'networkobservability_drop_count', { reason: 'IPTABLE_RULE_DROP', direction: 'ingress' });
          const filtered = sample(last, `${PREFIX}_flow_logs_filtered_total`);
          const exported = sample(last, `${PREFIX}_flow_logs_exported_total`);
          return drops === DROPS + FILTERED_DROPS && filtered >= FILTERED_DROPS && exported === DROPS ? last : undefined;
        }).catch((err: Error) => {
          throw new Error(`${err.message}; /metrics said:\n${last.split('\n').filter((l) => /drop_count|otlp/.test(l)).join('\n')}`);
        });
        expect(sample(metrics, `${PREFIX}_flow_logs_dropped_total`)).toBe(0);
      }
    });

    it('exports the values /metrics shows, over gRPC and over HTTP/protobuf', async () => {
      for (const agent of [grpcAgent, httpAgent]) {
        // The test traffic is over and its drops are on /metrics (read every metricsIntervalDuration).
        await eventually(`${agent.name}: the drops on /metrics`, async () => {
          const { body } = await get(agent.socket, '/metrics');
          const drops = sample(body, 'networkobservability_drop_count', { reason: 'IPTABLE_RULE_DROP', direction: 'ingress' });
          return drops === DROPS + FILTERED_DROPS ? true : undefined;
        });
        const before = scrapedSeries((await get(agent.socket, '/metrics')).body);
        const scrapedAt = Date.now();
        // The second export collected after the scrape: its collection surely began after the scrape ended.
        const metricsAfter = (after: number) => (r: Received) => r.signal === 'metrics' && collectedMs(r) > after;
        const first = await agent.receiver.waitFor(metricsAfter(scrapedAt), `${agent.name}: an export after the scrape`);
        const second = await agent.receiver.waitFor(metricsAfter(collectedMs(first)), `${agent.name}: a second export`);
        const after = scrapedSeries((await get(agent.socket, '/metrics')).body);
        const exported = exportedSeries(second.body);

        expect(second.transport).toBe(agent.name === 'grpc' ? 'grpc' : 'http/protobuf');
        const resource = (second.body['resourceMetrics'] as Array<{ resource: { attributes: unknown } }>)[0]!.resource;
        expect(attributesOf(resource.attributes)).toMatchObject({
          'service.name': 'retina-ts',
          'k8s.node.name': `otlp-${agent.name}`,
          'test.agent': agent.name,
        });
        // Every family present at both scrapes is exported.
        const families = [...before.families].filter((f) => after.families.has(f));
        expect(families.filter((f) => !exported.families.has(f)), `${agent.name}: families missing from the export`).toEqual([]);
        // Series that did not move between the two scrapes carry the same value in the export between them.
        const stable = [...before.values].filter(([k, v]) => after.values.get(k) === v);
        const mismatched = stable.filter(([k, v]) => exported.values.get(k) !== v).map(([k, v]) => `${k}: /metrics ${v}, OTLP ${exported.values.get(k)}`);
        expect(mismatched, agent.name).toEqual([]);
        // What the comparison covered: the drops of the test traffic and the node's counters from linuxutil.
        const drops = stable.filter(([k]) => k.startsWith('networkobservability_drop_count{') && k.includes('"IPTABLE_RULE_DROP"'));
        expect(drops.map(([, v]) => v), agent.name).toEqual([DROPS + FILTERED_DROPS]);
        const linuxutil = stable.filter(([k]) => /^networkobservability_(ip_stats|udp_connection_stats|interface_stats|tcp_connection_stats)/.test(k));
        expect(linuxutil.length, `${agent.name}: stable linuxutil series`).toBeGreaterThan(0);
      }
    });

    it('keeps /healthz answering and counts failures while its receiver is down', async () => {
      const agent = httpAgent;
      // The first drops are delivered before the receiver goes away.
      const base = await eventually(`${agent.name}: the first drops exported`, async () => {
        const { body } = await get(agent.socket, '/metrics');
        return sample(body, `${PREFIX}_flow_logs_exported_total`) === DROPS ? body : undefined;
      });
      const failedBefore = sample(base, `${PREFIX}_exports_total`, { signal: 'metrics', result: 'failure' });
      await agent.receiver.close();
      sendUdp(pair.ns, { address: SRV_IP, port: EXPORTED_PORT, count: 2 });
      let healthChecks = 0;
      const metrics = await eventually(`${agent.name}: failed exports and dropped flow logs counted`, async () => {
        expect((await get(agent.socket, '/healthz')).status).toBe(200);
        healthChecks++;
        const { body } = await get(agent.socket, '/metrics');
        const failed = sample(body, `${PREFIX}_exports_total`, { signal: 'metrics', result: 'failure' });
        const dropped = sample(body, `${PREFIX}_flow_logs_dropped_total`, { reason: 'export_failed' });
        return failed >= failedBefore + 2 && dropped >= 2 ? body : undefined;
      });
      expect(healthChecks).toBeGreaterThan(0);
      expect(sample(metrics, `${PREFIX}_exports_total`, { signal: 'logs', result: 'failure' })).toBeGreaterThan(0);
      // The flows that could not be delivered are not counted as exported.
      expect(sample(metrics, `${PREFIX}_flow_logs_exported_total`)).toBe(DROPS);
      expect((await get(agent.socket, '/readyz')).status).toBe(200);
      // The agent exporting over gRPC is unaffected and delivers the new drops.
      await eventually('grpc: the new drops exported', async () => (logRecords(grpcAgent.receiver).length === DROPS + 2 ? true : undefined));
    });

    it('exits 0 on SIGTERM, with its receiver up and with it down', async () => {
      for (const agent of [grpcAgent, httpAgent]) {
        agent.child.kill('SIGTERM');
        expect(await agent.exited, agent.name).toEqual({ code: 0, signal: null });
      }
    });
  },
  { requires: requirements },
);
