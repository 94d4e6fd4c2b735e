/**
 * `kubectl retina shell` against the API server double: the node shell's pod (host network, host PID, host
 * filesystem, capabilities) is created on the node, attached once running and deleted after; the pod shell adds an
 * ephemeral container through the ephemeralcontainers subresource and attaches to it. Most tests record the
 * attach; one runs the real pods/attach connection against the double's attach handler. --request-timeout too.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { V1Pod } from '@kubernetes/client-node';
import { startApiServerDouble, writeKubeconfig, type ApiServerDouble, type KubeObject } from '@retina-ts/k8s-apiserver-double';
import { DEFAULT_AGENT_IMAGE, DEFAULT_SHELL_IMAGE } from '@retina-ts/capture';
import { PassThrough } from 'node:stream';
import { KubeConfig } from '@kubernetes/client-node';
import { attachStreams, loadKube, parseCapabilities, parseShellTarget, runProgram, runShell } from '../src/index.js';
import { runCaptured } from './run.js';

let api: ApiServerDouble;
let dir: string;
let kubeconfig: string;
let kubelet: NodeJS.Timeout;
const attached: { namespace: string; pod: string; container: string; spec?: V1Pod['spec'] }[] = [];

const kr = (...args: string[]) =>
  runCaptured(['--kubeconfig', kubeconfig, ...args], {
    env: {},
    pollIntervalMs: 10,
    attach: async ({ namespace, pod, container }) => {
      attached.push({ namespace, pod, container, spec: api.get<KubeObject & V1Pod>('pods', namespace, pod).spec });
    },
  });

beforeAll(async () => {
  api = await startApiServerDouble();
  dir = await mkdtemp(join(tmpdir(), 'kr-shell-'));
  kubeconfig = await writeKubeconfig(join(dir, 'kubeconfig'), { server: api.url, namespace: 'debug' });
  api.create('nodes', { metadata: { name: 'node-1' } });
  api.create('pods', { metadata: { name: 'web', namespace: 'shop' }, spec: { containers: [{ name: 'web', image: 'web' }] }, status: { phase: 'Running' } });
  // The kubelet: pods run, ephemeral containers start.
  kubelet = setInterval(() => {
    for (const p of api.list<KubeObject & V1Pod>('pods')) {
      if (!p.status?.phase) api.modify<KubeObject & V1Pod>('pods', p.metadata.namespace, p.metadata.name, (x) => void (x.status = { phase: 'Running' }));
      const eph = p.spec?.ephemeralContainers ?? [];
      if (eph.length > (p.status?.ephemeralContainerStatuses?.length ?? 0)) {
        api.modify<KubeObject & V1Pod>('pods', p.metadata.namespace, p.metadata.name, (x) => {
          x.status!.ephemeralContainerStatuses = eph.map((c) => ({ name: c.name, image: c.image!, imageID: '', ready: false, restartCount: 0, state: { running: {} } }));
        });
      }
    }
  }, 5);
});
afterAll(async () => {
  clearInterval(kubelet);
  await api.close();
  await rm(dir, { recursive: true, force: true });
});
afterEach(() => {
  attached.length = 0;
});

describe('kubectl retina shell', () => {
  it('runs a node shell in a host-network pod on the node with the asked-for access, then deletes it', async () => {
    const r = await kr('shell', 'node/node-1', '--mount-host-filesystem', '--host-pid', '-c', 'net_admin,CAP_NET_RAW', '--seccomp-unconfined');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(attached).toHaveLength(1);
    const a = attached[0]!;
    expect([a.namespace, a.container]).toEqual(['debug', 'retina-shell']);
    expect(a.pod).toMatch(/^retina-shell-[0-9a-f]{5}$/);
    expect(a.spec).toMatchObject({ nodeName: 'node-1', hostNetwork: true, hostPID: true, restartPolicy: 'Never', tolerations: [{ operator: 'Exists' }] });
    const c = a.spec!.containers[0]!;
    expect(c.image).toBe(DEFAULT_SHELL_IMAGE);
    expect(DEFAULT_SHELL_IMAGE).toMatch(/^ghcr\.io\/retina-ts\/retina-ts-shell:\d+\.\d+\.\d+/);
    expect(c.image).not.toBe(DEFAULT_AGENT_IMAGE);
    expect([c.stdin, c.tty]).toEqual([true, true]);
    expect(c.securityContext).toEqual({ capabilities: { drop: ['ALL'], add: ['NET_ADMIN', 'NET_RAW'] }, seccompProfile: { type: 'Unconfined' } });
    expect(c.volumeMounts).toEqual([
      { name: 'host-filesystem', mountPath: '/host', readOnly: true },
      { name: 'run', mountPath: '/run' },
    ]);
    expect(a.spec!.volumes).toEqual([
      { name: 'host-filesystem', hostPath: { path: '/' } },
      { name: 'run', hostPath: { path: '/run' } },
    ]);
    expect(api.list('pods').map((p) => p.metadata.name)).toEqual(['web']);
  });

  it('without host access flags: no host PID, no host filesystem, every capability dropped; image flags honoured', async () => {
    const r = await kr('shell', 'node-1', '--retina-shell-image-repo', 'registry.test/tools', '--retina-shell-image-version', 'v9');
    expect(r.code).toBe(0);
    const spec = attached[0]!.spec!;
    expect(spec.hostPID).toBe(false);
    expect(spec.volumes).toBeUndefined();
    expect(spec.containers[0]!.image).toBe('registry.test/tools:v9');
    expect(spec.containers[0]!.securityContext).toEqual({ capabilities: { drop: ['ALL'], add: [] } });
  });

  it('takes the repository and tag from $RETINA_SHELL_IMAGE_REPO/_VERSION, each defaulting to the shell image\'s', async () => {
    const images: string[] = [];
    const shell = async (env: Record<string, string>, ...args: string[]) => {
      const code = await runProgram(['--kubeconfig', kubeconfig, 'shell', 'node-1', ...args], {
        out: () => {},
        err: () => {},
        env,
        pollIntervalMs: 10,
        attach: async ({ namespace, pod }) => {
          images.push(api.get<KubeObject & V1Pod>('pods', namespace, pod).spec!.containers[0]!.image!);
        },
      });
      expect(code).toBe(0);
    };
    await shell({ RETINA_SHELL_IMAGE_REPO: 'registry.test/env', RETINA_SHELL_IMAGE_VERSION: 'e1' });
    await shell({ RETINA_SHELL_IMAGE_VERSION: 'e2' });
    await shell({ RETINA_SHELL_IMAGE_REPO: 'registry.test/env' }, '--retina-shell-image-repo', 'registry.test/flag');
    await shell({ RETINA_SHELL_IMAGE_REPO: 'registry.test/env' }, '--image', 'registry.test/whole:3');
    const tag = DEFAULT_SHELL_IMAGE.split(':').pop();
    expect(images).toEqual([
      'registry.test/env:e1',
      'ghcr.io/retina-ts/retina-ts-shell:e2',
      `registry.test/flag:${tag}`,
      'registry.test/whole:3',
    ]);
  });

  it('runs a pod shell in an ephemeral container of the pod', async () => {
    const r = await kr('-n', 'shop', 'shell', 'pod/web', '-c', 'SYS_PTRACE', '--image', 'registry.test/net:1');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const eph = api.get<KubeObject & V1Pod>('pods', 'shop', 'web').spec!.ephemeralContainers!;
    expect(eph).toHaveLength(1);
    expect(eph[0]).toMatchObject({ image: 'registry.test/net:1', stdin: true, tty: true, securityContext: { capabilities: { drop: ['ALL'], add: ['SYS_PTRACE'] } } });
    expect(attached.map((a) => [a.namespace, a.pod, a.container])).toEqual([['shop', 'web', eph[0]!.name]]);
    expect(api.requests({ resource: 'pods', verb: 'update' }).some((q) => q.subresource === 'ephemeralcontainers')).toBe(true);
  });

  it("attaches streams to the node shell's container over pods/attach", async () => {
    const seen: { pod: string; container?: string; typed: string }[] = [];
    api.setAttachHandler(async ({ pod, container, input }) => {
      let typed = '';
      for await (const chunk of input) {
        typed += chunk.toString();
        if (typed.includes('exit\n')) break;
      }
      seen.push({ pod, typed, ...(container ? { container } : {}) });
      return { stdout: `ran: ${typed.split('\n')[0]}\n` };
    });
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfig);
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    let printed = '';
    stdout.on('data', (c: Buffer) => (printed += c.toString()));
    const lines: string[] = [];
    const done = runShell(kc, 'debug', { kind: 'node', name: 'node-1' }, {
      image: 'img',
      mountHostFilesystem: false,
      allowHostFilesystemWrite: false,
      hostPid: false,
      capabilities: ['NET_RAW'],
      appArmorUnconfined: false,
      seccompUnconfined: false,
      timeoutMs: 10_000,
    }, {
      out: (l) => lines.push(l),
      pollIntervalMs: 10,
      attach: (a) => attachStreams({ ...a, stdin, stdout, stderr: new PassThrough(), tty: true }),
    });
    stdin.write('tcpdump -i eth0 -c 1\n');
    stdin.write('exit\n');
    await done;
    api.setAttachHandler(undefined);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.container).toBe('retina-shell');
    expect(seen[0]!.typed).toBe('tcpdump -i eth0 -c 1\nexit\n');
    expect(printed).toBe('ran: tcpdump -i eth0 -c 1\n');
    expect(api.requests({ resource: 'pods' }).find((r) => r.subresource === 'attach')?.query).toMatchObject({ container: 'retina-shell', stdin: 'true', tty: 'true' });
    expect(api.list('pods').map((p) => p.metadata.name)).toEqual(['web']);
  });

  it('refuses what cannot work, naming it', async () => {
    expect((await kr('shell', 'node/nope')).err).toBe('error: shell: node "nope" not found');
    expect((await kr('-n', 'shop', 'shell', 'pod/web', '--host-pid')).err).toMatch(/apply to nodes only/);
    expect((await kr('shell', 'deployment/web')).err).toMatch(/"deployment" targets are not supported/);
    expect((await kr('shell', 'node-1', '-c', 'NET ADMIN')).err).toMatch(/--capabilities: "NET ADMIN" is not a capability name/);
    expect((await kr('shell', 'node-1', '--timeout', 'soon')).err).toMatch(/--timeout: "soon"/);
    expect(attached).toEqual([]);
    expect(parseShellTarget('nodes/n1')).toEqual({ kind: 'node', name: 'n1' });
    expect(parseCapabilities(' cap_sys_admin ,NET_RAW,NET_RAW')).toEqual(['SYS_ADMIN', 'NET_RAW']);
  });

  it('--as impersonates the user on every request', () => {
    const { kc } = loadKube({ kubeconfig, as: 'jane' });
    expect(kc.getCurrentUser()?.impersonateUser).toBe('jane');
  });
});

describe('--request-timeout', () => {
  it('gives up on an API server that does not answer, and names a bad value', async () => {
    const { createServer } = await import('node:http');
    const silent = createServer(() => {}); // accepts requests and never answers
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    const port = (silent.address() as { port: number }).port;
    const cfg = await writeKubeconfig(join(dir, 'silent-kubeconfig'), { server: `http://127.0.0.1:${port}` });
    try {
      const slow = await runCaptured(['--kubeconfig', cfg, '--request-timeout', '300ms', 'capture', 'list', '-A'], { env: {} });
      expect(slow.code).toBe(1);
      expect(slow.err).toMatch(/abort|timeout/i);
      const bad = await runCaptured(['--kubeconfig', cfg, '--request-timeout', 'later', 'capture', 'list'], { env: {} });
      expect(bad.code).toBe(1);
      expect(bad.err.split('\n').at(-1)).toBe('error: --request-timeout: "later" is not a duration (0, a number of seconds, or e.g. 5s, 1m)');
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  });
});
