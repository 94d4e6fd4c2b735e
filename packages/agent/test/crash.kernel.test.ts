/**
 * The real `retina-agent` killed with SIGKILL in clsact mode (`enableTCX: off`, the fallback on kernels without
 * tcx), inside a namespace this file creates: nothing in the agent can run, so its TC filters and the clsact qdiscs
 * stay on the interfaces (packetforward on three interfaces, both directions). `retina-bpf cleanup` (what the chart runs
 * before the agent starts) removes every one of them and frees their programs; and an agent starting after a crash
 * removes the previous agent's leftovers itself before attaching its own, which a SIGTERM then removes.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { decodeClsactHandle } from '@retina-ts/bpf-runtime';
import {
  createNetnsPair,
  describeKernel,
  programsStillLoaded,
  tcFilters,
  tcQdiscs,
  waitFor,
  type NetnsPair,
} from '@retina-ts/testkit';
import { eventually, spawnAgent, stopAgent, tempDir, type AgentProcess } from './helpers.js';

const RETINA_BPF = join(
  dirname(createRequire(import.meta.url).resolve('@retina-ts/bpf-runtime/package.json')),
  'bin',
  'retina-bpf.js',
);

/** Interfaces packetforward watches: the pair's end and both ends of a second veth pair inside the namespace. */
const INNER = ['rck0', 'rck1'];
/** Filters per agent: both hooks of each of the three interfaces. */
const FILTERS = 6;
const QDISCS = 3;

describeKernel('agent killed in clsact mode', () => {
  let pair: NetnsPair;
  let agent: AgentProcess | undefined;
  const cwd = tempDir('retina-crash-kernel');
  const config = join(cwd, 'config.yaml');

  beforeAll(() => {
    pair = createNetnsPair({
      prefix: 'rck',
      peerPrefix: 'rcp',
      addresses: { local: '10.244.91.1/24', peer: '10.244.91.2/24' },
      ipv6: false,
    });
    // Names are the namespace's own: no other test can see them.
    pair.ns.ip(['link', 'add', INNER[0]!, 'type', 'veth', 'peer', 'name', INNER[1]!]);
    for (const name of INNER) pair.ns.ip(['link', 'set', name, 'up']);
  });

  afterAll(async () => {
    if (agent && agent.child.exitCode === null && agent.child.signalCode === null) {
      agent.child.kill('SIGKILL');
      await agent.exited;
    }
    if (pair) spawnSync(process.execPath, [RETINA_BPF, 'cleanup', '--netns', pair.ns.path]);
    pair?.destroy();
  });

  const interfaces = (): string[] => [pair.veth.name, ...INNER];
  const allFilters = () => interfaces().flatMap((name) => tcFilters(name, { netns: pair.ns }));
  const ours = () => allFilters().filter((f) => decodeClsactHandle(f.handle ?? 0));
  const owners = () => [...new Set(ours().map((f) => decodeClsactHandle(f.handle ?? 0)?.pid))];
  const clsactQdiscs = () =>
    interfaces().filter((name) => tcQdiscs(name, { netns: pair.ns }).some((q) => q.kind === 'clsact')).length;

  /** Starts the agent in the namespace and waits until both plugins have attached. */
  async function start(): Promise<AgentProcess> {
    const { writeFileSync } = await import('node:fs');
    writeFileSync(
      config,
      [
        'apiServer: { host: 127.0.0.1, port: 0 }',
        'enabledPlugin: [packetforward]',
        'enableTCX: "off"',
        'metricsIntervalDuration: 1s',
        'plugins:',
        `  packetforward: { interfaces: [${interfaces().join(', ')}] }`,
      ].join('\n'),
    );
    const a = await spawnAgent(['--config', config], { cwd, netns: pair.ns.name });
    // The agent listens inside the namespace, out of this process's reach: its log says when it has attached.
    await eventually(async () => {
      const failed = a.logs.find((l) => l['level'] === 50 || String(l['msg']).includes('failed'));
      if (failed) throw new Error(`agent logged a failure: ${JSON.stringify(failed)}`);
      const attached = new Set(a.logs.map((l) => String(l['msg'])));
      return attached.has('packetforward attached');
    });
    return a;
  }

  async function kill(a: AgentProcess): Promise<void> {
    a.child.kill('SIGKILL');
    expect((await a.exited).signal).toBe('SIGKILL');
  }

  it('leaves its filters after SIGKILL, and retina-bpf cleanup removes them with the qdisc', async () => {
    agent = await start();
    const pid = agent.child.pid!;
    expect(ours().length).toBe(FILTERS);
    expect(owners()).toEqual([pid]);
    await kill(agent);

    // Nothing could run in the agent: the filters and the qdisc are still there, running on every packet.
    const left = ours();
    expect(left.length).toBe(FILTERS);
    expect(clsactQdiscs()).toBe(QDISCS);
    const programs = left.map((f) => f.progId!);

    const r = spawnSync(process.execPath, [RETINA_BPF, 'cleanup', '--netns', pair.ns.path], {
      encoding: 'utf8',
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`removed ${FILTERS} filter(s) and ${QDISCS} qdisc(s) of ours`);
    expect(allFilters()).toEqual([]);
    expect(clsactQdiscs()).toBe(0);
    await waitFor(() => programsStillLoaded(programs).length === 0, {
      description: 'the programs to be freed',
    });
  });

  it("removes a killed agent's leftovers at start, and leaves nothing after SIGTERM", async () => {
    const crashed = await start();
    const crashedPid = crashed.child.pid!;
    await kill(crashed);
    expect(owners()).toEqual([crashedPid]);

    agent = await start();
    const removedLog = agent.logs.find((l) => String(l['msg']).startsWith(`removed ${FILTERS} TC filter(s)`));
    expect(removedLog?.['filters']).toEqual(
      Array.from({ length: FILTERS }, () => expect.objectContaining({ ownerPid: crashedPid })),
    );
    expect(removedLog?.['qdiscs']).toEqual(expect.arrayContaining(interfaces()));
    // Only the new agent's filters are attached now.
    expect(owners()).toEqual([agent.child.pid]);
    expect(ours().length).toBe(FILTERS);

    await stopAgent(agent);
    expect((await agent.exited).code).toBe(0);
    expect(allFilters()).toEqual([]);
    expect(clsactQdiscs()).toBe(0);
  });
});
