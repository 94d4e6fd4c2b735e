/** Test helpers: temporary plugin packages and a spawned agent process. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { writeKubeconfig } from '@retina-ts/k8s-apiserver-double';

export const AGENT_CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'cli.js');

/** Writes a package folder `node_modules/<name>` under `root` with the given package.json fields and index.js. */
export function writePackage(root: string, name: string, pkg: Record<string, unknown>, indexJs: string): string {
  const dir = join(root, 'node_modules', ...name.split('/'));
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name, version: '1.2.3', type: 'module', exports: { '.': './index.js' }, ...pkg }, null, 2),
  );
  writeFileSync(join(dir, 'index.js'), indexJs);
  return dir;
}

/** A temporary folder. */
export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `${prefix}-`));
}

/**
 * A third-party plugin as a user would publish it: no import of @retina-ts/core, just the contract's shape.
 * It counts its own polls into a custom gauge so a test can see it running inside the agent.
 */
export const COUNTER_PLUGIN_JS = `
export default {
  name: 'acme-counter',
  version: '1.2.3',
  platforms: ['linux', 'windows'],
  description: 'test plugin that counts its polls',
  create() {
    let timer;
    let gauge;
    return {
      init(ctx) {
        gauge = ctx.metrics.gauge({ name: 'acme_polls', help: 'polls made by acme-counter', labelNames: ['node'] });
        this.node = ctx.nodeName;
      },
      start(signal) {
        let n = 0;
        const tick = () => gauge.set({ node: this.node }, ++n);
        tick();
        timer = setInterval(tick, 50);
        return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      },
      stop() { clearInterval(timer); },
    };
  },
};
`;

/** A plugin whose stop() never finishes, to exercise the forced exit on a second signal. */
export const HANGING_STOP_PLUGIN_JS = `
export default {
  name: 'hang-on-stop',
  version: '0.0.1',
  platforms: ['linux', 'windows'],
  create() {
    return {
      init() {},
      start(signal) { return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true })); },
      stop() { return new Promise(() => {}); },
    };
  },
};
`;

/** A spawned retina-agent with its JSON log lines collected. */
export interface AgentProcess {
  child: ChildProcess;
  port: number;
  logs: Record<string, unknown>[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  url(path: string): string;
}

/**
 * Starts `retina-agent` as a user would and waits for its listener (port 0 in the config picks a free one). With
 * `netns` it runs inside that network namespace (`ip netns exec` execs in place: the child's pid is the agent's);
 * with `mountSetup` those shell lines run first in a private mount namespace.
 */
export async function spawnAgent(
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; script?: string; netns?: string; mountSetup?: string } = {},
): Promise<AgentProcess> {
  const command = [process.execPath, opts.script ?? AGENT_CLI, ...args];
  // Shell lines run first in a private mount namespace (e.g. a tmpfs where a chart mounts files), then exec the agent.
  if (opts.mountSetup) {
    command.unshift('unshare', '--mount', '--propagation', 'private', 'sh', '-ec', `${opts.mountSetup}\nexec "$0" "$@"`);
  }
  if (opts.netns) command.unshift('ip', 'netns', 'exec', opts.netns);
  const child = spawn(command[0]!, command.slice(1), {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const port = await new Promise<number>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    rl.on('line', (line) => {
      let rec: Record<string, unknown>;
      try {
        rec = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      logs.push(rec);
      if (typeof rec['port'] === 'number' && String(rec['msg']).startsWith('serving /metrics')) resolve(rec['port']);
    });
    void exited.then(({ code }) => reject(new Error(`agent exited (${code}) before listening: ${stderr}`)));
  });
  return { child, port, logs, exited, url: (path) => `http://127.0.0.1:${port}${path}` };
}

/**
 * Starts `retina-agent` on node `nodeName` in a cluster: writes `kubeconfig` (pointing at `server`) and
 * `config.yaml` (the given lines) into `cwd`, then spawns the agent with them (inside `netns` when given).
 */
export async function spawnClusterAgent(opts: {
  cwd: string;
  nodeName: string;
  server: string;
  config: string[];
  netns?: string;
}): Promise<AgentProcess> {
  const { cwd } = opts;
  await writeKubeconfig(join(cwd, 'kubeconfig'), { server: opts.server });
  writeFileSync(join(cwd, 'config.yaml'), opts.config.join('\n'));
  return spawnAgent(['--config', join(cwd, 'config.yaml')], {
    cwd,
    ...(opts.netns ? { netns: opts.netns } : {}),
    env: { NODE_NAME: opts.nodeName, KUBECONFIG: join(cwd, 'kubeconfig') },
  });
}

/**
 * Waits until every plugin of `agent` but `except` runs, from its /plugins; while one is failed, its error is what
 * the wait reports when it gives up. Returns the plugins' names, sorted.
 */
export async function untilPluginsRunning(agent: AgentProcess, except: readonly string[] = []): Promise<string[]> {
  const plugins = await eventually(async () => {
    const body = (await (await fetch(agent.url('/plugins'))).json()) as {
      plugins: { name: string; state: string; lastError?: string }[];
    };
    const failed = body.plugins.find((p) => p.state === 'failed');
    if (failed) throw new Error(`plugin ${failed.name} failed: ${failed.lastError ?? '(no error)'}`);
    const watched = body.plugins.filter((p) => !except.includes(p.name));
    return watched.every((p) => p.state === 'running') ? body.plugins : undefined;
  });
  return plugins.map((p) => p.name).sort();
}

/** Sends SIGTERM to a child process that still runs and waits for its exit. */
export async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/** Sends SIGTERM to an agent that still runs and waits for its exit. */
export async function stopAgent(agent: AgentProcess | undefined): Promise<void> {
  if (!agent || agent.child.exitCode !== null || agent.child.signalCode !== null) return;
  agent.child.kill('SIGTERM');
  await agent.exited;
}

/** Polls `fn` until it returns a truthy value or the attempts run out. */
export async function eventually<T>(fn: () => Promise<T | undefined | false>, attempts = 100, everyMs = 100): Promise<T> {
  let last: unknown;
  for (let i = 0; i < attempts; i++) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`condition not met after ${attempts} attempts${last ? `: ${String(last)}` : ''}`);
}

/** Parses Prometheus text exposition into `name{labels}` → value. */
export function parseExposition(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}
