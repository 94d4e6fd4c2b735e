// podman as the image tests use it. On this kind of host podman needs runc (crun refuses a hybrid cgroup layout)
// and limits no higher than the host allows; a real cluster needs neither.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run, type CommandResult } from '@retina-ts/testkit';

export const root = fileURLToPath(new URL('../../../..', import.meta.url));
export const imagesDir = join(root, 'dist', 'images');

export const RUN_LIMITS = ['--ulimit', 'nofile=4096:4096', '--ulimit', 'nproc=4096:4096'];

export function podman(args: string[], options: { allowFailure?: boolean; timeoutMs?: number } = {}): CommandResult {
  return run('podman', ['--runtime', 'runc', ...args], { timeoutMs: 120_000, ...options });
}

/** Loads dist/images/<name>.tar and returns the reference it was tagged with. */
export function loadImage(name: string, version: string): string {
  const archive = join(imagesDir, `${name}.tar`);
  if (!existsSync(archive)) throw new Error(`${archive} is missing: build it first with tools/build-images/build`);
  podman(['load', '--quiet', '--input', archive]);
  const ref = `localhost/${name}:${version}`;
  podman(['image', 'exists', ref]);
  return ref;
}

/** Uncompressed size in bytes as podman reports it. */
export function imageSize(ref: string): number {
  return Number(podman(['image', 'inspect', '--format', '{{.Size}}', ref]).stdout.trim());
}
