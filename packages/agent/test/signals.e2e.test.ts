/** Process-level behaviour: a custom agent built from the programmatic API, and the forced exit on a second signal. */
import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  eventually,
  HANGING_STOP_PLUGIN_JS,
  parseExposition,
  spawnAgent,
  tempDir,
  writePackage,
} from './helpers.js';

const EXAMPLE = fileURLToPath(new URL('../../../examples/custom-agent/agent.mjs', import.meta.url));

describe('custom agent example', () => {
  it('runs exactly the plugins it imports and serves their metrics', async () => {
    const agent = await spawnAgent([], { script: EXAMPLE, env: { RETINA_API_SERVER_PORT: '0', RETINA_API_SERVER_HOST: '127.0.0.1' } });
    try {
      const plugins = await eventually(async () => {
        const body = (await (await fetch(agent.url('/plugins'))).json()) as { plugins: { name: string; state: string }[] };
        return body.plugins.every((p) => p.state === 'running') ? body.plugins : undefined;
      });
      expect(plugins.map((p) => p.name)).toEqual(['linuxutil']);
      const metrics = await eventually(async () => {
        const m = parseExposition(await (await fetch(agent.url('/metrics'))).text());
        return [...m.keys()].some((k) => k.startsWith('networkobservability_tcp_connection_stats{')) ? m : undefined;
      });
      expect([...metrics.keys()].some((k) => k.startsWith('networkobservability_ip_connection_stats{'))).toBe(true);
    } finally {
      agent.child.kill('SIGTERM');
      expect((await agent.exited).code).toBe(0);
    }
  });
});

describe('signals', () => {
  it('a second SIGTERM forces exit while a plugin hangs in stop', async () => {
    const cwd = tempDir('retina-hang');
    writePackage(cwd, 'hang-on-stop', { retina: { plugin: 'hang-on-stop' } }, HANGING_STOP_PLUGIN_JS);
    writeFileSync(join(cwd, 'config.yaml'), 'apiServer: { host: 127.0.0.1, port: 0 }\nenabledPlugin: [hang-on-stop]\n');
    const agent = await spawnAgent(['--config', join(cwd, 'config.yaml'), '--stop-timeout', '60000'], { cwd });
    await eventually(async () => {
      const body = (await (await fetch(agent.url('/plugins'))).json()) as { plugins: { state: string }[] };
      return body.plugins[0]?.state === 'running';
    });
    agent.child.kill('SIGTERM');
    await eventually(async () => agent.logs.some((l) => l['msg'] === 'stopping'));
    agent.child.kill('SIGTERM');
    const { code } = await agent.exited;
    expect(code).toBe(130);
    expect(agent.logs.some((l) => l['msg'] === 'second signal: exiting now')).toBe(true);
  });
});
