import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const packages = fileURLToPath(new URL('../..', import.meta.url));
const read = (path: string): Record<string, unknown> =>
  JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
const own = read(`${root}package.json`) as { version: string; dependencies: Record<string, string> };

describe('@retina-ts/agent-cli', () => {
  it('depends on every official plugin, so `retina-agent` finds all of them', () => {
    const plugins = readdirSync(packages)
      .filter((d) => d.startsWith('plugin-'))
      .map((d) => read(`${packages}${d}/package.json`).name as string);
    expect(plugins.length).toBeGreaterThan(0);
    for (const name of plugins) expect(own.dependencies, name).toHaveProperty(name);
  });

  it('installs every optional peer of @retina-ts/agent (hubble, kubernetes, bpf-runtime)', () => {
    const agent = read(`${packages}agent/package.json`) as { peerDependencies: Record<string, string> };
    for (const [name, range] of Object.entries(agent.peerDependencies))
      expect(own.dependencies[name], `${name}: add it to the dependencies of @retina-ts/agent-cli`).toBe(
        range,
      );
  });

  it('runs the agent command line', () => {
    const out = execFileSync(process.execPath, [`${root}dist/cli.js`, '--version'], { encoding: 'utf8' });
    expect(out.trim()).toBe(own.version);
    const help = execFileSync(process.execPath, [`${root}dist/cli.js`, '--help'], { encoding: 'utf8' });
    expect(help).toContain('--config <file>');
  });
});
