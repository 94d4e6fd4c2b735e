// The agent image run as Retina's DaemonSet runs it: inside a "node" (a network namespace with a default route),
// with the capability list of tools/build-images/README.md instead of --privileged, bpffs mounted, the config
// mounted at /retina/config/config.yaml. Then the capture workload from the same image, configured as a capture
// Job configures it. Needs root, the built dist/images/retina-ts-agent.tar, podman and runc.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bpfHeldBy,
  createNetnsPair,
  listBpfLinks,
  ping,
  programsStillLoaded,
  run,
  tcFilters,
  tcQdiscs,
  waitFor,
  type NetnsPair,
} from '@retina-ts/testkit';
// @ts-expect-error plan.mjs is plain JavaScript run by the build script.
import { imageVersion } from '../../plan.mjs';
import { RUN_LIMITS, imageSize, loadImage, podman, root } from './podman.js';

/**
 * How the agent container is run. `chart`: the capability list of deploy/helm/retina-ts (without IPC_LOCK, which
 * nothing needs) under the runtime's default seccomp profile, which allows bpf() and perf_event_open() only to a
 * container holding CAP_SYS_ADMIN. `minimal`: the least the kernel asks for linuxutil and packetforward, which
 * works only without that seccomp filter (a pod without a seccompProfile on a kubelet without --seccomp-default).
 * tools/build-images/README.md explains both.
 */
export const AGENT_PROFILES = {
  chart: { capabilities: ['SYS_ADMIN', 'BPF', 'PERFMON', 'NET_ADMIN', 'NET_RAW', 'SYS_RESOURCE'], seccomp: [] },
  minimal: { capabilities: ['BPF', 'NET_ADMIN'], seccomp: ['--security-opt', 'seccomp=unconfined'] },
} as const;
type Profile = keyof typeof AGENT_PROFILES;
const SIZE_BUDGET = 250_000_000;
const NODE_IP = '10.231.77.1';
const PEER_IP = '10.231.77.2';

const version = imageVersion(root) as string;
let ref: string;
let node: NetnsPair;
let scratch: string;

beforeAll(() => {
  ref = loadImage('retina-ts-agent', version);
  node = createNetnsPair({
    prefix: 'imgnode',
    peerPrefix: 'imgpeer',
    addresses: { local: `${NODE_IP}/24`, peer: `${PEER_IP}/24` },
    ipv6: false,
  });
  // The node's default route leads through the veth, so packetforward counts on it by default.
  node.ns.ip(['route', 'add', 'default', 'via', PEER_IP]);
  scratch = mkdtempSync(join(tmpdir(), 'retina-image-test-'));
});

afterAll(() => {
  node?.destroy();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

/** GET http://127.0.0.1:<port><path> from inside the node namespace, as a scraper on the node would. */
function getFromNode(path: string, port = 10093): string {
  const script = `fetch('http://127.0.0.1:${port}${path}').then(async (r) => { if (!r.ok) process.exit(3); process.stdout.write(await r.text()); }, () => process.exit(4))`;
  return node.ns.exec(process.execPath, ['-e', script]).stdout;
}

/** The value of the first sample of `name` whose labels include `label` (e.g. `direction="egress"`), or undefined. */
function sample(page: string, name: string, label = ''): number | undefined {
  const line = page
    .split('\n')
    .find((l) => (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) && l.slice(0, l.lastIndexOf(' ')).includes(label));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('retina-ts-agent image', () => {
  it(`is under ${SIZE_BUDGET / 1e6} MB uncompressed`, () => {
    const size = imageSize(ref);
    console.log(`${ref}: ${(size / 1e6).toFixed(1)} MB uncompressed`);
    expect(size).toBeLessThan(SIZE_BUDGET);
  });

  it('holds Node.js, the commands on PATH and the runtime libraries of the addon', () => {
    const out = podman(['run', '--rm', ...RUN_LIMITS, ref, 'sh', '-c',
      'node --version && for c in retina-agent retina-capture retina-bpf tcpdump ip ss; do command -v $c; done && ' +
        'ldd /opt/retina-ts/node_modules/@retina-ts/bpf-runtime/build/Release/retina_bpf.node']).stdout;
    expect(out).toMatch(/^v2[02]\.\d+\.\d+$/m);
    expect(out).toContain('/usr/local/bin/retina-agent');
    expect(out).toContain('/usr/local/bin/retina-capture');
    expect(out).toContain('/usr/local/bin/retina-bpf');
    expect(out).toMatch(/libbpf\.so\.1 => \//);
    expect(out).not.toContain('not found');
  });

  it.each(Object.keys(AGENT_PROFILES) as Profile[])(
    'runs the agent from the default command with the %s capabilities: linuxutil and packetforward count, SIGTERM exits 0 and leaves nothing',
    async (profile) => {
      const name = startAgent(`run-${profile}`, ['enabledPlugin: [linuxutil, packetforward]'], profile);
      try {
        const pid = Number(podman(['inspect', '--format', '{{.State.Pid}}', name]).stdout.trim());
        let page = await forwardMetrics(name);
        expect(sample(page, 'networkobservability_tcp_connection_stats')).toBeDefined();
        expect(sample(page, 'networkobservability_ip_connection_stats')).toBeDefined();
        const before = sample(page, 'networkobservability_forward_count', 'direction="egress"')!;
        const beforeIn = sample(page, 'networkobservability_forward_count', 'direction="ingress"')!;
        const held = bpfHeldBy(pid);
        expect(held.programs.length).toBeGreaterThan(0);

        const PINGS = 20;
        ping(node.ns, PEER_IP, { count: PINGS, interval: 0.05 });
        await waitFor(() => {
          page = tryGet('/metrics');
          const egress = sample(page, 'networkobservability_forward_count', 'direction="egress"') ?? 0;
          const ingress = sample(page, 'networkobservability_forward_count', 'direction="ingress"') ?? 0;
          return egress >= before + PINGS && ingress >= beforeIn + PINGS;
        }, { timeoutMs: 30_000, description: `forward_count up by ${PINGS} each way` });

        podman(['stop', '--time', '30', name]);
        expect(podman(['inspect', '--format', '{{.State.ExitCode}}', name]).stdout.trim()).toBe('0');
        await waitFor(() => programsStillLoaded(held.programs).length === 0, {
          timeoutMs: 15_000,
          description: 'the agent\'s BPF programs to be freed',
        });
        const links = new Set(listBpfLinks().map((l) => l.id));
        expect(held.links.filter((id) => links.has(id))).toEqual([]);
        expect(tcFilters(node.veth.name, { netns: node.ns })).toEqual([]);
      } finally {
        removeContainer(name);
      }
    },
  );

  it('runs `retina-bpf cleanup` as an init container with NET_ADMIN: exit 0 with nothing to clean, removes the clsact filters a killed agent left', async () => {
    // NET_ADMIN only, under the runtime's seccomp profile: the cleanup needs netlink and /proc, no bpf().
    const cleanup = () =>
      podman(['run', '--rm', ...RUN_LIMITS, `--network=ns:/run/netns/${node.ns.name}`, '--cap-drop=all',
        '--cap-add=CAP_NET_ADMIN', ref, 'retina-bpf', 'cleanup', '--json']);
    // Without --netns the report is `{ netns: 'current', report }`.
    const parse = (out: string) =>
      (JSON.parse(out) as { report: { removed: { ifname: string }[]; qdiscsRemoved: { ifname: string }[] } }).report;

    const idle = parse(cleanup().stdout);
    expect(idle.removed).toEqual([]);
    expect(idle.qdiscsRemoved).toEqual([]);

    // With tcx off, packetforward attaches clsact filters, which outlive a SIGKILLed agent.
    const name = startAgent('killed', ['enabledPlugin: [packetforward]', 'enableTCX: "off"'], 'chart');
    let programs: number[] = [];
    try {
      await forwardMetrics(name);
      programs = bpfHeldBy(Number(podman(['inspect', '--format', '{{.State.Pid}}', name]).stdout.trim())).programs;
      podman(['kill', '--signal', 'KILL', name]);
      await waitFor(() => podman(['inspect', '--format', '{{.State.Running}}', name]).stdout.trim() === 'false', {
        timeoutMs: 30_000,
        description: 'the killed agent to be gone',
      });
    } finally {
      removeContainer(name);
    }
    const left = tcFilters(node.veth.name, { netns: node.ns });
    expect(left.length, 'clsact filters left by the killed agent').toBeGreaterThan(0);

    const report = parse(cleanup().stdout);
    expect(report.removed.length).toBe(left.length);
    expect(report.removed.every((f) => f.ifname === node.veth.name)).toBe(true);
    expect(tcFilters(node.veth.name, { netns: node.ns })).toEqual([]);
    expect(tcQdiscs(node.veth.name, { netns: node.ns }).filter((q) => q.kind === 'clsact')).toEqual([]);
    await waitFor(() => programsStillLoaded(programs).length === 0, {
      timeoutMs: 15_000,
      description: 'the killed agent\'s BPF programs to be freed with their filters',
    });
  });

  it('runs the capture workload as a capture Job does and leaves a pcap tarball on the host path', async () => {
    const out = join(scratch, 'captures');
    mkdirSync(out);
    const hostPath = '/var/log/retina/captures/image-test';
    const name = `retina-image-capture-${process.pid}-${Date.now()}`;
    // The Job adds NET_ADMIN and SYS_ADMIN to a container runtime's defaults, which include NET_RAW.
    const child = spawn('podman', ['--runtime', 'runc', 'run', '--rm', '--name', name, ...RUN_LIMITS,
      `--network=ns:/run/netns/${node.ns.name}`,
      '--cap-add=CAP_NET_ADMIN', '--cap-add=CAP_SYS_ADMIN', '--cap-add=CAP_NET_RAW',
      '-e', 'CAPTURE_NAME=image-test', '-e', 'NODE_HOST_NAME=image-node', '-e', 'CAPTURE_DURATION=6s',
      '-e', 'INCLUDE_METADATA=true', '-e', 'PCAP_FILTER=icmp', '-e', `HOSTPATH=${hostPath}`,
      '-v', `${out}:${hostPath}`, ref, 'retina-capture'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let logs = '';
    child.stdout.on('data', (d: Buffer) => (logs += d.toString()));
    child.stderr.on('data', (d: Buffer) => (logs += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    await waitFor(() => logs.includes('tcpdump') || child.exitCode !== null, {
      timeoutMs: 60_000,
      description: 'tcpdump to start in the capture container',
    });
    const PINGS = 10;
    ping(node.ns, PEER_IP, { count: PINGS, interval: 0.1 });
    const code = await exited;
    expect(code, logs).toBe(0);

    const tarballs = readdirSync(out).filter((f) => f.endsWith('.tar.gz'));
    expect(tarballs, logs).toHaveLength(1);
    expect(tarballs[0]).toMatch(/^image-test-image-node-\d{14}UTC\.tar\.gz$/);
    const listing = run('tar', ['-tzf', join(out, tarballs[0]!)]).stdout.split('\n');
    const pcap = listing.find((f) => f.endsWith('.pcap'));
    expect(pcap, listing.join('\n')).toBeDefined();
    expect(listing.some((f) => f.endsWith('/ip-resources.txt'))).toBe(true);
    run('tar', ['-xzf', join(out, tarballs[0]!), '-C', out]);
    const packets = run('tcpdump', ['-n', '-r', join(out, pcap!), 'icmp']).stdout.trim().split('\n');
    expect(packets.filter((l) => l.includes(`${NODE_IP} > ${PEER_IP}: ICMP echo request`)).length).toBeGreaterThanOrEqual(PINGS);
  });
});

function tryGet(path: string): string {
  try {
    return getFromNode(path);
  } catch {
    return '';
  }
}

/** Starts the agent image's default command in the test node, the config lines given; returns the container name. */
function startAgent(label: string, configLines: string[], profile: Profile): string {
  const configDir = join(scratch, `config-${label}`);
  mkdirSync(configDir);
  writeFileSync(
    join(configDir, 'config.yaml'),
    ['apiServer:', '  host: 0.0.0.0', '  port: 10093', 'logLevel: info', 'metricsIntervalDuration: 1s', ...configLines, '']
      .join('\n'),
  );
  const { capabilities, seccomp } = AGENT_PROFILES[profile];
  const name = `retina-image-agent-${label}-${process.pid}-${Date.now()}`;
  podman(['run', '--detach', '--name', name, ...RUN_LIMITS, `--network=ns:/run/netns/${node.ns.name}`, ...seccomp,
    '--cap-drop=all', ...capabilities.map((c) => `--cap-add=CAP_${c}`),
    '-v', '/sys/fs/bpf:/sys/fs/bpf', '-v', '/sys/kernel/btf:/sys/kernel/btf:ro',
    '-v', `${configDir}:/retina/config:ro`, ref]);
  return name;
}

/** Waits for packetforward's counters on /metrics (failing early if the agent exits); returns the page. */
async function forwardMetrics(name: string): Promise<string> {
  let page = '';
  await waitFor(() => {
    const state = podman(['inspect', '--format', '{{.State.Running}}', name]).stdout.trim();
    if (state !== 'true') throw new Error(`the agent exited: ${podman(['logs', name], { allowFailure: true }).stderr}`);
    page = tryGet('/metrics');
    return sample(page, 'networkobservability_forward_count', 'direction="egress"') !== undefined;
  }, { timeoutMs: 60_000, description: 'packetforward metrics on /metrics' });
  return page;
}

function removeContainer(name: string): void {
  const logs = podman(['logs', name], { allowFailure: true });
  if (process.env.RETINA_IMAGE_TEST_LOGS === '1') console.log(logs.stdout, logs.stderr);
  podman(['rm', '--force', name], { allowFailure: true });
}
