/**
 * /debug/heap, /debug/profile and /debug/vars of a real agent (no plugins), with `enableDebugEndpoints`; absent
 * without it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgent, type Agent } from '../src/index.js';
import { profileSeconds } from '../src/debug.js';

async function startAgent(enableDebugEndpoints?: boolean): Promise<{ agent: Agent; base: string }> {
  const agent = await createAgent({
    config: {
      apiServer: { host: '127.0.0.1', port: 0 },
      logLevel: 'error',
      ...(enableDebugEndpoints === undefined ? {} : { enableDebugEndpoints }),
    },
    plugins: [],
    env: {},
  });
  await agent.start();
  return { agent, base: `http://127.0.0.1:${agent.address()!.port}` };
}

describe('profileSeconds', () => {
  it('defaults to 10 and takes whole seconds from 1 to 60', () => {
    expect(profileSeconds(null)).toBe(10);
    expect(profileSeconds('')).toBe(10);
    expect(profileSeconds('1')).toBe(1);
    expect(profileSeconds('60')).toBe(60);
  });

  it('refuses anything else, naming the value', () => {
    for (const bad of ['0', '61', '1.5', '-1', 'ten', '1e1', '99999999']) {
      expect(() => profileSeconds(bad)).toThrow(`seconds=${JSON.stringify(bad)} is not a whole number of seconds from 1 to 60`);
    }
  });
});

describe('debug endpoints disabled (the default)', () => {
  let agent: Agent;
  let base: string;
  beforeAll(async () => ({ agent, base } = await startAgent()));
  afterAll(async () => agent?.stop());

  it('are not served', async () => {
    for (const path of ['/debug/vars', '/debug/heap', '/debug/profile?seconds=1']) {
      const res = await fetch(base + path);
      expect([path, res.status]).toEqual([path, 404]);
      await res.text();
    }
  });
});

describe('debug endpoints enabled', () => {
  let agent: Agent;
  let base: string;
  beforeAll(async () => ({ agent, base } = await startAgent(true)));
  afterAll(async () => agent?.stop());

  it('GET /debug/vars reports the event loop, memory, plugins, queues and lost events', async () => {
    const res = await fetch(`${base}/debug/vars`);
    expect(res.status).toBe(200);
    const vars = (await res.json()) as {
      pid: number;
      busy: string | null;
      eventLoop: { delayMs: Record<string, number> | null; samples: number };
      memory: { heapUsed: number };
      plugins: unknown[];
      queues: { flowBus: { queued: number; capacity: number }; readers: unknown[] };
      lostEvents: unknown;
    };
    expect(vars.pid).toBe(process.pid);
    expect(vars.busy).toBeNull();
    // The agent has run for a while: the event-loop monitor has samples (null would mean none yet).
    await new Promise((r) => setTimeout(r, 50));
    const again = (await (await fetch(`${base}/debug/vars`)).json()) as typeof vars;
    for (const v of [vars, again]) {
      if (v.eventLoop.samples === 0) expect(v.eventLoop.delayMs).toBeNull();
    }
    const delay = again.eventLoop.delayMs ?? vars.eventLoop.delayMs;
    expect(delay).not.toBeNull();
    expect(Object.keys(delay!)).toEqual(['min', 'mean', 'p50', 'p99', 'max']);
    expect(delay!['max']).toBeGreaterThanOrEqual(delay!['min']!);
    expect(vars.memory.heapUsed).toBeGreaterThan(0);
    expect(vars.plugins).toEqual([]);
    expect(vars.queues.flowBus).toEqual({ queued: 0, capacity: expect.any(Number) });
    expect(vars.queues.flowBus.capacity).toBeGreaterThan(0);
    // No plugin here reads a ring (the reader queues' content is tested in bpf-runtime's ring-buffer test).
    expect(vars.queues.readers).toEqual([]);
    expect(Array.isArray(vars.lostEvents)).toBe(true);
  });

  it('GET /debug/vars shows a stalled event loop in its delay figures', async () => {
    // Block this process's loop (the agent's too) for 200 ms: the monitor's next tick is at least 190 ms late.
    const until = Date.now() + 200;
    while (Date.now() < until);
    await new Promise((r) => setTimeout(r, 30));
    const vars = (await (await fetch(`${base}/debug/vars`)).json()) as { eventLoop: { delayMs: { max: number } } };
    expect(vars.eventLoop.delayMs.max).toBeGreaterThanOrEqual(150);
  });

  it('GET /debug/heap streams a V8 heap snapshot', async () => {
    const res = await fetch(`${base}/debug/heap`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="retina-agent-heap-\d+-.*\.heapsnapshot"$/);
    // The head of the document names the snapshot's layout; parsing the whole of it would take seconds.
    const body = await res.text();
    expect(body.startsWith('{"snapshot":{"meta":{"node_fields":["type","name",')).toBe(true);
    expect(body).toMatch(/"node_count":\d{4,}/);
    expect(body.endsWith('}')).toBe(true);
  });

  it('GET /debug/profile?seconds=2 returns a CPU profile, and refuses a second one while it runs', async () => {
    const first = fetch(`${base}/debug/profile?seconds=2`);
    // Sent after the first has reached the agent: /debug/vars is answered in order and says what runs.
    let busy: unknown = null;
    for (let i = 0; i < 1000 && busy === null; i++) {
      busy = ((await (await fetch(`${base}/debug/vars`)).json()) as { busy: unknown }).busy;
    }
    expect(busy).toBe('profile');
    const second = await fetch(`${base}/debug/heap`);
    expect(second.status).toBe(409);
    expect(await second.text()).toMatch(/a profile is being taken; one heap snapshot or profile runs at a time/);

    const res = await first;
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toMatch(/\.cpuprofile"$/);
    const profile = (await res.json()) as { nodes: unknown[]; startTime: number; endTime: number; samples: unknown[] };
    expect(profile.nodes.length).toBeGreaterThan(0);
    expect(profile.endTime).toBeGreaterThan(profile.startTime);
    // The lock is released once the profile is sent.
    expect(((await (await fetch(`${base}/debug/vars`)).json()) as { busy: unknown }).busy).toBeNull();
  });

  it('answers 400 naming a bad seconds value, and 404 for an unknown debug path', async () => {
    const bad = await fetch(`${base}/debug/profile?seconds=600`);
    expect(bad.status).toBe(400);
    expect(await bad.text()).toBe('seconds="600" is not a whole number of seconds from 1 to 60\n');
    const unknown = await fetch(`${base}/debug/pprof`);
    expect(unknown.status).toBe(404);
    expect(await unknown.text()).toMatch(/try \/debug\/vars, \/debug\/heap or \/debug\/profile\?seconds=N/);
  });
});
