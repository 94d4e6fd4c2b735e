// What the workspace promises of every package without a hand-kept list: targets come from tsconfig and package.json
// (so a copied and renamed package gets them), BPF packages compile their objects in a cached build-bpf target that
// build waits for, and every shipped package carries a boundary tag.
import { createProjectGraphAsync, type ProjectGraph } from '@nx/devkit';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const BOUNDARY_TAGS = ['scope:core', 'scope:runtime', 'scope:hubble', 'type:plugin', 'type:app', 'type:lib'];

let graph: ProjectGraph;
beforeAll(async () => {
  process.env.NX_DAEMON = 'false';
  graph = await createProjectGraphAsync({ exitOnError: false });
});

/** A target's inputs with nx.json's named inputs spelled out. */
function expandInputs(inputs: unknown[] | undefined): string {
  const named = (JSON.parse(readFileSync(join(root, 'nx.json'), 'utf8')) as { namedInputs: Record<string, unknown[]> })
    .namedInputs;
  return JSON.stringify((inputs ?? []).flatMap((i) => (typeof i === 'string' && named[i] ? named[i] : [i])));
}

const projects = () => Object.values(graph.nodes).map((n) => n.data);
const hasBpfSources = (dir: string) =>
  existsSync(join(root, dir, 'bpf')) && readdirSync(join(root, dir, 'bpf')).some((f) => f.endsWith('.bpf.c'));

describe('inferred and conventional targets', () => {
  it('every package under packages/ is a project', () => {
    const dirs = readdirSync(join(root, 'packages')).filter((d) => existsSync(join(root, 'packages', d, 'package.json')));
    expect(projects().map((p) => p.root).filter((r) => r.startsWith('packages/')).sort()).toEqual(
      dirs.map((d) => `packages/${d}`).sort(),
    );
  });

  it('@nx/js infers typecheck from each tsconfig.json', () => {
    const withTsconfig = projects().filter((p) => existsSync(join(root, p.root, 'tsconfig.json')));
    expect(withTsconfig.length).toBeGreaterThan(10);
    for (const p of withTsconfig) {
      expect(p.targets?.typecheck?.options?.command, p.name).toMatch(/^tsc --build tsconfig\.json/);
    }
  });

  it('every BPF package has a cached build-bpf target on its bpf/ sources and the shared headers, before build', () => {
    const bpf = projects().filter((p) => p.root.startsWith('packages/') && hasBpfSources(p.root));
    expect(bpf.map((p) => p.name)).toContain('@retina-ts/plugin-packetparser');
    for (const p of bpf) {
      const target = p.targets?.['build-bpf'];
      expect(target, p.name).toBeDefined();
      expect(target?.cache, p.name).toBe(true);
      expect(target?.outputs, p.name).toEqual(['{projectRoot}/dist/bpf']);
      const inputs = expandInputs(target?.inputs);
      expect(inputs, p.name).toContain('{projectRoot}/bpf/**/*');
      expect(inputs, p.name).toContain('{workspaceRoot}/packages/bpf-runtime/include/**/*');
      expect(p.targets?.build?.dependsOn, p.name).toContain('build-bpf');
    }
  });

  it('every published package carries a boundary tag', () => {
    for (const p of projects().filter((p) => p.root.startsWith('packages/'))) {
      expect(p.tags?.filter((t) => BOUNDARY_TAGS.includes(t)), p.name).toHaveLength(1);
    }
  });
});
