import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  createMetricsModule,
  definePlugin,
  FlowBus,
  parseConfig,
  PluginBase,
  type AgentConfig,
  type Plugin,
  type PluginContext,
  type PluginDefinition,
  type PluginManager,
  type PluginManagerOptions,
  type PluginStatus,
} from '../src/index.js';
import { testManager } from './helpers.js';

/** Records every instance a definition created and every lifecycle call, in order. */
class Journal {
  readonly events: string[] = [];
  readonly contexts: PluginContext[] = [];
  creates = 0;
}

/** A plain Plugin with scripted behaviour. */
function scripted(
  name: string,
  journal: Journal,
  behaviour: {
    init?: () => Promise<void> | void;
    start?: (signal: AbortSignal) => Promise<void>;
    stop?: () => Promise<void> | void;
  } = {},
  platforms: PluginDefinition['platforms'] = ['linux'],
): PluginDefinition {
  return definePlugin({
    name,
    version: '1.0.0',
    platforms,
    create(): Plugin {
      journal.creates++;
      return {
        async init(ctx) {
          journal.events.push(`${name}:init`);
          journal.contexts.push(ctx);
          await behaviour.init?.();
        },
        start(signal) {
          journal.events.push(`${name}:start`);
          if (behaviour.start) return behaviour.start(signal);
          return new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
        },
        async stop() {
          journal.events.push(`${name}:stop`);
          await behaviour.stop?.();
        },
      };
    },
  });
}

/** A healthy PluginBase plugin that sets forward_count on every tick. */
class HealthyPlugin extends PluginBase {
  ticks = 0;
  protected override onInit(): void {}
  protected override onStart(): void {
    this.every(2, () => {
      this.ticks++;
      this.ctx.metrics.basic.forwardCount.set({ direction: 'ingress' }, this.ticks);
    });
  }
}

function config(raw: Record<string, unknown> = {}): AgentConfig {
  return parseConfig(raw).config;
}

const managers: PluginManager[] = [];
afterEach(async () => {
  for (const m of managers.splice(0)) await m.stop({ deadlineMs: 50 });
  vi.useRealTimers();
});

function makeManager(overrides: Partial<PluginManagerOptions> = {}) {
  const { manager, metrics, lines } = testManager({ config: config(), ...overrides });
  const transitions: PluginStatus[] = [];
  manager.onTransition((s) => transitions.push(s));
  managers.push(manager);
  const statesOf = (name: string) => transitions.filter((t) => t.name === name).map((t) => t.state);
  const statusOf = (name: string) => manager.status().find((s) => s.name === name) as PluginStatus;
  return { manager, metrics, lines, transitions, statesOf, statusOf };
}

async function forwardCount(metrics: ReturnType<typeof createMetricsModule>): Promise<number> {
  const { body } = await metrics.expose();
  const m = /^networkobservability_forward_count\{direction="ingress"\} (\d+)$/m.exec(body);
  return m ? Number(m[1]) : 0;
}

describe('PluginManager isolation and restarts', () => {
  it('keeps a healthy plugin producing while others fail and are retried with backoff', async () => {
    const { manager, metrics, statesOf, statusOf, lines } = makeManager();
    const journal = new Journal();
    let releaseHang: () => void = () => {};
    manager.add(scripted('failing-init', journal, { init: () => Promise.reject(new Error('cannot open map')) }), {
      packageName: '@acme/failing',
    });
    manager.add(
      scripted('rejecting-start', journal, {
        start: () => new Promise((_, reject) => setTimeout(() => reject(new Error('ring buffer reader died')), 1)),
      }),
    );
    manager.add(scripted('hanging-stop', journal, { stop: () => new Promise<void>((r) => (releaseHang = r)) }));
    const healthy: HealthyPlugin[] = [];
    manager.add(
      definePlugin({
        name: 'healthy',
        version: '2.0.0',
        platforms: ['linux', 'windows'],
        create: () => {
          const p = new HealthyPlugin();
          healthy.push(p);
          return p;
        },
      }),
    );

    await manager.start();

    // The failing plugins go round their restart loop several times.
    await vi.waitFor(() => {
      expect(statusOf('failing-init').restarts).toBeGreaterThanOrEqual(3);
      expect(statusOf('rejecting-start').restarts).toBeGreaterThanOrEqual(3);
    });
    const before = await forwardCount(metrics);
    await vi.waitFor(async () => expect(await forwardCount(metrics)).toBeGreaterThan(before));

    expect(healthy).toHaveLength(1);
    expect(statusOf('healthy')).toMatchObject({ state: 'running', restarts: 0, version: '2.0.0' });
    expect(statusOf('hanging-stop')).toMatchObject({ state: 'running', restarts: 0 });

    const failing = statusOf('failing-init');
    expect(failing.package).toBe('@acme/failing');
    expect(failing.lastError).toBe('init: cannot open map');
    expect(['initializing', 'failed', 'backoff']).toContain(failing.state);
    expect(statesOf('failing-init').slice(0, 7)).toEqual([
      'pending',
      'initializing',
      'failed',
      'backoff',
      'initializing',
      'failed',
      'backoff',
    ]);
    expect(statesOf('rejecting-start').slice(0, 6)).toEqual(['pending', 'initializing', 'running', 'failed', 'backoff', 'initializing']);
    expect(statusOf('rejecting-start').lastError).toBe('start: ring buffer reader died');

    // A failed instance is released (stop called) before the next one is created.
    const ev = journal.events.filter((e) => e.startsWith('failing-init'));
    expect(ev.slice(0, 4)).toEqual(['failing-init:init', 'failing-init:stop', 'failing-init:init', 'failing-init:stop']);

    // Self-metrics follow the transitions.
    const { body } = await metrics.expose();
    const restarts = Number(/plugin_restarts_total\{plugin="failing-init"\} (\d+)/.exec(body)?.[1]);
    expect(restarts).toBeGreaterThanOrEqual(3);
    expect(Number(/failed_to_reconcile\{reason="failing-init"\} (\d+)/.exec(body)?.[1])).toBeGreaterThanOrEqual(restarts);
    expect(body).toContain('controlplane_networkobservability_plugin_status{plugin="healthy",state="running"} 1\n');
    expect(body).toContain('controlplane_networkobservability_plugin_status{plugin="healthy",state="failed"} 0\n');
    expect(body).not.toMatch(/plugin_restarts_total\{plugin="healthy"\}/);

    // Logs are structured and carry the plugin name.
    expect(lines.find((l) => l['msg'] === 'plugin failing-init failed in init: cannot open map')).toMatchObject({
      plugin: 'failing-init',
      level: 'error',
      phase: 'init',
    });

    // Stop finishes despite the hanging stop: that one is abandoned and reported, the rest stop in reverse order.
    journal.events.length = 0;
    const report = await manager.stop({ deadlineMs: 30 });
    expect(report).toEqual([
      { name: 'healthy', ok: true },
      { name: 'hanging-stop', ok: false, error: 'stop() did not finish within 30 ms; abandoned' },
      { name: 'rejecting-start', ok: true },
      { name: 'failing-init', ok: true },
    ]);
    expect(manager.status().map((s) => s.state)).toEqual(['stopped', 'stopped', 'stopped', 'stopped']);
    expect(healthy[0]?.state).toBe('stopped');
    const ticks = healthy[0]?.ticks;
    await new Promise((r) => setTimeout(r, 10));
    expect(healthy[0]?.ticks).toBe(ticks);
    const createsAfterStop = journal.creates;
    await new Promise((r) => setTimeout(r, 30));
    expect(journal.creates).toBe(createsAfterStop);
    releaseHang();
  });

  it('backs off exponentially up to the cap', async () => {
    vi.useFakeTimers();
    const { manager, transitions } = makeManager({ backoff: { initialMs: 100, maxMs: 800, factor: 2, jitter: 0 } });
    manager.add(scripted('flaky', new Journal(), { init: () => Promise.reject(new Error('nope')) }));
    await manager.start();
    await vi.advanceTimersByTimeAsync(100 + 200 + 400 + 800 + 800 + 800);
    const delays = transitions
      .filter((t) => t.state === 'backoff')
      .map((t) => Date.parse(t.nextRetryAt as string) - Date.parse(t.since));
    expect(delays.slice(0, 6)).toEqual([100, 200, 400, 800, 800, 800]);
    expect(manager.status()[0]?.restarts).toBe(6);
  });

  it('applies jitter below the computed delay', async () => {
    vi.useFakeTimers();
    const { manager, transitions } = makeManager({
      backoff: { initialMs: 1000, maxMs: 1000, factor: 2, jitter: 0.5 },
      random: () => 1,
    });
    manager.add(scripted('flaky', new Journal(), { init: () => Promise.reject(new Error('nope')) }));
    await manager.start();
    await vi.advanceTimersByTimeAsync(0);
    const b = transitions.find((t) => t.state === 'backoff') as PluginStatus;
    expect(Date.parse(b.nextRetryAt as string) - Date.parse(b.since)).toBe(500);
  });

  it('fails a plugin whose start returns before it was stopped', async () => {
    const { manager, statusOf } = makeManager({ backoff: { initialMs: 1000, maxMs: 1000, jitter: 0 } });
    manager.add(scripted('quitter', new Journal(), { start: () => Promise.resolve() }));
    await manager.start();
    await vi.waitFor(() => expect(statusOf('quitter').state).toBe('backoff'));
    expect(statusOf('quitter').lastError).toBe(
      'start: start() returned although the plugin was not stopped; start must run until its signal aborts',
    );
    expect(statusOf('quitter').nextRetryAt).toBeDefined();
  });

  it('times out a hanging init and releases the instance', async () => {
    const journal = new Journal();
    const { manager, statusOf } = makeManager({ initTimeoutMs: 20, backoff: { initialMs: 1000, maxMs: 1000, jitter: 0 } });
    manager.add(scripted('slow', journal, { init: () => new Promise<void>(() => {}) }));
    await manager.start();
    await vi.waitFor(() => expect(statusOf('slow').state).toBe('backoff'));
    expect(statusOf('slow').lastError).toBe('init: init() did not finish within 20 ms');
    expect(journal.events).toEqual(['slow:init', 'slow:stop']);
  });

  it('start() resolves once every plugin has run or failed its first attempt', async () => {
    const { manager } = makeManager({ backoff: { initialMs: 1000, maxMs: 1000, jitter: 0 } });
    manager.add(scripted('ok', new Journal()));
    manager.add(scripted('bad', new Journal(), { init: () => Promise.reject(new Error('x')) }));
    await manager.start();
    const states = Object.fromEntries(manager.status().map((s) => [s.name, s.state]));
    expect(states['ok']).toBe('running');
    expect(['failed', 'backoff']).toContain(states['bad']);
  });

  it('passes a context with the plugin options, a child logger and emit into the FlowBus', async () => {
    const journal = new Journal();
    const metrics = createMetricsModule();
    const flowBus = new FlowBus({ capacity: 1, metrics });
    const { manager, lines } = makeManager({
      config: config({ plugins: { dns: { port: 53 } } }),
      metrics,
      flowBus,
    });
    manager.add(scripted('dns', journal));
    await manager.start();
    const ctx = journal.contexts[0] as PluginContext;
    expect(ctx.name).toBe('dns');
    expect(ctx.options).toEqual({ port: 53 });
    expect(ctx.nodeName).toBe('node-a');
    ctx.logger.info('hello');
    expect(lines.at(-1)).toMatchObject({ plugin: 'dns', msg: 'hello' });
    const flow = { timeNs: 0n, verdict: 1, type: 1, nodeName: 'n', trafficDirection: 1 } as const;
    expect(ctx.emit(flow)).toBe(true);
    expect(ctx.emit(flow)).toBe(false);
    expect(flowBus.dropped).toBe(1);
  });
});

describe('PluginManager unsupported and unresolved plugins', () => {
  it('marks a plugin for another OS unsupported and never retries it', async () => {
    const journal = new Journal();
    const { manager, metrics, statusOf } = makeManager();
    manager.add(scripted('hnsstats', journal, {}, ['windows']));
    await manager.start();
    await new Promise((r) => setTimeout(r, 20));
    expect(statusOf('hnsstats')).toMatchObject({ state: 'unsupported', restarts: 0, lastError: 'requires windows (this node runs linux)' });
    expect(journal.creates).toBe(0);
    const { body } = await metrics.expose();
    expect(body).toContain('controlplane_networkobservability_plugin_status{plugin="hnsstats",state="unsupported"} 1\n');
    expect(body).toContain('controlplane_networkobservability_plugin_manager_failed_to_reconcile{reason="hnsstats"} 1\n');
  });

  it('names the OS for other platforms', async () => {
    const { manager, statusOf } = makeManager({ platform: 'darwin' });
    manager.add(scripted('linuxutil', new Journal()));
    await manager.start();
    expect(statusOf('linuxutil').lastError).toBe('requires linux (this node runs darwin)');
  });

  it('shows names discovery could not resolve as failed, without retries', async () => {
    const { manager, statusOf, metrics } = makeManager();
    manager.addFailed('acme-http', new Error('no installed package declares plugin "acme-http"'));
    await manager.start();
    await new Promise((r) => setTimeout(r, 20));
    expect(statusOf('acme-http')).toMatchObject({
      state: 'failed',
      restarts: 0,
      version: 'unknown',
      lastError: 'no installed package declares plugin "acme-http"',
    });
    expect((await metrics.expose()).body).toContain('failed_to_reconcile{reason="acme-http"} 1\n');
    expect(await manager.stop()).toEqual([]);
  });

  it('refuses the same name twice', () => {
    const { manager } = makeManager();
    manager.add(scripted('dns', new Journal()));
    expect(() => manager.add(scripted('dns', new Journal()))).toThrow('PluginManager: plugin "dns" is already added');
  });
});

describe('PluginManager.reconcile', () => {
  it('restarts only plugins whose options changed, starts new ones, stops removed ones', async () => {
    const jA = new Journal();
    const jB = new Journal();
    const jC = new Journal();
    const defA = scripted('alpha', jA);
    const defB = scripted('beta', jB);
    const { manager, statusOf, metrics } = makeManager({
      config: config({ enabledPlugin: ['alpha', 'beta'], plugins: { alpha: { level: 1 }, beta: { x: true } } }),
    });
    manager.add(defA);
    manager.add(defB);
    await manager.start();
    expect(jA.creates).toBe(1);

    // Only alpha's options change.
    let result = await manager.reconcile(
      config({ enabledPlugin: ['alpha', 'beta'], plugins: { alpha: { level: 2 }, beta: { x: true } } }),
    );
    expect(result).toEqual({ started: [], restarted: ['alpha'], stopped: [], missing: [] });
    await vi.waitFor(() => expect(statusOf('alpha').state).toBe('running'));
    expect(jA.creates).toBe(2);
    expect(jA.contexts[1]?.options).toEqual({ level: 2 });
    expect(jB.creates).toBe(1);
    expect(jA.events).toEqual(['alpha:init', 'alpha:start', 'alpha:stop', 'alpha:init', 'alpha:start']);

    // beta removed, gamma added with a definition, delta enabled without one.
    result = await manager.reconcile(
      config({ enabledPlugin: ['alpha', 'gamma', 'delta'], plugins: { alpha: { level: 2 } } }),
      [{ definition: scripted('gamma', jC), packageName: '@retina-ts/plugin-gamma' }],
    );
    expect(result).toEqual({ started: ['gamma'], restarted: [], stopped: ['beta'], missing: ['delta'] });
    await vi.waitFor(() => expect(statusOf('gamma').state).toBe('running'));
    expect(jB.events.at(-1)).toBe('beta:stop');
    expect(manager.status().map((s) => [s.name, s.state])).toEqual([
      ['alpha', 'running'],
      ['gamma', 'running'],
      ['delta', 'failed'],
    ]);
    expect(statusOf('gamma').package).toBe('@retina-ts/plugin-gamma');
    expect(statusOf('delta').lastError).toBe('plugin "delta" is enabled but no definition was found for it');
    expect(jA.creates).toBe(2);
    const { body } = await metrics.expose();
    expect(body).not.toContain('plugin_status{plugin="beta"');

    // A later definition for the unresolved name replaces the failure.
    result = await manager.reconcile(config({ enabledPlugin: ['alpha', 'gamma', 'delta'], plugins: { alpha: { level: 2 } } }), [
      scripted('delta', new Journal()),
    ]);
    expect(result.started).toEqual(['delta']);
    await vi.waitFor(() => expect(statusOf('delta').state).toBe('running'));
  });

  it('uses the platform default list when enabledPlugin is absent', async () => {
    const { manager } = makeManager();
    const result = await manager.reconcile(config({}), [scripted('linuxutil', new Journal())]);
    expect(result.started).toEqual(['linuxutil']);
    expect(manager.config.enabledPlugin).toBeUndefined();
  });
});
