// Checks of the image build's inputs without building: the scripts parse, each image gets the packages the plan
// promises, and what `npm pack` would put in those tarballs is enough to install and run them in the image.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
// @ts-expect-error plan.mjs is plain JavaScript run by the build script; its shapes are checked here.
import { IMAGES, buildOrder, imagePackages, imageVersion, packageWithBin, workspacePackages } from '../plan.mjs';

const run = promisify(execFile);
const here = fileURLToPath(new URL('..', import.meta.url));
const root = join(here, '..', '..');

interface Pkg {
  name: string;
  private?: boolean;
  version: string;
  bin?: Record<string, string>;
  files?: string[];
  retina?: { plugin?: string };
}
interface Planned {
  name: string;
  dir: string;
  pkg: Pkg;
}
const plan = (image: string): Planned[] => imagePackages(image, root) as Planned[];
const names = (image: string) => plan(image).map((p) => p.name);

async function packedFiles(dir: string): Promise<string[]> {
  const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: join(root, dir),
    encoding: 'utf8',
  });
  const [report] = JSON.parse(stdout) as { files: { path: string }[] }[];
  return report!.files.map((f) => f.path);
}

describe('build scripts', () => {
  it.each(['build', 'test-images'])('%s parses as bash', async (script) => {
    await expect(run('bash', ['-n', join(here, script)])).resolves.toBeDefined();
  });

  it('pins an even (LTS) Node.js 20 or 22 with its registry integrity', () => {
    const script = readFileSync(join(here, 'build'), 'utf8');
    const version = /^NODE_VERSION=(\d+)\.(\d+)\.(\d+)$/m.exec(script);
    expect(version, 'NODE_VERSION=x.y.z line').not.toBeNull();
    expect(['20', '22']).toContain(version![1]);
    expect(script).toMatch(/^NODE_INTEGRITY='sha512-[A-Za-z0-9+/]{86}=='$/m);
  });

  it('runs the agent with the ConfigMap path of the DaemonSet by default', () => {
    const script = readFileSync(join(here, 'build'), 'utf8');
    expect(script).toContain(`'["retina-agent","--config","/retina/config/config.yaml"]'`);
  });
});

describe('shell image', () => {
  const script = readFileSync(join(here, 'build'), 'utf8');
  const debs = /^SHELL_DEBS=(\S+)$/m.exec(script)?.[1]?.split(',') ?? [];

  it('is retina-ts-shell, built from Debian packages only: no workspace package, no command of ours', () => {
    expect((IMAGES as Record<string, { name: string; bins: string[] }>).shell).toEqual({ name: 'retina-ts-shell', bins: [] });
    expect(plan('shell')).toEqual([]);
    expect((buildOrder(['shell'], root) as Planned[]).map((p) => p.name)).toEqual([]);
  });

  it('installs the network tools kubectl retina shell offers, and no Node.js', () => {
    expect(debs).toEqual(expect.arrayContaining(['iproute2', 'iputils-ping', 'dnsutils', 'curl', 'ca-certificates', 'bpftool',
      'tcpdump', 'iptables', 'nftables', 'ethtool', 'netcat-openbsd', 'conntrack', 'procps']));
    expect(debs.filter((d) => /node/.test(d))).toEqual([]);
  });

  it('is built by `build shell` without the Node.js and package steps, and runs bash by default', () => {
    expect(script).toMatch(/shell\) ;;/);
    expect(script).toContain('[ ${#node_images[@]} -eq 0 ] || snapshot_build');
    expect(script).toContain(`commit_image shell "$work/$image-rootfs.tar" "$work/$image-app" '["bash"]'`);
    expect(script).toMatch(/^\[ \$\{#images\[@\]\} -gt 0 \] \|\| images=\(agent operator shell\)$/m);
  });
});

describe('image plan', () => {
  it('versions the images like packages/agent', () => {
    const agent = JSON.parse(readFileSync(join(root, 'packages/agent/package.json'), 'utf8')) as Pkg;
    expect(imageVersion(root)).toBe(agent.version);
  });

  it('puts the retina-agent package, every official plugin and the capture workload in the agent image', () => {
    const all = [...(workspacePackages(root) as Map<string, { pkg: Pkg }>).values()].map((p) => p.pkg);
    const plugins = all.filter((p) => p.retina?.plugin).map((p) => p.name);
    expect(plugins.length).toBeGreaterThanOrEqual(6);
    const agent = names('agent');
    const bin = (packageWithBin(workspacePackages(root), 'retina-agent') as { pkg: Pkg }).pkg.name;
    expect(agent).toEqual(expect.arrayContaining([bin, ...plugins, '@retina-ts/capture', '@retina-ts/bpf-runtime']));
    expect(agent).not.toContain('@retina-ts/operator');
  });

  it('keeps the operator image to the operator, kubectl-retina and what they import', () => {
    const operator = names('operator');
    expect(operator).toEqual(expect.arrayContaining(['@retina-ts/operator', '@retina-ts/kubectl-retina']));
    expect(operator.filter((n) => n.includes('plugin-') || n === '@retina-ts/bpf-runtime')).toEqual([]);
  });

  it('closes over workspace dependencies and never includes a private package', () => {
    for (const image of Object.keys(IMAGES)) {
      const planned = new Set(names(image));
      for (const { pkg } of plan(image)) {
        expect(pkg.private, pkg.name).toBeFalsy();
        const deps = Object.keys({ ...(pkg as { dependencies?: object }).dependencies });
        for (const dep of deps.filter((d) => d.startsWith('@retina-ts/'))) expect(planned, `${pkg.name} → ${dep}`).toContain(dep);
      }
    }
  });

  it('builds every package of both images once, each after the workspace packages it depends on', () => {
    const order = (buildOrder(Object.keys(IMAGES), root) as Planned[]).map((p) => p.name);
    expect(new Set(order).size).toBe(order.length);
    expect([...order].sort()).toEqual([...new Set([...names('agent'), ...names('operator')])].sort());
    for (const { name, pkg } of [...plan('agent'), ...plan('operator')]) {
      const deps = Object.keys({ ...(pkg as { dependencies?: object }).dependencies }).filter((d) => order.includes(d));
      for (const dep of deps) expect(order.indexOf(dep), `${dep} before ${name}`).toBeLessThan(order.indexOf(name));
    }
  });

  it('finds each command of an image in exactly one planned package, inside its published files', () => {
    for (const [image, spec] of Object.entries(IMAGES as Record<string, { bins: string[] }>)) {
      for (const bin of spec.bins) {
        const owners = plan(image).filter((p) => p.pkg.bin?.[bin]);
        expect(owners.map((o) => o.name), `${image}: ${bin}`).toHaveLength(1);
        const target = owners[0]!.pkg.bin![bin]!.replace(/^\.\//, '');
        expect(owners[0]!.pkg.files?.some((f) => target === f || target.startsWith(`${f}/`)), target).toBe(true);
      }
    }
  });
});

describe('packed tarballs', () => {
  it('ship bpf-runtime with what its install script compiles the addon from, and no host build', async () => {
    const files = await packedFiles('packages/bpf-runtime');
    expect(files).toEqual(expect.arrayContaining(['binding.gyp', 'scripts/install.mjs', 'scripts/preflight.mjs']));
    expect(files.filter((f) => f.startsWith('native/') && f.endsWith('.cc')).length).toBeGreaterThan(0);
    expect(files.filter((f) => f.startsWith('build/') || f.startsWith('src/') || f.startsWith('test/'))).toEqual([]);
  });

  it('publish only built output for every package of either image (tools/check-pack.mjs checks the tarballs)', () => {
    for (const { name, pkg } of [...plan('agent'), ...plan('operator')]) {
      expect(pkg.files, name).toContain('dist');
      expect(pkg.files!.filter((f) => /^(\.\/)?(src|test)(\/|$)/.test(f)), name).toEqual([]);
    }
  });
});
