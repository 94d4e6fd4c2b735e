#!/usr/bin/env node
// Which workspace packages go into each image, read from the package.json files rather than kept as a list: the
// package that provides the `retina-agent` bin, every package declaring `"retina": { "plugin": … }`, the capture
// workload and the operator packages, each with the @retina-ts packages they depend on.
//
//   node tools/build-images/plan.mjs <agent|operator|shell>   prints the package directories, one a line
//   node tools/build-images/plan.mjs bins <image>         prints the commands the image links into /usr/local/bin
//   node tools/build-images/plan.mjs order <image>...   prints the package directories of those images, each after the
//                                                       workspace packages it depends on (the build order)
//   node tools/build-images/plan.mjs version            prints the image version (packages/agent/package.json)
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const defaultRoot = fileURLToPath(new URL('../..', import.meta.url));

/** The image names (without tag) and what each must offer on PATH. */
export const IMAGES = {
  // retina-bpf: the chart's init container runs `retina-bpf cleanup` from the agent image.
  agent: { name: 'retina-ts-agent', bins: ['retina-agent', 'retina-capture', 'retina-bpf'] },
  operator: { name: 'retina-ts-operator', bins: ['retina-operator', 'kubectl-retina'] },
  // `kubectl retina shell`'s image: Debian's network tools only, no Node.js and no workspace package.
  shell: { name: 'retina-ts-shell', bins: [] },
};

/** Every public workspace package under packages/: name → { dir, pkg }. */
export function workspacePackages(root = defaultRoot) {
  const out = new Map();
  for (const entry of readdirSync(join(root, 'packages')).sort()) {
    const file = join(root, 'packages', entry, 'package.json');
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, 'utf8'));
    if (pkg.private) continue;
    out.set(pkg.name, { dir: `packages/${entry}`, pkg });
  }
  return out;
}

function binNames(pkg) {
  if (!pkg.bin) return [];
  return typeof pkg.bin === 'string' ? [pkg.name.replace(/^@[^/]+\//, '')] : Object.keys(pkg.bin);
}

/** The workspace package providing `bin`; an error naming the bin when none or several do. */
export function packageWithBin(packages, bin) {
  const found = [...packages.values()].filter(({ pkg }) => binNames(pkg).includes(bin));
  if (found.length !== 1) {
    throw new Error(
      `expected exactly one package under packages/ with the "${bin}" bin, found ${found.length}` +
        (found.length ? `: ${found.map((f) => f.pkg.name).join(', ')}` : ''),
    );
  }
  return found[0];
}

/** `roots` and every workspace package they depend on (dependencies, optional and peer), sorted by name. */
export function withWorkspaceDependencies(packages, roots) {
  const seen = new Set();
  const visit = (name) => {
    if (seen.has(name) || !packages.has(name)) return;
    seen.add(name);
    const { pkg } = packages.get(name);
    for (const field of ['dependencies', 'optionalDependencies', 'peerDependencies']) {
      for (const dep of Object.keys(pkg[field] ?? {})) visit(dep);
    }
  };
  roots.forEach(visit);
  return [...seen].sort().map((name) => ({ name, ...packages.get(name) }));
}

/** The packages of one image, each `{ name, dir, pkg }`. */
export function imagePackages(image, root = defaultRoot) {
  const packages = workspacePackages(root);
  const spec = IMAGES[image];
  if (!spec) throw new Error(`unknown image "${image}"; known: ${Object.keys(IMAGES).join(', ')}`);
  const roots = spec.bins.map((bin) => packageWithBin(packages, bin).pkg.name);
  if (image === 'agent') {
    roots.push(...[...packages.values()].filter(({ pkg }) => pkg.retina?.plugin).map(({ pkg }) => pkg.name));
  }
  return withWorkspaceDependencies(packages, roots);
}

/** The packages of the given images, each listed after the workspace packages it depends on. */
export function buildOrder(images, root = defaultRoot) {
  const planned = new Map();
  for (const image of images) for (const p of imagePackages(image, root)) planned.set(p.name, p);
  const order = [];
  const done = new Set();
  const visit = (name) => {
    if (done.has(name) || !planned.has(name)) return;
    done.add(name);
    const { pkg } = planned.get(name);
    for (const field of ['dependencies', 'optionalDependencies', 'peerDependencies', 'devDependencies']) {
      for (const dep of Object.keys(pkg[field] ?? {}).sort()) visit(dep);
    }
    order.push(planned.get(name));
  };
  [...planned.keys()].sort().forEach(visit);
  return order;
}

/** The image version: packages/agent/package.json's version. */
export function imageVersion(root = defaultRoot) {
  return JSON.parse(readFileSync(join(root, 'packages', 'agent', 'package.json'), 'utf8')).version;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [what, arg] = process.argv.slice(2);
  // The build script plans from the source snapshot it builds, not from this checkout.
  const root = process.env.RETINA_IMAGES_ROOT || defaultRoot;
  try {
    if (what === 'version') console.log(imageVersion(root));
    else if (what === 'bins') console.log((IMAGES[arg]?.bins ?? []).join(' '));
    else if (what === 'name') console.log(IMAGES[arg]?.name ?? '');
    else if (what === 'order') console.log(buildOrder(process.argv.slice(3), root).map((p) => p.dir).join('\n'));
    else console.log(imagePackages(what, root).map((p) => p.dir).join('\n'));
  } catch (err) {
    console.error(`plan.mjs: ${err.message}`);
    process.exit(1);
  }
}
