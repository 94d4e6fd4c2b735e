/**
 * The packages as a user gets them: every public package is packed with `npm pack`, the tarballs are installed into
 * folders outside the repository with no lockfile (dependency ranges resolve to what the registry has today), and
 * everything below runs from those folders only: the `retina-agent` command with linuxutil, packetforward and a
 * third-party plugin written here, a custom agent from examples/custom-agent, `require()` from CommonJS, and a stop
 * with SIGTERM that leaves nothing attached in the kernel.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  createNetns,
  createNetnsPair,
  describeKernel,
  listBpfLinks,
  ping,
  programsStillLoaded,
  tcFilters,
  waitFor,
  type Netns,
  type NetnsPair,
} from '@retina-ts/testkit';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const ADDON = 'node_modules/@retina-ts/bpf-runtime/build/Release/retina_bpf.node';

/** The environment of a user's shell: nothing of the npm run or vitest process that started this test. */
function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (
      /^(npm_|NODE_OPTIONS$|NODE_PATH$|VITEST|RETINA_|KUBECONFIG$|KUBERNETES_SERVICE_HOST$|INIT_CWD$)/i.test(
        k,
      )
    )
      continue;
    env[k] = v;
  }
  // npm run puts the repository's node_modules/.bin first on PATH; a user's shell has none of it.
  env['PATH'] = (env['PATH'] ?? '')
    .split(':')
    .filter((p) => !p.includes('node_modules'))
    .join(':');
  return { ...env, ...extra };
}

/** Runs npm in `cwd` as a user would and returns what it printed (stdout only if asked); fails with its output. */
function npm(cwd: string, args: string[], stdoutOnly = false): string {
  const r = spawnSync('npm', args, {
    cwd,
    env: userEnv(),
    encoding: 'utf8',
    timeout: 300_000,
    maxBuffer: 64 << 20,
  });
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  if (r.status !== 0) throw new Error(`npm ${args.join(' ')} in ${cwd} exited ${r.status}:\n${output}`);
  return stdoutOnly ? (r.stdout ?? '') : output;
}

/** npm in the background, so the installs (mostly waiting on the registry) overlap. */
function npmAsync(cwd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('npm', args, { cwd, env: userEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0
        ? resolve(output)
        : reject(new Error(`npm ${args.join(' ')} in ${cwd} exited ${code}:\n${output}`)),
    );
  });
}

/** The JSON `npm pack --json` prints on stdout (after any lines of lifecycle notices). */
function packed(output: string): Array<{ name: string; filename: string }> {
  return JSON.parse(output.slice(output.indexOf('['))) as Array<{ name: string; filename: string }>;
}

function userFolder(name: string): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name, version: '1.0.0', private: true }, null, 2),
  );
  return dir;
}

/** `du -sk` of a folder's node_modules, in MiB. */
function installMiB(dir: string): number {
  const out = spawnSync('du', ['-sk', join(dir, 'node_modules')], { encoding: 'utf8' }).stdout;
  return Math.round((Number(out.split(/\s/)[0]) / 1024) * 10) / 10;
}

/** prog_id and link_id values of the BPF objects a process holds open (read from /proc, not from the agent). */
function bpfIdsHeldBy(pid: number): { progs: number[]; links: number[] } {
  const progs = new Set<number>();
  const links = new Set<number>();
  for (const fd of readdirSync(`/proc/${pid}/fdinfo`)) {
    let info: string;
    try {
      info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
    } catch {
      continue; // closed meanwhile
    }
    for (const m of info.matchAll(/^prog_id:\s+(\d+)$/gm)) progs.add(Number(m[1]));
    for (const m of info.matchAll(/^link_id:\s+(\d+)$/gm)) links.add(Number(m[1]));
  }
  return { progs: [...progs], links: [...links] };
}

/** A process started inside a namespace, with its output kept for failure messages. */
class Running {
  output = '';
  readonly exited: Promise<number | null>;
  constructor(readonly child: ChildProcess) {
    child.stdout?.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (this.output += d.toString()));
    this.exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  }
  static start(ns: Netns, cwd: string, argv: string[], env: Record<string, string> = {}): Running {
    // `ip netns exec` execs the command, so the pid is the agent's own and SIGTERM goes straight to it.
    return new Running(
      spawn('ip', ['netns', 'exec', ns.name, ...argv], { cwd, env: userEnv(env), stdio: 'pipe' }),
    );
  }
  async stop(): Promise<number | null> {
    this.child.kill('SIGTERM');
    return this.exited;
  }
}

function httpGet(ns: Netns, path: string): string | undefined {
  const r = ns.exec('curl', ['-s', '--max-time', '2', `http://127.0.0.1:10093${path}`], {
    allowFailure: true,
  });
  return r.status === 0 && r.stdout ? r.stdout : undefined;
}

function sample(metrics: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of metrics.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

let work = '';
const tarballs = new Map<string, string>();
const sizes: Record<string, number> = {};
let npmInstallOutput = '';
let full = '';
let custom = '';
let pluginHome = '';

function tarball(name: string): string {
  const file = tarballs.get(name);
  if (!file) throw new Error(`no tarball packed for ${name}`);
  return file;
}

describeKernel('packed packages installed as a user installs them', () => {
  beforeAll(async () => {
    const began = Date.now();
    work = mkdtempSync(join(tmpdir(), 'retina-consumer-'));
    const packs = join(work, 'tarballs');
    mkdirSync(packs);
    const workspaces: string[] = [];
    /** The @retina-ts packages each public package depends on (dependencies and peers). */
    const ours = new Map<string, string[]>();
    for (const dir of readdirSync(join(repo, 'packages')).sort()) {
      const pkgFile = join(repo, 'packages', dir, 'package.json');
      if (!existsSync(pkgFile)) continue;
      const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as {
        name: string;
        private?: boolean;
        dependencies?: Record<string, string>;
        peerDependencies?: Record<string, string>;
      };
      if (pkg.private) continue;
      workspaces.push('-w', pkg.name);
      const deps = Object.keys({ ...pkg.dependencies, ...pkg.peerDependencies }).filter((d) => d.startsWith('@retina-ts/'));
      ours.set(pkg.name, deps);
    }
    /** `name` and every @retina-ts package it needs, transitively. */
    const closure = (name: string, seen = new Set<string>()): Set<string> => {
      if (seen.has(name)) return seen;
      seen.add(name);
      for (const d of ours.get(name) ?? []) closure(d, seen);
      return seen;
    };
    // One npm process packs them all (from the built dist/ folders), as `npm publish` would.
    for (const report of packed(
      npm(repo, ['pack', '--json', '--ignore-scripts', '--pack-destination', packs, ...workspaces], true),
    ))
      tarballs.set(report.name, join(packs, report.filename));
    console.log(`npm pack: ${Math.round((Date.now() - began) / 1000)} s`);

    // The full agent: the retina-agent command package. Every @retina-ts tarball it needs is named, because none
    // is on the registry yet; everything else comes from the registry at its newest matching version.
    full = userFolder('full-agent');
    const fullSet = [...closure('@retina-ts/agent-cli')];
    const fullInstall = npmAsync(full, ['install', '--no-audit', '--no-fund', ...fullSet.map(tarball)]);

    // A custom agent with one plugin: the packages it names and linuxutil's one dependency of ours.
    custom = userFolder('custom-agent');
    const customInstall = npmAsync(custom, [
      'install',
      '--no-audit',
      '--no-fund',
      ...['@retina-ts/agent', '@retina-ts/core', '@retina-ts/plugin-linuxutil', '@retina-ts/net-address'].map(tarball),
    ]);
    copyFileSync(join(repo, 'examples/custom-agent/agent.mjs'), join(custom, 'agent.mjs'));

    // A third-party plugin, packed and installed in its own folder with its own copy of core (its peer).
    const src = join(work, 'acme-retina-ping');
    mkdirSync(src);
    writeFileSync(
      join(src, 'package.json'),
      JSON.stringify({
        name: 'acme-retina-ping',
        version: '1.0.0',
        type: 'module',
        exports: './index.js',
        retina: { plugin: 'acme-ping' },
        peerDependencies: { '@retina-ts/core': '^0.1.0' },
      }),
    );
    writeFileSync(
      join(src, 'index.js'),
      `import { definePlugin, InMemoryIpCache, PluginBase } from '@retina-ts/core';
class AcmePing extends PluginBase {
  onInit(ctx) {
    const pings = ctx.metrics.counter({ name: 'acme_ping_total', help: 'pings', labelNames: ['core'] });
    // The agent's IP cache is an instance of the InMemoryIpCache this plugin imports only if both share one core.
    pings.inc({ core: ctx.ipCache instanceof InMemoryIpCache ? 'shared' : 'separate' });
  }
}
export default definePlugin({ name: 'acme-ping', version: '1.0.0', platforms: ['linux'], create: () => new AcmePing() });
`,
    );
    const [acme] = packed(npm(src, ['pack', '--json', '--pack-destination', packs], true));
    pluginHome = userFolder('plugins');
    const pluginInstall = npmAsync(pluginHome, [
      'install',
      '--no-audit',
      '--no-fund',
      join(packs, acme!.filename),
      tarball('@retina-ts/core'),
    ]);
    [npmInstallOutput] = await Promise.all([fullInstall, customInstall, pluginInstall]);
    console.log(
      `packed ${tarballs.size} packages and installed them in ${Math.round((Date.now() - began) / 1000)} s`,
    );

    sizes['full'] = installMiB(full);
    sizes['custom'] = installMiB(custom);
    console.log(
      `install sizes (du -sk node_modules): retina-agent with every plugin ${sizes['full']} MiB; ` +
        `custom agent with linuxutil only ${sizes['custom']} MiB`,
    );
    mkdirSync(join(repo, '.test-results'), { recursive: true });
    writeFileSync(join(repo, '.test-results', 'install-sizes.json'), JSON.stringify(sizes, null, 2) + '\n');
  });

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("builds bpf-runtime's native addon in a user's install, after what npm asks the user to do", () => {
    // npm 11 warns about dependencies' install scripts and still runs them; later npm skips them until approved.
    const asked =
      /npm install-scripts approve/.test(npmInstallOutput) &&
      /@retina-ts\/bpf-runtime/.test(npmInstallOutput);
    if (asked) {
      const docs = readFileSync(join(repo, 'packages/bpf-runtime/README.md'), 'utf8');
      expect(docs, "the bpf-runtime README gives npm's own approval command").toContain(
        'npm install-scripts approve @retina-ts/bpf-runtime',
      );
      npm(full, ['install-scripts', 'approve', '@retina-ts/bpf-runtime']);
      const allow = JSON.stringify(JSON.parse(readFileSync(join(full, 'package.json'), 'utf8')));
      expect(allow).toContain('@retina-ts/bpf-runtime');
    }
    if (!existsSync(join(full, ADDON))) npm(full, ['rebuild', '@retina-ts/bpf-runtime']);
    expect(existsSync(join(full, ADDON)), `${ADDON} after install:\n${npmInstallOutput}`).toBe(true);
  });

  it('keeps a linuxutil-only custom agent free of the native addon, Hubble and the Kubernetes client', () => {
    for (const heavy of [
      '@retina-ts/bpf-runtime',
      '@retina-ts/hubble',
      '@retina-ts/kubernetes',
      '@kubernetes/client-node',
      '@grpc/grpc-js',
      'node-gyp',
    ]) {
      expect(existsSync(join(custom, 'node_modules', heavy)), heavy).toBe(false);
    }
    expect(sizes['custom']).toBeLessThan(sizes['full']!);
  });

  it('loads @retina-ts/agent and @retina-ts/core with require() from CommonJS', () => {
    const script =
      "const a = require('@retina-ts/agent'); const c = require('@retina-ts/core');" +
      "if (typeof a.createAgent !== 'function' || typeof c.definePlugin !== 'function') process.exit(3);";
    const r = spawnSync(process.execPath, ['-e', script], { cwd: custom, env: userEnv(), encoding: 'utf8' });
    expect(r.stderr.replace(/.*ExperimentalWarning.*\n|.*--trace-warnings.*\n/g, '')).toBe('');
    expect(r.status).toBe(0);
  });

  let pair: NetnsPair | undefined;
  afterAll(() => pair?.destroy());

  it('runs retina-agent with linuxutil, packetforward and a third-party plugin; SIGTERM leaves nothing attached', async () => {
    pair = createNetnsPair({
      prefix: 'rtcons',
      peerPrefix: 'rtconp',
      addresses: { local: '10.81.0.1/24', peer: '10.81.0.2/24' },
    });
    const { ns, peerNs, veth } = pair;
    writeFileSync(
      join(full, 'config.yaml'),
      [
        'apiServer: { host: 127.0.0.1, port: 10093 }',
        'metricsIntervalDuration: 1s',
        // linuxutl: a typo, answered with the closest installed name.
        'enabledPlugin: [linuxutil, packetforward, acme-ping, linuxutl]',
        `plugins: { packetforward: { interfaces: [${veth.name}] } }`,
        '',
      ].join('\n'),
    );
    const agent = Running.start(
      ns,
      full,
      [join(full, 'node_modules/.bin/retina-agent'), '--config', 'config.yaml'],
      {
        RETINA_PLUGIN_PATH: pluginHome, // the install folder, not its node_modules
      },
    );
    let held: { progs: number[]; links: number[] } = { progs: [], links: [] };
    try {
      const ready = await waitFor(
        () => httpGet(ns, '/readyz') !== undefined || agent.child.exitCode !== null,
        {
          timeoutMs: 60_000,
          intervalMs: 200,
          description: 'retina-agent ready',
        },
      );
      expect(agent.child.exitCode, agent.output).toBeNull();
      expect(ready).toBe(true);
      const status = JSON.parse(httpGet(ns, '/plugins') ?? '{}') as {
        plugins: Array<{ name: string; state: string; lastError?: string }>;
      };
      const byName = new Map(status.plugins.map((p) => [p.name, p]));
      for (const name of ['linuxutil', 'packetforward', 'acme-ping'])
        expect(byName.get(name)?.state, `${name}: ${JSON.stringify(byName.get(name))}\n${agent.output}`).toBe(
          'running',
        );
      const typo = byName.get('linuxutl');
      expect(typo?.state).toBe('failed');
      expect(typo?.lastError).toContain('Did you mean "linuxutil"?');
      expect(typo?.lastError).toContain(join(pluginHome, 'node_modules'));

      held = bpfIdsHeldBy(agent.child.pid!);
      expect(held.progs.length, 'BPF programs held by the agent').toBeGreaterThan(0);

      ping(peerNs, '10.81.0.1', { count: 5 });
      const metrics = await waitFor(
        () => {
          const m = httpGet(ns, '/metrics');
          return m && (sample(m, 'networkobservability_forward_count', { direction: 'ingress' }) ?? 0) >= 5
            ? m
            : undefined;
        },
        { timeoutMs: 15_000, intervalMs: 250, description: 'packetforward counting the pings' },
      );
      expect(sample(metrics, 'networkobservability_acme_ping_total', { core: 'shared' })).toBe(1);
      expect(sample(metrics, 'networkobservability_ip_connection_stats')).toBeDefined();
    } finally {
      const code = await agent.stop();
      expect(code, agent.output).toBe(0);
    }
    // Nothing of the agent's remains: no program, no link, no TC filter on the watched interface.
    await waitFor(() => programsStillLoaded(held.progs).length === 0, {
      timeoutMs: 5_000,
      description: 'programs freed',
    });
    const links = new Set(listBpfLinks().map((l) => l.id));
    expect(held.links.filter((id) => links.has(id))).toEqual([]);
    expect(tcFilters(veth.name, { netns: ns })).toEqual([]);
  });

  let customNs: Netns | undefined;
  afterAll(() => customNs?.destroy());

  it('builds and runs the custom agent of examples/custom-agent from its own install', async () => {
    customNs = createNetns('rtconc');
    const agent = Running.start(customNs, custom, [process.execPath, 'agent.mjs']);
    try {
      const metrics = await waitFor(
        () => {
          if (agent.child.exitCode !== null)
            throw new Error(`custom agent exited ${agent.child.exitCode}:\n${agent.output}`);
          const m = httpGet(customNs!, '/metrics');
          return m && sample(m, 'networkobservability_ip_connection_stats') !== undefined ? m : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 250, description: 'the custom agent serving linuxutil metrics' },
      );
      expect(metrics).toContain('controlplane_networkobservability_plugin_status');
    } finally {
      expect(await agent.stop(), agent.output).toBe(0);
    }
  });
});
