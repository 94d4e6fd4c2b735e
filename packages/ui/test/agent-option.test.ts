/**
 * The agent's `ui` option without the Hubble control plane: the agent refuses to start with a message saying what
 * to set (the UI reads flows from the agent's own Hubble server).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { spawnAgent, tempDir } from '../../agent/test/helpers.js';

it('refuses ui.enabled without controlPlane: hubble, naming what to set', async () => {
  const cwd = tempDir('retina-ui-option');
  writeFileSync(
    join(cwd, 'config.yaml'),
    ['apiServer: { host: 127.0.0.1, port: 0 }', 'enabledPlugin: []', 'ui: { enabled: true, port: 0 }'].join('\n'),
  );
  const agent = await spawnAgent(['--config', join(cwd, 'config.yaml')], { cwd, env: { KUBECONFIG: '' } });
  const { code } = await agent.exited;
  expect(code).not.toBe(0);
  const fatal = agent.logs.find((l) => l['level'] === 'fatal');
  expect(fatal?.['err']).toBe('ui.enabled: the UI reads flows from the Hubble API; set controlPlane: hubble');
});
