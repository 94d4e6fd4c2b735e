/**
 * The Helm chart through the real helm: `helm lint` and `helm template` over a matrix of values, every rendered
 * object checked against Kubernetes' schemas, and what each setting must render.
 */
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { helm } from '../src/helm.js';
import { MATRIX } from '../src/matrix.js';
import { CHART, find, render, validateObject, valuesFile, type KubeObject } from '../src/render.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures');

const configOf = (objects: KubeObject[], name = 'retina-config'): Record<string, unknown> =>
  parse((find(objects, 'ConfigMap', name)['data'] as Record<string, string>)['config.yaml']!) as Record<string, unknown>;

type Container = { name: string; image: string; args?: string[]; command?: string[]; securityContext?: Record<string, unknown>; volumeMounts?: { name: string; mountPath: string }[]; env?: { name: string }[]; ports?: { name: string; containerPort: number }[] };
const podSpec = (o: KubeObject) =>
  (o['spec'] as { template: { spec: { containers: Container[]; initContainers?: Container[]; volumes?: { name: string; projected?: unknown; hostPath?: { path: string } }[]; hostNetwork?: boolean; serviceAccountName?: string } } }).template.spec;

describe('helm lint', () => {
  it.each(Object.keys(MATRIX))('passes with the %s values', (name) => {
    const out = helm(['lint', CHART, '--strict', '-f', valuesFile(MATRIX[name]!)]);
    expect(out).toContain('0 chart(s) failed');
  });
});

describe.each(Object.keys(MATRIX))('helm template with the %s values', (name) => {
  const objects = render({ values: MATRIX[name]! });

  it('renders objects that match their Kubernetes schemas', async () => {
    expect(objects.length).toBeGreaterThan(3);
    for (const o of objects) await validateObject(o);
  });

  it('puts every namespaced object in the release namespace', () => {
    const clusterScoped = new Set(['ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition']);
    for (const o of objects) {
      if (clusterScoped.has(o.kind)) expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBeUndefined();
      else expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe('kube-system');
    }
  });

  it('renders no two objects of the same kind and name', () => {
    const keys = objects.map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`);
    expect(new Set(keys).size).toBe(keys.length);
  });
});

describe('the agent DaemonSet', () => {
  const objects = render();
  const ds = find(objects, 'DaemonSet', 'retina-agent');
  const spec = podSpec(ds);
  const agent = spec.containers.find((c) => c.name === 'retina')!;

  it('runs the image on the host network with the config where Retina mounts it', () => {
    expect(spec.hostNetwork).toBe(true);
    expect(agent.image).toBe('ghcr.io/retina-ts/retina-ts-agent:0.1.0');
    expect(agent.args).toEqual(['--config', '/retina/config/config.yaml']);
    expect(agent.volumeMounts).toContainEqual(expect.objectContaining({ name: 'config', mountPath: '/retina/config' }));
    expect(agent.volumeMounts).toContainEqual(expect.objectContaining({ name: 'bpf', mountPath: '/sys/fs/bpf' }));
  });

  it('asks for capabilities instead of privileged', () => {
    expect(agent.securityContext).toMatchObject({ privileged: false, runAsUser: 0 });
    const caps = (agent.securityContext!['capabilities'] as { add: string[] }).add;
    expect(caps).toEqual(expect.arrayContaining(['BPF', 'PERFMON', 'NET_ADMIN', 'SYS_RESOURCE']));
  });

  it('gives the agent its node name and address from the downward API', () => {
    expect(agent.env!.map((e) => e.name)).toEqual(expect.arrayContaining(['NODE_NAME', 'NODE_IP', 'POD_NAME']));
  });

  it('cleans up what a crashed agent left in the kernel before the agent starts', () => {
    const init = spec.initContainers?.find((c) => c.name === 'bpf-cleanup');
    expect(init?.command).toEqual(['retina-bpf', 'cleanup']);
    expect(init?.image).toBe(agent.image);
    const off = podSpec(find(render({ values: { agent: { cleanupOnStart: false } } }), 'DaemonSet', 'retina-agent'));
    expect(off.initContainers).toBeUndefined();
  });

  it('rolls the agents when the config changes', () => {
    const checksum = (o: KubeObject[]) =>
      ((find(o, 'DaemonSet', 'retina-agent')['spec'] as { template: { metadata: { annotations: Record<string, string> } } })
        .template.metadata.annotations['checksum/config']);
    expect(checksum(objects)).not.toBe(checksum(render({ values: { logLevel: 'debug' } })));
  });
});

describe('the config.yaml the chart renders', () => {
  it('carries Retina defaults, written in the forms the agent parses', () => {
    expect(configOf(render())).toMatchObject({
      apiServer: { host: '0.0.0.0', port: 10093 },
      enabledPlugin: ['dropreason', 'packetforward', 'linuxutil', 'dns'],
      enableTCX: 'auto',
      packetParserRingBufferSize: 8388608,
      controlPlane: 'standard',
      enableRetinaEndpoint: false,
    });
    expect(configOf(render({ values: { operator: { enabled: true, enableRetinaEndpoint: true } } }))['enableRetinaEndpoint']).toBe(true);
  });

  it('turns empty values into the defaults the agent applies', () => {
    const c = configOf(render({ values: { enableTCX: null, enableConntrackMetrics: null, logLevel: null, dataAggregationLevel: '' } }));
    expect(c).toMatchObject({ enableTCX: 'auto', enableConntrackMetrics: false, logLevel: 'info', dataAggregationLevel: 'low' });
  });

  it('accepts plugin lists as JSON strings, YAML lists and comma-separated strings', () => {
    const want = ['dns', 'linuxutil'];
    expect(configOf(render({ values: { enabledPlugin_linux: '["dns","linuxutil"]' } }))['enabledPlugin']).toEqual(want);
    expect(configOf(render({ values: { enabledPlugin_linux: want } }))['enabledPlugin']).toEqual(want);
    expect(configOf(render({ values: { enabledPlugin_linux: 'dns, linuxutil' } }))['enabledPlugin']).toEqual(want);
  });

  it('writes a large ring buffer size as an integer, not a float', () => {
    const text = (find(render({ values: { packetParserRingBufferSize: 1073741824 } }), 'ConfigMap', 'retina-config')['data'] as Record<string, string>)['config.yaml']!;
    expect(text).toContain('packetParserRingBufferSize: 1073741824');
  });

  it("renders a values file written for Retina's chart", () => {
    const objects = render({ files: [join(FIXTURES, 'retina-user-values.yaml')] });
    expect(configOf(objects)).toMatchObject({
      enablePodLevel: true,
      remoteContext: true,
      enableTCX: 'auto',
      enableConntrackMetrics: false,
      packetParserRingBuffer: 'enabled',
      enabledPlugin: ['dropreason', 'packetforward', 'linuxutil', 'dns', 'packetparser'],
      logLevel: 'debug',
      filterMapMaxEntries: 1024,
    });
    expect(podSpec(find(objects, 'DaemonSet', 'retina-agent')).containers[0]!.image).toBe(
      'registry.example.com/retina/retina-agent:v1.0.0',
    );
    expect(find(objects, 'Deployment', 'retina-operator')).toBeDefined();
    expect(find(objects, 'PodMonitor', 'retina-agent').metadata.labels?.['release']).toBe('prometheus');
  });
});

describe('least-privilege RBAC', () => {
  it('grants the agent exactly the reads its watchers make', () => {
    const role = find(render(), 'ClusterRole', 'retina-agent');
    const verbs = new Set<string>();
    for (const r of role['rules'] as { verbs: string[] }[]) for (const v of r.verbs) verbs.add(v);
    expect([...verbs].sort()).toEqual(['get', 'list', 'watch']);
    expect(role['rules']).toContainEqual({ apiGroups: [''], resources: ['services', 'endpoints'], resourceNames: ['kubernetes'], verbs: ['get'] });
  });

  it('binds the agent role to the agent service account', () => {
    const objects = render();
    const binding = find(objects, 'ClusterRoleBinding', 'retina-agent');
    expect(binding['subjects']).toEqual([{ kind: 'ServiceAccount', name: 'retina-agent', namespace: 'kube-system' }]);
    expect(podSpec(find(objects, 'DaemonSet', 'retina-agent')).serviceAccountName).toBe('retina-agent');
  });
});

describe('hubble mode', () => {
  const objects = render({ values: MATRIX['hubble']! });
  const config = configOf(objects);

  it("writes Hubble's keys into the agent config, with mutual TLS on :4244", () => {
    expect(config).toMatchObject({
      controlPlane: 'hubble',
      'hubble-listen-address': ':4244',
      'hubble-disable-tls': 'false',
      'hubble-tls-cert-file': '/var/lib/cilium/tls/hubble/server.crt',
      'hubble-tls-client-ca-files': '/var/lib/cilium/tls/hubble/client-ca.crt',
    });
    const agent = podSpec(find(objects, 'DaemonSet', 'retina-agent')).containers[0]!;
    expect(agent.volumeMounts).toContainEqual(expect.objectContaining({ name: 'hubble-tls', mountPath: '/var/lib/cilium/tls/hubble' }));
    expect(agent.ports!.map((p) => p.containerPort)).toEqual([10093, 4244, 9965]);
  });

  it('generates certificates Relay and the agents accept from each other', () => {
    const secret = (name: string) => {
      const data = find(objects, 'Secret', name)['data'] as Record<string, string>;
      const pem = (k: string) => Buffer.from(data[k]!, 'base64').toString();
      return { ca: new X509Certificate(pem('ca.crt')), cert: new X509Certificate(pem('tls.crt')), key: pem('tls.key') };
    };
    const server = secret('hubble-server-certs');
    const client = secret('hubble-relay-client-certs');
    expect(server.cert.verify(server.ca.publicKey)).toBe(true);
    expect(client.cert.verify(server.ca.publicKey)).toBe(true);
    // Relay checks <node>.<cluster>.hubble-grpc.cilium.io against the agent's certificate.
    expect(server.cert.checkHost('node-1.default.hubble-grpc.cilium.io')).toBe('*.default.hubble-grpc.cilium.io');
    expect(server.cert.checkHost('node-1.other.hubble-grpc.cilium.io')).toBeUndefined();
    // The key in each secret belongs to its certificate.
    for (const s of [server, client]) {
      const pub = createPublicKey(createPrivateKey(s.key)).export({ type: 'spki', format: 'der' });
      expect(Buffer.compare(pub, s.cert.publicKey.export({ type: 'spki', format: 'der' }))).toBe(0);
    }
  });

  it('points Relay at the Peer service, which reaches the agent of the same node', () => {
    const relay = parse((find(objects, 'ConfigMap', 'hubble-relay-config')['data'] as Record<string, string>)['config.yaml']!) as Record<string, unknown>;
    expect(relay['peer-service']).toBe('hubble-peer.kube-system.svc.cluster.local:443');
    expect(relay['tls-hubble-client-cert-file']).toBe('/var/lib/hubble-relay/tls/client.crt');
    const peer = find(objects, 'Service', 'hubble-peer')['spec'] as { internalTrafficPolicy: string; ports: { port: number; targetPort: number }[] };
    expect(peer.internalTrafficPolicy).toBe('Local');
    expect(peer.ports[0]).toMatchObject({ port: 443, targetPort: 4244 });
    expect(find(objects, 'Deployment', 'hubble-ui')).toBeDefined();
  });

  it('serves plaintext on port 80 of the Peer service when TLS is off', () => {
    const plain = render({ values: MATRIX['hubble-no-tls']! });
    expect(configOf(plain)['hubble-disable-tls']).toBe('true');
    const relay = parse((find(plain, 'ConfigMap', 'hubble-relay-config')['data'] as Record<string, string>)['config.yaml']!) as Record<string, unknown>;
    expect(relay).toMatchObject({ 'peer-service': 'hubble-peer.kube-system.svc.cluster.local:80', 'disable-client-tls': true });
    expect(plain.some((o) => o.kind === 'Secret')).toBe(false);
  });

  it('refuses the UI without Relay, and TLS without certificates, naming the values', () => {
    expect(() => render({ values: { controlPlane: 'hubble', hubble: { relay: { enabled: false } } } })).toThrow(/hubble\.ui\.enabled needs hubble\.relay\.enabled/);
    expect(() => render({ values: { controlPlane: 'hubble', hubble: { tls: { auto: { enabled: false } } } } })).toThrow(/hubble\.tls\.server\.cert/);
  });
});

describe('the operator', () => {
  it('runs capture Jobs with the agent image of the release', () => {
    const objects = render({ values: MATRIX['operator-on']! });
    const dep = find(objects, 'Deployment', 'retina-operator');
    const c = podSpec(dep).containers[0]!;
    const i = c.args!.indexOf('--image');
    expect(c.args![i + 1]).toBe('ghcr.io/retina-ts/retina-ts-agent:0.1.0');
    const cfg = parse((find(objects, 'ConfigMap', 'retina-operator-config')['data'] as Record<string, string>)['operator-config.yaml']!) as Record<string, unknown>;
    expect(cfg).toMatchObject({ captureJobNumLimit: 2, captureHostPathBaseDir: '/var/log/captures' });
  });

  it('is absent when turned off', () => {
    const objects = render({ values: MATRIX['operator-off']! });
    expect(objects.some((o) => o.metadata.name === 'retina-operator')).toBe(false);
  });
});

describe('Windows nodes', () => {
  it('get a HostProcess DaemonSet reading retina-config-win', () => {
    const objects = render({ values: MATRIX['windows']! });
    const ds = find(objects, 'DaemonSet', 'retina-agent-win');
    const spec = (ds['spec'] as { template: { spec: Record<string, unknown> } }).template.spec;
    expect(spec['securityContext']).toMatchObject({ windowsOptions: { hostProcess: true, runAsUserName: 'NT AUTHORITY\\SYSTEM' } });
    expect(configOf(objects, 'retina-config-win')['enabledPlugin']).toEqual(['hnsstats']);
  });
});

describe('dashboards and alerts', () => {
  const dashboardDir = join(CHART, 'dashboards');
  const files = readdirSync(dashboardDir).filter((f) => f.endsWith('.json'));

  it('ships every dashboard in the ConfigMap the Grafana sidecar loads', () => {
    expect(files.length).toBeGreaterThan(0);
    const cm = find(render(), 'ConfigMap', 'retina-svc-dashboards');
    expect(cm.metadata.labels?.['grafana_dashboard']).toBe('1');
    const data = cm['data'] as Record<string, string>;
    expect(Object.keys(data).sort()).toEqual([...files].sort());
    for (const f of files) expect(JSON.parse(data[f]!)).toEqual(JSON.parse(readFileSync(join(dashboardDir, f), 'utf8')));
  });

  it('wraps the rule groups of files/prometheus-rules.yaml in a PrometheusRule', () => {
    const rule = find(render({ values: MATRIX['monitoring']! }), 'PrometheusRule', 'retina-svc-alerts');
    const file = parse(readFileSync(join(CHART, 'files', 'prometheus-rules.yaml'), 'utf8')) as { groups: unknown[] };
    expect((rule['spec'] as { groups: unknown[] }).groups).toEqual(file.groups);
  });
});
