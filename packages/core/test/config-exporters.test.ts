import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/index.js';
import { configError } from './config-fixtures.js';

function otlp(value: Record<string, unknown>, env: NodeJS.ProcessEnv = {}) {
  return parseConfig({ exporters: { otlp: value } }, { env }).config.exporters.otlp;
}

const issue = (value: unknown): string => configError(() => parseConfig({ exporters: value }));

describe('exporters.otlp', () => {
  it('is absent by default', () => {
    expect(parseConfig({}).config.exporters).toEqual({});
  });

  it('fills defaults around the endpoint', () => {
    expect(otlp({ endpoint: 'http://collector:4318/' })).toEqual({
      endpoint: 'http://collector:4318',
      protocol: 'http/protobuf',
      headers: {},
      tls: {},
      intervalMs: 60_000,
      timeoutMs: 10_000,
      resourceAttributes: {},
      metrics: true,
      flows: false,
      allowList: [],
      denyList: [],
      maxQueueSize: 4096,
      maxExportBatchSize: 512,
    });
  });

  it('reads every key, and the whole block from RETINA_EXPORTERS as JSON', () => {
    const c = otlp({
      endpoint: 'https://collector:4317',
      protocol: 'grpc',
      headers: { Authorization: 'Bearer x' },
      tls: { caFile: '/ca.pem', certFile: '/c.pem', keyFile: '/k.pem' },
      interval: '30s',
      timeout: '1m',
      resourceAttributes: { 'deployment.environment': 'prod', shard: 3 },
      flows: 'true',
      allowList: [{ source_pod: ['shop/'] }],
      denyList: '[{"verdict":["FORWARDED"]}]',
      maxQueueSize: 100,
      maxExportBatchSize: 10,
    })!;
    expect(c.headers).toEqual({ authorization: 'Bearer x' });
    expect(c.intervalMs).toBe(30_000);
    expect(c.timeoutMs).toBe(30_000); // never longer than the interval
    expect(c.flows).toBe(true);
    expect(c.denyList).toEqual([{ verdict: ['FORWARDED'] }]);
    const fromEnv = parseConfig({}, { env: { RETINA_EXPORTERS: '{"otlp":{"endpoint":"http://c:4318","flows":true}}' } });
    expect(fromEnv.config.exporters.otlp).toMatchObject({ endpoint: 'http://c:4318', flows: true });
  });

  it.each([
    [{ otlp: {} }, 'config: exporters: otlp.endpoint: is required'],
    [{ otlp: { endpoint: 'collector:4317' } }, 'otlp.endpoint: "collector:4317" has the scheme collector:'],
    [{ otlp: { endpoint: 'not a url' } }, 'otlp.endpoint: "not a url" is not a URL'],
    [{ otlp: { endpoint: 'http://u:p@c:1' } }, 'carries credentials in the URL'],
    [{ otlp: { endpoint: 'http://c:1', protocol: 'thrift' } }, 'otlp.protocol: "thrift" is not allowed (allowed: grpc, http/protobuf, http/json)'],
    [{ otlp: { endpoint: 'http://c:1', interval: '5ms' } }, 'otlp.interval: "5ms" is out of range'],
    [{ otlp: { endpoint: 'http://c:1', interval: 10 } }, 'otlp.interval: 10 is not a duration'],
    [{ otlp: { endpoint: 'http://c:1', headers: { 'bad header': 'x' } } }, 'otlp.headers: "bad header" is not a valid header name'],
    [{ otlp: { endpoint: 'http://c:1', tls: { certFile: '/c.pem' } } }, 'otlp.tls: certFile and keyFile go together'],
    [{ otlp: { endpoint: 'http://c:1', allowList: [1] } }, 'otlp.allowList[0]: 1 is not a FlowFilter mapping'],
    [{ otlp: { endpoint: 'http://c:1', maxQueueSize: 0 } }, 'otlp.maxQueueSize: 0 is out of range'],
    [{ otlp: { endpoint: 'http://c:1', maxQueueSize: 5, maxExportBatchSize: 6 } }, 'otlp.maxExportBatchSize: 6 is larger than maxQueueSize (5)'],
    [{ otlp: { endpoint: 'http://c:1', flow: true } }, 'otlp.flow: unknown key'],
    [{ zipkin: {} }, 'exporters: zipkin: unknown exporter'],
  ])('refuses %j naming the key', (value, message) => {
    expect(issue(value)).toContain(message);
  });

  it('never echoes a header value it refuses', () => {
    const message = issue({ otlp: { endpoint: 'http://c:1', headers: { authorization: 'secret\nvalue' } } });
    expect(message).toContain('otlp.headers.authorization');
    expect(message).not.toContain('secret');
  });
});
