// The operator image: small, its two commands start, and the default command runs the operator against the
// Kubernetes API server double: it reaches ready and turns a Capture into capture Jobs of the agent image. Needs the
// built dist/images/retina-ts-operator.tar.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServerDouble, writeKubeconfig, type ApiServerDouble, type KubeObject } from '@retina-ts/k8s-apiserver-double';
import { waitFor } from '@retina-ts/testkit';
// @ts-expect-error plan.mjs is plain JavaScript run by the build script.
import { imageVersion } from '../../plan.mjs';
import { RUN_LIMITS, imageSize, loadImage, podman, root } from './podman.js';

const version = imageVersion(root) as string;
let ref: string;
let api: ApiServerDouble;
let scratch: string;

beforeAll(async () => {
  ref = loadImage('retina-ts-operator', version);
  api = await startApiServerDouble();
  scratch = mkdtempSync(join(tmpdir(), 'retina-operator-image-'));
});

afterAll(async () => {
  await api?.close();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

/** A loopback port nothing listens on right now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function status(url: string): Promise<number> {
  try {
    return (await fetch(url)).status;
  } catch {
    return 0;
  }
}

type Job = KubeObject & {
  spec: { template: { spec: { containers: { image: string; command?: string[] }[] } } };
};

describe('retina-ts-operator image', () => {
  it('is under the agent image\'s budget of 250 MB uncompressed', () => {
    const size = imageSize(ref);
    console.log(`${ref}: ${(size / 1e6).toFixed(1)} MB uncompressed`);
    expect(size).toBeLessThan(250_000_000);
  });

  it('runs retina-operator by default and has kubectl-retina', () => {
    const config = podman(['image', 'inspect', '--format', '{{json .Config.Cmd}}', ref]).stdout.trim();
    expect(JSON.parse(config)).toEqual(['retina-operator']);
    expect(podman(['run', '--rm', ...RUN_LIMITS, ref, 'retina-operator', '--version']).stdout.trim()).toBe(version);
    expect(podman(['run', '--rm', ...RUN_LIMITS, ref, 'kubectl-retina', '--help']).stdout).toContain('capture');
  });

  it('reaches ready against the API server, creates the capture Jobs of a Capture and exits 0 on SIGTERM', async () => {
    const kubeconfig = await writeKubeconfig(join(scratch, 'kubeconfig'), { server: api.url });
    const probePort = await freePort();
    api.apply('nodes', { metadata: { name: 'image-node', labels: { 'kubernetes.io/os': 'linux', 'kubernetes.io/hostname': 'image-node', pool: 'capture' } } });
    const name = `retina-image-operator-${process.pid}-${Date.now()}`;
    // The host's network, so the operator reaches the double on loopback as a pod reaches its API server.
    podman(['run', '--detach', '--name', name, ...RUN_LIMITS, '--network=host', '--cap-drop=all',
      '-v', `${kubeconfig}:/kube/config:ro`, ref,
      'retina-operator', '--kubeconfig', '/kube/config', '--probe-addr', `127.0.0.1:${probePort}`]);
    try {
      // waitFor polls synchronously; the probe is an HTTP request, so poll here.
      for (const deadline = Date.now() + 60_000; (await status(`http://127.0.0.1:${probePort}/readyz`)) !== 200; ) {
        if (podman(['inspect', '--format', '{{.State.Running}}', name]).stdout.trim() !== 'true') {
          throw new Error(`the operator exited: ${podman(['logs', name], { allowFailure: true }).stderr}`);
        }
        if (Date.now() > deadline) throw new Error('timed out waiting for the operator\'s /readyz to answer 200');
        await sleep(200);
      }
      expect(await status(`http://127.0.0.1:${probePort}/healthz`)).toBe(200);

      api.create('captures', {
        metadata: { name: 'image-test', namespace: 'default' },
        spec: {
          captureConfiguration: {
            captureTarget: { nodeSelector: { matchLabels: { pool: 'capture' } } },
            captureOption: { duration: '10s' },
          },
          outputConfiguration: { hostPath: 'image-test' },
        },
      });
      let jobs: Job[] = [];
      await waitFor(() => (jobs = api.list<Job>('jobs')).length > 0, {
        timeoutMs: 30_000,
        description: 'a capture Job for the Capture',
      });
      expect(jobs).toHaveLength(1);
      expect(jobs[0]!.spec.template.spec.containers[0]!.image).toBe(`ghcr.io/retina-ts/retina-ts-agent:${version}`);

      podman(['stop', '--time', '30', name]);
      expect(podman(['inspect', '--format', '{{.State.ExitCode}}', name]).stdout.trim()).toBe('0');
    } finally {
      const logs = podman(['logs', name], { allowFailure: true });
      if (process.env.RETINA_IMAGE_TEST_LOGS === '1') console.log(logs.stdout, logs.stderr);
      podman(['rm', '--force', name], { allowFailure: true });
    }
  });
});
