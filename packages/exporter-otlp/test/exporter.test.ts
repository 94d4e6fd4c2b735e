/**
 * The exporter against a receiver built from the official OTLP protos: every family /metrics shows arrives with the
 * same values over gRPC, HTTP/protobuf and HTTP/JSON; flow logs carry Hubble's JSON form and pass the FlowFilters;
 * a receiver that is down or hangs costs counted drops only; TLS with a test CA (and client certificates) works.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, get } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  createLogger,
  createMetricsModule,
  FlowBus,
  FlowType,
  parseConfig,
  TrafficDirection,
  Verdict,
  type Flow,
  type MetricsModule,
  type OtlpExporterConfig,
} from '@retina-ts/core';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { startOtlpExporter, type OtlpExporter, type StartOtlpExporterArgs } from '../src/index.js';
import { attributesOf, metricsByName, startReceiver, type Receiver } from './receiver.js';

const silent = createLogger({ level: 'silent', name: 'test' });

function otlpConfig(otlp: Record<string, unknown>): OtlpExporterConfig {
  const { config } = parseConfig({ exporters: { otlp } });
  return config.exporters.otlp!;
}

/** Starts an exporter configured by `otlp`: empty metrics, node `n`, version `1`, silent, unless `args` says otherwise. */
function startExporter(otlp: Record<string, unknown>, args: Partial<StartOtlpExporterArgs> = {}): Promise<OtlpExporter> {
  return startOtlpExporter({
    config: otlpConfig(otlp),
    metrics: createMetricsModule(),
    nodeName: 'n',
    serviceVersion: '1',
    logger: silent,
    ...args,
  });
}

/** The receiver's endpoint for `protocol`. */
function endpointOf(receiver: Receiver, protocol: string): string {
  return protocol === 'grpc' ? receiver.grpcUrl : receiver.httpUrl;
}

/** A metrics module holding every kind of family, with known values. */
function populatedMetrics(): MetricsModule {
  const metrics = createMetricsModule({ universalLabels: { cluster: 'test-cluster', instance: 'node-a' } });
  metrics.basic.forwardCount.set({ direction: 'ingress' }, 42);
  metrics.basic.dropCount.set({ reason: 'IPTABLE_RULE_DROP', direction: 'egress' }, 7);
  const requests = metrics.counter({ name: 'acme_requests', help: 'requests', labelNames: ['code'] });
  requests.inc({ code: '200' }, 5);
  requests.inc({ code: '500' }, 2);
  const latency = metrics.histogram({ name: 'acme_latency_seconds', help: 'latency', labelNames: ['route'], buckets: [0.1, 1, 10] });
  for (const v of [0.05, 0.5, 0.7, 5, 50]) latency.observe({ route: '/a' }, v);
  const adv = metrics.advanced.gauge({ name: 'forward_count', help: 'pod forwards', labelNames: ['podname'] });
  adv.set({ podname: 'web-1' }, 3);
  return metrics;
}

interface PromFamily {
  name: string;
  type: string;
  metrics: Array<{ value?: string; labels?: Record<string, string>; buckets?: Record<string, string>; count?: string; sum?: string }>;
}

/** Asserts that the OTLP request carries exactly the families and values of the exposition. */
function expectSameAsExposition(body: Record<string, unknown>, exposition: string): void {
  const families = (parsePrometheusTextFormat(exposition) as PromFamily[]).filter((f) => f.metrics.length > 0);
  const otlp = metricsByName(body);
  expect([...otlp.keys()].sort()).toEqual(families.map((f) => f.name).sort());
  for (const family of families) {
    const metric = otlp.get(family.name)!;
    if (family.type === 'HISTOGRAM') {
      const hist = metric['histogram'] as { aggregationTemporality: string; dataPoints: Array<Record<string, unknown>> };
      expect(hist.aggregationTemporality).toBe('AGGREGATION_TEMPORALITY_CUMULATIVE');
      // The text parser keeps only the buckets of a histogram series; labels, sum and count are the known ones.
      expect(family.metrics).toHaveLength(1);
      expect(hist.dataPoints).toHaveLength(1);
      const dp = hist.dataPoints[0]!;
      const buckets = family.metrics[0]!.buckets!;
      expect(attributesOf(dp['attributes'])).toEqual({ route: '/a', cluster: 'test-cluster', instance: 'node-a' });
      expect(Number(dp['count'])).toBe(Number(buckets['+Inf']));
      expect(dp['sum']).toBe(56.25);
      const les = Object.keys(buckets).filter((le) => le !== '+Inf').map(Number).sort((a, b) => a - b);
      expect(dp['explicitBounds']).toEqual(les);
      const cumulative = (dp['bucketCounts'] as string[]).map(Number).reduce<number[]>((acc, c) => [...acc, (acc.at(-1) ?? 0) + c], []);
      expect(cumulative).toEqual([...les.map((le) => Number(buckets[String(le)])), Number(buckets['+Inf'])]);
      expect(cumulative).toEqual([1, 3, 4, 5]);
      continue;
    }
    const points =
      family.type === 'COUNTER'
        ? (() => {
            const sum = metric['sum'] as { isMonotonic: boolean; aggregationTemporality: string; dataPoints: unknown[] };
            expect(sum.isMonotonic).toBe(true);
            expect(sum.aggregationTemporality).toBe('AGGREGATION_TEMPORALITY_CUMULATIVE');
            return sum.dataPoints;
          })()
        : (metric['gauge'] as { dataPoints: unknown[] }).dataPoints;
    expect(points, family.name).toHaveLength(family.metrics.length);
    for (const series of family.metrics) {
      const dp = (points as Array<Record<string, unknown>>).find((p) => sameAttrs(attributesOf(p['attributes']), series.labels ?? {}));
      expect(dp, `${family.name} ${JSON.stringify(series.labels)}`).toBeDefined();
      expect(dp!['asDouble']).toBe(Number(series.value));
    }
  }
}

function sortKeys(r: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(r).sort(([a], [b]) => a.localeCompare(b)));
}

function sameAttrs(a: Record<string, unknown>, b: Record<string, string>): boolean {
  return JSON.stringify(sortKeys(a as Record<string, string>)) === JSON.stringify(sortKeys(b));
}

function flow(i: number, over: Partial<Flow> = {}): Flow {
  return {
    timeNs: 1_700_000_000_123_456_789n + BigInt(i),
    verdict: Verdict.FORWARDED,
    type: FlowType.L3_L4,
    nodeName: 'node-a',
    trafficDirection: TrafficDirection.EGRESS,
    ip: { source: '10.0.0.1', destination: '10.0.0.2', ipVersion: 1 },
    l4: { tcp: { sourcePort: 40000 + i, destinationPort: 80, flags: { SYN: true } } },
    source: { namespace: 'shop', podName: `web-${i}`, workloads: [{ name: 'web', kind: 'Deployment' }] },
    destination: { namespace: 'db', podName: 'pg-0' },
    ...over,
  };
}

let exporter: OtlpExporter | undefined;
let receiver: Receiver | undefined;
afterEach(async () => {
  await exporter?.stop(2000);
  exporter = undefined;
  await receiver?.close();
  receiver = undefined;
});

describe.each(['grpc', 'http/protobuf', 'http/json'] as const)('metrics over %s', (protocol) => {
  it('carries every /metrics family with the values /metrics shows, and the resource', async () => {
    receiver = await startReceiver();
    const metrics = populatedMetrics();
    exporter = await startExporter(
      {
        endpoint: endpointOf(receiver, protocol),
        protocol,
        interval: '1h',
        headers: { 'x-tenant': 'blue' },
        resourceAttributes: { 'deployment.environment': 'test' },
      },
      { metrics, nodeName: 'node-a', clusterName: 'test-cluster', serviceVersion: '9.9.9' },
    );
    const { body: exposition } = await metrics.expose();
    await exporter.forceFlush();
    const got = await receiver.waitFor((r) => r.signal === 'metrics', 'metrics');
    expect(got.transport).toBe(protocol);
    expect(got.headers['x-tenant']).toBe('blue');
    const resource = (got.body['resourceMetrics'] as Array<{ resource: { attributes: unknown } }>)[0]!.resource;
    expect(attributesOf(resource.attributes)).toMatchObject({
      'service.name': 'retina-ts',
      'service.version': '9.9.9',
      'k8s.node.name': 'node-a',
      'k8s.cluster.name': 'test-cluster',
      'deployment.environment': 'test',
    });
    expectSameAsExposition(got.body, exposition);
  });
});

describe('flow logs', () => {
  it('exports the flows the filters let through, in Hubble JSON with who/verdict/protocol attributes', async () => {
    receiver = await startReceiver();
    const metrics = createMetricsModule();
    const bus = new FlowBus({ capacity: 1000 });
    exporter = await startExporter(
      {
        endpoint: receiver.httpUrl,
        protocol: 'http/protobuf',
        metrics: false,
        flows: true,
        allowList: [{ source_pod: ['shop/'] }],
        denyList: [{ destination_port: ['53'] }],
      },
      { metrics, flows: bus, nodeName: 'node-a', serviceVersion: '1.0.0' },
    );
    bus.publish(flow(1));
    bus.publish(flow(2, { verdict: Verdict.DROPPED, dropReasonDesc: 133 }));
    bus.publish(flow(3, { source: { namespace: 'other', podName: 'x' } })); // not allowed
    bus.publish(flow(4, { l4: { udp: { sourcePort: 5353, destinationPort: 53 } } })); // denied
    const records: Array<Record<string, unknown>> = [];
    await (async () => {
      while (records.length < 2) {
        await exporter!.forceFlush();
        for (const r of receiver!.received.splice(0)) {
          for (const rl of r.body['resourceLogs'] as Array<{ scopeLogs: Array<{ logRecords: Array<Record<string, unknown>> }> }>)
            for (const sl of rl.scopeLogs) records.push(...sl.logRecords);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    expect(records).toHaveLength(2);
    const [fwd, drop] = records.sort((a, b) => String(a['timeUnixNano']).localeCompare(String(b['timeUnixNano'])));
    expect(String(fwd!['timeUnixNano'])).toBe('1700000000123456790');
    expect(attributesOf(fwd!['attributes'])).toEqual({
      'source.namespace': 'shop',
      'source.pod': 'web-1',
      'source.workload': 'web',
      'source.workload_kind': 'Deployment',
      'destination.namespace': 'db',
      'destination.pod': 'pg-0',
      'source.ip': '10.0.0.1',
      'destination.ip': '10.0.0.2',
      verdict: 'FORWARDED',
      protocol: 'TCP',
      traffic_direction: 'EGRESS',
    });
    expect(attributesOf(drop!['attributes'])).toMatchObject({ verdict: 'DROPPED', drop_reason: 'POLICY_DENIED' });
    expect(drop!['severityText']).toBe('WARN');
    // The body is a kvlist; rebuild it as JSON and compare with Hubble's GetFlowsResponse form.
    const body = anyValueToJson(fwd!['body'] as Record<string, unknown>) as Record<string, Record<string, unknown>>;
    expect(body['node_name']).toBe('node-a');
    expect(body['time']).toBe('2023-11-14T22:13:20.12345679Z');
    expect(body['flow']).toMatchObject({
      verdict: 'FORWARDED',
      Type: 'L3_L4',
      traffic_direction: 'EGRESS',
      IP: { source: '10.0.0.1', destination: '10.0.0.2', ipVersion: 'IPv4' },
      l4: { TCP: { source_port: 40001, destination_port: 80, flags: { SYN: true } } },
      source: { namespace: 'shop', pod_name: 'web-1' },
    });
    expect(exporter.flowCounts).toMatchObject({ filtered: 2, droppedQueueFull: 0, droppedExportFailed: 0 });
  });

  it('refuses filters it cannot compile, naming the list, index and field', async () => {
    const metrics = createMetricsModule();
    const start = (allowList: unknown[]) =>
      startExporter({ endpoint: 'http://127.0.0.1:1', flows: true, allowList }, { metrics, flows: new FlowBus() });
    await expect(start([{ sourcePod: ['x/'] }])).rejects.toThrow('exporters.otlp.allowList[0]: unknown FlowFilter field "sourcePod"');
    await expect(start([{}, { verdict: ['NOPE'] }])).rejects.toThrow(/exporters\.otlp\.allowList\[1\]\.verdict: "NOPE" is not one of/);
    await expect(start([{ source_ip: ['10.0.0.0/99'] }])).rejects.toThrow(/allowList\[0\]/);
  });
});

/** OTLP AnyValue (as protobufjs objects it) to plain JSON. */
function anyValueToJson(v: Record<string, unknown>): unknown {
  if ('kvlistValue' in v) {
    const out: Record<string, unknown> = {};
    for (const kv of ((v['kvlistValue'] as { values?: Array<{ key: string; value: Record<string, unknown> }> }).values ?? []))
      out[kv.key] = anyValueToJson(kv.value);
    return out;
  }
  if ('arrayValue' in v) return ((v['arrayValue'] as { values?: Array<Record<string, unknown>> }).values ?? []).map(anyValueToJson);
  if ('intValue' in v) return Number(v['intValue']);
  return v['stringValue'] ?? v['doubleValue'] ?? v['boolValue'] ?? null;
}

describe('a receiver that is down or hangs', () => {
  it('costs counted drops, while the event loop keeps answering', async () => {
    receiver = await startReceiver({ hang: true });
    const metrics = createMetricsModule();
    const bus = new FlowBus({ capacity: 100_000 });
    exporter = await startExporter(
      { endpoint: receiver.httpUrl, flows: true, timeout: '1s', interval: '1s', maxQueueSize: 100, maxExportBatchSize: 10 },
      { metrics, flows: bus },
    );
    // A small HTTP server stands in for /healthz: it must answer while exports hang.
    const health = createServer((_req, res) => res.end('ok'));
    await new Promise<void>((r) => health.listen(0, '127.0.0.1', r));
    try {
      for (let i = 0; i < 5000; i++) bus.publish(flow(i));
      const answer = await new Promise<string>((resolve, reject) =>
        get(`http://127.0.0.1:${(health.address() as AddressInfo).port}/`, (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve(text));
        }).on('error', reject),
      );
      expect(answer).toBe('ok');
      // Everything beyond the bound is dropped at once and counted; the hung exports time out and are counted too.
      let counts = exporter.flowCounts!;
      expect(counts.droppedQueueFull).toBeGreaterThanOrEqual(4900);
      while (counts.droppedExportFailed === 0) {
        await new Promise((r) => setTimeout(r, 200));
        counts = exporter.flowCounts!;
      }
      expect(counts.exported).toBe(0);
      const text = (await metrics.expose()).body;
      expect(text).toMatch(/controlplane_networkobservability_otlp_flow_logs_dropped_total\{reason="queue_full"\} \d+/);
      expect(text).toMatch(/controlplane_networkobservability_otlp_flow_logs_dropped_total\{reason="export_failed"\} \d+/);
    } finally {
      await new Promise<void>((r) => health.close(() => r()));
    }
  });

  it('counts failed metric exports when nothing listens', async () => {
    const metrics = populatedMetrics();
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    exporter = await startExporter(
      { endpoint: `http://127.0.0.1:${port}`, protocol: 'grpc', timeout: '1s', interval: '1h' },
      { metrics },
    );
    await exporter.forceFlush().catch(() => undefined);
    const text = (await metrics.expose()).body;
    expect(text).toContain('controlplane_networkobservability_otlp_exports_total{signal="metrics",result="failure"');
  });
});

describe('TLS', () => {
  let dir: string;
  const pem = (name: string) => join(dir, name);
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'otlp-tls-'));
    const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=otlp-test-ca', '-keyout', 'ca.key', '-out', 'ca.crt');
    writeFileSync(pem('san.ext'), 'subjectAltName=IP:127.0.0.1\n');
    for (const who of ['server', 'client']) {
      ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${who}`, '-keyout', `${who}.key`, '-out', `${who}.csr`);
      ssl('x509', '-req', '-in', `${who}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'san.ext', '-out', `${who}.crt`);
    }
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each(['grpc', 'http/protobuf'] as const)('%s with a test CA and client certificates', async (protocol) => {
    receiver = await startReceiver({
      tls: { cert: readFileSync(pem('server.crt')), key: readFileSync(pem('server.key')), ca: readFileSync(pem('ca.crt')), requestCert: true },
    });
    const metrics = populatedMetrics();
    exporter = await startExporter(
      {
        endpoint: endpointOf(receiver, protocol),
        protocol,
        interval: '1h',
        tls: { caFile: pem('ca.crt'), certFile: pem('client.crt'), keyFile: pem('client.key') },
      },
      { metrics },
    );
    await exporter.forceFlush();
    const got = await receiver.waitFor((r) => r.signal === 'metrics', 'metrics over TLS');
    expect(metricsByName(got.body).has('networkobservability_forward_count')).toBe(true);
  });

  it('names the key of an unreadable TLS file', async () => {
    await expect(
      startExporter({ endpoint: 'https://127.0.0.1:1', tls: { caFile: pem('missing.crt') } }),
    ).rejects.toThrow(/exporters\.otlp\.tls\.caFile: cannot read .*missing\.crt/);
  });
});
