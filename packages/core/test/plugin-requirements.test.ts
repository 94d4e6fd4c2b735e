/**
 * The manager enforces `requires` through the checker it is given: unmet → `unsupported` with the reason (status,
 * plugin_status metric), never initialised or retried; met → started as usual; `description` is in the status.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  definePlugin,
  type PluginManager,
  type Plugin,
  type PluginRequirements,
  type RequirementChecker,
} from '../src/index.js';
import { testManager } from './helpers.js';

const managers: PluginManager[] = [];
afterEach(async () => {
  for (const m of managers.splice(0)) await m.stop({ deadlineMs: 200 });
});

function manager(checkRequirements?: RequirementChecker) {
  const made = testManager(checkRequirements ? { checkRequirements } : {});
  managers.push(made.manager);
  return made;
}

/** A definition whose instances count their inits and run until aborted. */
function probe(name: string, requires: PluginRequirements | undefined, inits: string[]) {
  return definePlugin({
    name,
    version: '1.0.0',
    platforms: ['linux'],
    description: `${name} for tests`,
    ...(requires ? { requires } : {}),
    create: (): Plugin => ({
      init: () => {
        inits.push(name);
      },
      start: (signal) => new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true })),
      stop: () => {},
    }),
  });
}

describe('PluginManager requirements', () => {
  it('leaves a plugin whose requirements are unmet unsupported with the reason, and starts the others', async () => {
    const asked: Array<[string, PluginRequirements]> = [];
    const { manager: m, metrics } = manager((req, plugin) => {
      asked.push([plugin, req]);
      return req.mapTypes?.includes('ringbuf')
        ? ["BPF map type 'ringbuf' is not supported by kernel 5.4.0; it needs Linux 5.8 or newer"]
        : [];
    });
    const inits: string[] = [];
    m.add(probe('needs-ringbuf', { mapTypes: ['ringbuf'], programTypes: ['sched_cls'] }, inits));
    m.add(probe('needs-tc', { programTypes: ['sched_cls'] }, inits));
    m.add(probe('needs-nothing', undefined, inits));
    await m.start();

    expect(asked.map(([p]) => p).sort()).toEqual(['needs-ringbuf', 'needs-tc']);
    expect(inits.sort()).toEqual(['needs-nothing', 'needs-tc']);
    const status = Object.fromEntries(m.status().map((s) => [s.name, s]));
    expect(status['needs-ringbuf']).toMatchObject({
      state: 'unsupported',
      lastError: "BPF map type 'ringbuf' is not supported by kernel 5.4.0; it needs Linux 5.8 or newer",
      restarts: 0,
      description: 'needs-ringbuf for tests',
    });
    expect(status['needs-tc']).toMatchObject({ state: 'running', description: 'needs-tc for tests' });
    const { body } = await metrics.expose();
    expect(body).toMatch(/plugin_status\{plugin="needs-ringbuf",state="unsupported"\} 1/);
    expect(body).toMatch(/plugin_status\{plugin="needs-ringbuf",state="initializing"\} 0/);
    expect(body).toMatch(/plugin_status\{plugin="needs-tc",state="running"\} 1/);
  });

  it('joins several unmet requirements and treats a checker that throws as unmet', async () => {
    const { manager: m } = manager((req) => {
      if (req.features?.includes('tcx')) throw new Error('probe refused: EPERM');
      return ['the process lacks CAP_BPF', "BPF program type 'socket_filter' is not supported"];
    });
    const inits: string[] = [];
    m.add(probe('two-missing', { capabilities: [['CAP_BPF', 'CAP_SYS_ADMIN']], programTypes: ['socket_filter'] }, inits));
    m.add(probe('unprobeable', { features: ['tcx'] }, inits));
    await m.start();
    expect(inits).toEqual([]);
    const status = Object.fromEntries(m.status().map((s) => [s.name, s]));
    expect(status['two-missing']).toMatchObject({
      state: 'unsupported',
      lastError: "the process lacks CAP_BPF; BPF program type 'socket_filter' is not supported",
    });
    expect(status['unprobeable']).toMatchObject({
      state: 'unsupported',
      lastError: 'its requirements could not be checked: probe refused: EPERM',
    });
  });

  it('checks nothing without a checker', async () => {
    const { manager: m } = manager();
    const inits: string[] = [];
    m.add(probe('needs-ringbuf', { mapTypes: ['ringbuf'] }, inits));
    await m.start();
    expect(inits).toEqual(['needs-ringbuf']);
    expect(m.status()[0]).toMatchObject({ state: 'running' });
  });
});
