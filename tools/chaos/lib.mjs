// Shared by the chaos probes: the agent's CLI, throwaway network namespaces, a spawned agent with its JSON log, and
// clean-up registered per probe. Everything stays on loopback or inside namespaces a probe creates.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The retina-agent CLI to probe: RETINA_AGENT_CLI, else the built one in the repository. */
export function agentCli() {
  if (process.env.RETINA_AGENT_CLI) return process.env.RETINA_AGENT_CLI;
  for (const rel of ['packages/agent-cli/dist/cli.js', 'packages/agent/dist/cli.js']) {
    const p = join(REPO, rel);
    if (existsSync(p)) return p;
  }
  throw new Error('no built retina-agent CLI: build it first (npx nx run-many -t build -p @retina-ts/agent)');
}

export const RETINA_BPF = join(REPO, 'packages', 'bpf-runtime', 'bin', 'retina-bpf.js');

/** Runs a command to completion; never throws on a non-zero exit. */
export function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: opts.timeoutMs ?? 20_000, ...opts });
  return { code: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** A probe's context: temporary files, namespaces and processes, all released by close(). */
export class ProbeContext {
  #cleanups = [];
  constructor(name) {
    this.name = name;
    this.dir = mkdtempSync(join(tmpdir(), `retina-chaos-${name}-`));
    this.defer(() => rmSync(this.dir, { recursive: true, force: true }));
  }

  /** Registers a release; close() runs them in reverse. */
  defer(fn) {
    this.#cleanups.push(fn);
  }

  async close() {
    for (const fn of this.#cleanups.splice(0).reverse()) {
      try {
        await fn();
      } catch {
        // best effort: the next release still runs
      }
    }
  }

  /** Writes `config.yaml` from lines; returns its path. */
  config(lines, file = 'config.yaml') {
    const path = join(this.dir, file);
    writeFileSync(path, lines.join('\n') + '\n');
    return path;
  }

  /** A network namespace with a unique name, deleted at close. */
  netns(prefix) {
    const name = `${prefix}${process.pid.toString(36)}${Math.random().toString(36).slice(2, 6)}`.slice(0, 15);
    const r = sh('ip', ['netns', 'add', name]);
    if (r.code !== 0) throw new Error(`ip netns add ${name}: ${r.stderr.trim()}`);
    this.defer(() => sh('ip', ['netns', 'del', name]));
    sh('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    return { name, path: `/var/run/netns/${name}`, ip: (args) => sh('ip', ['-n', name, ...args]) };
  }

  /** Runs the agent to its end (bounded): exit code, signal and output. A run past the bound is killed. */
  runAgent(args, opts = {}) {
    return sh(process.execPath, [agentCli(), ...args], {
      cwd: this.dir,
      timeoutMs: opts.timeoutMs ?? 15_000,
      env: { ...process.env, ...opts.env },
    });
  }

  /**
   * Starts the agent (inside `netns` when given) and resolves once `ready(logs)` is true (default: the metrics
   * listener is up); the agent is killed at close.
   */
  async startAgent(args, opts = {}) {
    const command = [process.execPath, agentCli(), ...args];
    if (opts.netns) command.unshift('ip', 'netns', 'exec', opts.netns);
    const child = spawn(command[0], command.slice(1), {
      cwd: this.dir,
      env: { ...process.env, KUBECONFIG: '', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const logs = [];
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d.toString()));
    const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    this.defer(async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      try {
        logs.push(JSON.parse(line));
      } catch {
        // not a log record
      }
    });
    const ready = opts.ready ?? ((l) => l.some((r) => String(r.msg).startsWith('serving /metrics')));
    const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
    while (!ready(logs)) {
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(`agent exited early: ${stderr.trim().slice(0, 300)}`);
      if (Date.now() > deadline) throw new Error('agent not ready in time');
      await sleep(50);
    }
    const port = logs.find(
      (r) => typeof r.port === 'number' && String(r.msg).startsWith('serving /metrics'),
    )?.port;
    return { child, logs, exited, port, stderr: () => stderr, url: (p) => `http://127.0.0.1:${port}${p}` };
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** TC filters on `dev` inside namespace `ns` (both hooks), as `tc -j` lists them; [] without clsact. */
export function tcFilters(ns, dev) {
  const out = [];
  for (const dir of ['ingress', 'egress']) {
    const r = sh('ip', ['netns', 'exec', ns, 'tc', '-j', 'filter', 'show', 'dev', dev, dir]);
    if (r.code !== 0) continue;
    for (const f of JSON.parse(r.stdout || '[]')) if (f.options) out.push({ dir, ...f });
  }
  return out;
}

/** Whether `dev` in namespace `ns` has a clsact qdisc. */
export function hasClsact(ns, dev) {
  const r = sh('ip', ['netns', 'exec', ns, 'tc', '-j', 'qdisc', 'show', 'dev', dev]);
  return JSON.parse(r.stdout || '[]').some((q) => q.kind === 'clsact');
}

/** BPF program ids process `pid` holds descriptors to (/proc/<pid>/fdinfo). */
export function programsHeldBy(pid) {
  const ids = new Set();
  let fds = [];
  try {
    fds = readdirSync(`/proc/${pid}/fdinfo`);
  } catch {
    return [];
  }
  for (const fd of fds) {
    try {
      const m = /^prog_id:\s*(\d+)$/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'latin1'));
      if (m) ids.add(Number(m[1]));
    } catch {
      // closed meanwhile
    }
  }
  return [...ids];
}

/** Of `ids`, the programs still loaded, and the BPF links still pointing at them (bpftool). */
export function stillInKernel(ids) {
  const want = new Set(ids);
  const progs = JSON.parse(sh('bpftool', ['-j', 'prog', 'show']).stdout || '[]').filter((p) =>
    want.has(p.id),
  );
  const links = JSON.parse(sh('bpftool', ['-j', 'link', 'show']).stdout || '[]').filter((l) =>
    want.has(l.prog_id),
  );
  return { programs: progs.map((p) => p.id), links: links.map((l) => l.id) };
}
