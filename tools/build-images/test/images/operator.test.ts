// The operator image: small, and its two commands start. Needs the built dist/images/retina-ts-operator.tar.
import { beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error plan.mjs is plain JavaScript run by the build script.
import { imageVersion } from '../../plan.mjs';
import { RUN_LIMITS, imageSize, loadImage, podman, root } from './podman.js';

const version = imageVersion(root) as string;
let ref: string;

beforeAll(() => {
  ref = loadImage('retina-ts-operator', version);
});

describe('retina-ts-operator image', () => {
  it('is smaller than the agent image budget by far', () => {
    const size = imageSize(ref);
    console.log(`${ref}: ${(size / 1e6).toFixed(1)} MB uncompressed`);
    expect(size).toBeLessThan(200_000_000);
  });

  it('runs retina-operator by default and has kubectl-retina', () => {
    const config = podman(['image', 'inspect', '--format', '{{json .Config.Cmd}}', ref]).stdout.trim();
    expect(JSON.parse(config)).toEqual(['retina-operator']);
    expect(podman(['run', '--rm', ...RUN_LIMITS, ref, 'retina-operator', '--version']).stdout.trim()).toBe(version);
    expect(podman(['run', '--rm', ...RUN_LIMITS, ref, 'kubectl-retina', '--help']).stdout).toContain('capture');
  });
});
