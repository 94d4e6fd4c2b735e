/**
 * The operator against the Kubernetes API server double: Capture resources become Jobs on the selected nodes,
 * status follows the Jobs, limits and invalid specs are reported in status, and deleting a Capture deletes its
 * Jobs, all through the real client's informers and requests.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { KubeObject } from '@retina-ts/k8s-apiserver-double';
import { useApiServerDouble } from './api-double.js';
import { createLogger } from '@retina-ts/core';
import type { Capture, CaptureStatus } from '@retina-ts/capture';
import { CaptureController, CaptureReconciler, DEFAULT_OPERATOR_CONFIG, type OperatorConfig } from '../src/index.js';

const cluster = useApiServerDouble({ prefix: 'operator', insecureSkipTlsVerify: true });
let controller: CaptureController | undefined;
const logger = createLogger({ level: 'silent' });

type Job = KubeObject & {
  metadata: KubeObject['metadata'] & { ownerReferences?: { kind: string; name: string; uid: string }[] };
  spec: { template: { spec: { containers: { env: { name: string; value?: string }[] }[] } } };
  status?: unknown;
};
type CaptureObj = Capture & KubeObject & { status?: CaptureStatus };

const node = (name: string, labels: Record<string, string> = {}): KubeObject => ({
  metadata: { name, labels: { 'kubernetes.io/os': 'linux', 'kubernetes.io/hostname': name, ...labels } },
});
const capture = (name: string, spec: Partial<Capture['spec']> = {}): KubeObject => ({
  metadata: { name, namespace: 'team' },
  spec: {
    captureConfiguration: {
      captureTarget: { nodeSelector: { matchLabels: { pool: 'gpu' } } },
      captureOption: { duration: '1m' },
    },
    outputConfiguration: { hostPath: 'retina' },
    ...spec,
  },
});
const jobsOf = (name: string) => cluster.api.list<Job>('jobs').filter((j) => j.metadata.labels?.['capture-name'] === name);
const statusOf = (name: string) => cluster.api.get<CaptureObj>('captures', 'team', name).status;
const condition = (name: string, type: string) => statusOf(name)?.conditions?.find((c) => c.type === type);

async function startOperator(config: Partial<OperatorConfig> = {}) {
  const reconciler = new CaptureReconciler(cluster.kc, {
    config: { ...DEFAULT_OPERATOR_CONFIG, ...config },
    logger,
    image: 'example.test/agent:dev',
  });
  controller = new CaptureController(cluster.kc, reconciler, { logger, retryMs: 20, maxRetryMs: 200, informerRestartMs: 50 });
  await controller.start();
}

beforeEach(() => {
  for (const n of [node('n1'), node('n2', { pool: 'gpu' }), node('n3', { pool: 'gpu' })]) cluster.api.apply('nodes', n);
});
afterEach(async () => {
  await controller?.stop();
  controller = undefined;
  for (const r of ['jobs', 'captures', 'secrets']) {
    for (const o of cluster.api.list(r)) {
      // With the operator stopped nobody removes the finalizer; drop it so the next test starts clean.
      if (o.metadata.finalizers) cluster.api.modify(r, o.metadata.namespace, o.metadata.name, (x) => void delete x.metadata.finalizers);
      cluster.api.delete(r, o.metadata.namespace, o.metadata.name);
    }
  }
});

describe('capture operator', () => {
  it('turns a Capture into Jobs on the selected nodes and follows them to completion', async () => {
    await startOperator();
    const created = cluster.api.create('captures', capture('web'));
    await cluster.api.waitFor(() => jobsOf('web').length === 2, 'two capture jobs');
    const jobs = jobsOf('web');
    expect(jobs.map((j) => j.metadata.labels?.['retina.sh/capture-node']).sort()).toEqual(['n2', 'n3']);
    for (const j of jobs) {
      expect(j.metadata.ownerReferences).toEqual([
        expect.objectContaining({ kind: 'Capture', name: 'web', uid: created.metadata.uid }),
      ]);
      const env = Object.fromEntries(j.spec.template.spec.containers[0]!.env.map((e) => [e.name, e.value]));
      expect(env).toMatchObject({ CAPTURE_NAME: 'web', CAPTURE_DURATION: '1m', HOSTPATH: '/var/log/retina/captures/retina' });
    }
    await cluster.api.waitFor(() => statusOf('web')?.active === 2, 'status with two active jobs');
    expect(condition('web', 'complete')).toMatchObject({
      status: 'False',
      reason: 'JobsInProgress',
      message: '2/2 Capture jobs are in progress, waiting for completion',
    });
    const c = cluster.api.get<CaptureObj>('captures', 'team', 'web');
    expect(c.metadata.finalizers).toEqual(['kappio.io/capture-cleanup']);
    const stamp = jobs[0]!.spec.template.spec.containers[0]!.env.find((e) => e.name === 'CAPTURE_START_TIMESTAMP')!.value;
    expect(c.status!.nodes).toEqual([
      { nodeName: 'n2', jobName: expect.any(String), phase: 'Pending', artifacts: [`hostPath://n2/var/log/retina/captures/retina/web-n2-${stamp}.tar.gz`] },
      { nodeName: 'n3', jobName: expect.any(String), phase: 'Pending', artifacts: [`hostPath://n3/var/log/retina/captures/retina/web-n3-${stamp}.tar.gz`] },
    ]);

    cluster.api.modify<Job>('jobs', 'team', jobs[0]!.metadata.name, (j) => void (j.status = { active: 1 }));
    cluster.api.modify<Job>('jobs', 'team', jobs[1]!.metadata.name, (j) => {
      j.status = { succeeded: 1, completionTime: '2024-01-01T00:00:10Z', conditions: [{ type: 'Complete', status: 'True' }] };
    });
    await cluster.api.waitFor(() => statusOf('web')?.succeeded === 1 && statusOf('web')?.active === 1, 'one job done');
    expect(condition('web', 'complete')?.message).toBe('1/2 Capture jobs are in progress, waiting for completion');

    cluster.api.modify<Job>('jobs', 'team', jobs[0]!.metadata.name, (j) => {
      j.status = { succeeded: 1, completionTime: '2024-01-01T00:00:20Z', conditions: [{ type: 'Complete', status: 'True' }] };
    });
    await cluster.api.waitFor(() => condition('web', 'complete')?.status === 'True', 'capture complete');
    expect(statusOf('web')).toMatchObject({ active: 0, succeeded: 2, failed: 0, completionTime: '2024-01-01T00:00:20Z' });
    expect(condition('web', 'complete')).toMatchObject({ reason: 'JobsCompleted', message: 'All 2 Capture jobs are completed' });
    // Reconciling again changes nothing: no new jobs.
    controller!.queue.add('team/web');
    await controller!.queue.idle();
    expect(jobsOf('web')).toHaveLength(2);
  });

  it('reports failed jobs in the error condition', async () => {
    await startOperator();
    cluster.api.create('captures', capture('bad-run'));
    await cluster.api.waitFor(() => jobsOf('bad-run').length === 2, 'jobs');
    for (const j of jobsOf('bad-run')) cluster.api.modify<Job>('jobs', 'team', j.metadata.name, (x) => void (x.status = { failed: 1 }));
    await cluster.api.waitFor(() => condition('bad-run', 'error')?.status === 'True', 'error condition');
    expect(condition('bad-run', 'error')).toMatchObject({ reason: 'JobsFailed', message: '2 Capture jobs are in failed state' });
    expect(statusOf('bad-run')).toMatchObject({ failed: 2, active: 0 });
  });

  it('deletes the Jobs of a deleted Capture, and leaves Jobs the CLI made alone', async () => {
    cluster.api.create('jobs', {
      metadata: { name: 'cli-made-1', namespace: 'team', labels: { 'retina.sh/app': 'capture', 'capture-name': 'cli-made' } },
      spec: { template: { spec: { containers: [] } } },
    });
    await startOperator();
    cluster.api.create('captures', capture('temp'));
    await cluster.api.waitFor(() => jobsOf('temp').length === 2, 'jobs');
    cluster.api.delete('captures', 'team', 'temp');
    await cluster.api.waitFor(() => jobsOf('temp').length === 0, 'jobs deleted with their capture');
    await controller!.queue.idle();
    expect(jobsOf('cli-made').map((j) => j.metadata.name)).toEqual(['cli-made-1']);
  });

  it('holds a deleted Capture by its finalizer until its Jobs are deleted', async () => {
    await startOperator();
    cluster.api.create('captures', capture('held'));
    await cluster.api.waitFor(() => jobsOf('held').length === 2 && cluster.api.get('captures', 'team', 'held').metadata.finalizers !== undefined, 'jobs and finalizer');
    cluster.api.delete('captures', 'team', 'held');
    // The API server only marks it: the finalizer keeps it until the operator has cleaned up.
    const marked = cluster.api.get<CaptureObj>('captures', 'team', 'held');
    expect(marked.metadata.deletionTimestamp).toEqual(expect.any(String));
    expect(marked.metadata.finalizers).toEqual(['kappio.io/capture-cleanup']);
    await cluster.api.waitFor(() => !cluster.api.list('captures').some((c) => c.metadata.name === 'held'), 'capture gone once finalized');
    expect(jobsOf('held')).toEqual([]);
    // The finalizer came off with an update that carried the marked version, after the jobs were deleted.
    const jobDeletes = cluster.api.requests({ resource: 'jobs.batch', verb: 'delete' }).length;
    expect(jobDeletes).toBeGreaterThanOrEqual(2);
  });

  it('honours captureJobNumLimit', async () => {
    await startOperator({ captureJobNumLimit: 1 });
    cluster.api.create('captures', capture('big'));
    await cluster.api.waitFor(() => condition('big', 'error') !== undefined, 'error condition');
    expect(condition('big', 'error')).toMatchObject({
      status: 'True',
      reason: 'ExceedJobNumLimit',
      message: 'the number of capture jobs 2 exceeds the limit 1',
    });
    expect(jobsOf('big')).toEqual([]);
  });

  it('rejects an invalid spec with the field in the status', async () => {
    await startOperator();
    cluster.api.create('captures', capture('escape', { outputConfiguration: { hostPath: '../../etc' } }));
    await cluster.api.waitFor(() => condition('escape', 'error') !== undefined, 'error condition');
    expect(condition('escape', 'error')).toMatchObject({ reason: 'InvalidSpec' });
    expect(condition('escape', 'error')!.message).toMatch(/^spec.outputConfiguration.hostPath: "..\/..\/etc" must not contain/);
    expect(jobsOf('escape')).toEqual([]);
  });

  it('reports a missing upload secret', async () => {
    await startOperator();
    cluster.api.create('captures', capture('blob', { outputConfiguration: { blobUpload: 'no-such-secret' } }));
    await cluster.api.waitFor(() => condition('blob', 'error') !== undefined, 'error condition');
    expect(condition('blob', 'error')).toMatchObject({
      reason: 'FindSecretFailed',
      message: 'secret of Capture is not found when blobupload is enabled, secretName: no-such-secret/team',
    });
  });

  it('runs a Capture whose upload secrets exist, mounting them into the Jobs', async () => {
    cluster.api.create('secrets', { metadata: { name: 'blob-sas', namespace: 'team' }, data: { 'blob-upload-url': Buffer.from('https://x/c?sig=s').toString('base64') } });
    cluster.api.create('secrets', { metadata: { name: 's3-creds', namespace: 'team' }, data: {} });
    await startOperator();
    cluster.api.create('captures', capture('up', { outputConfiguration: { hostPath: 'retina', blobUpload: 'blob-sas', s3Upload: { bucket: 'b', region: 'r', secretName: 's3-creds' } } }));
    await cluster.api.waitFor(() => jobsOf('up').length === 2 && statusOf('up')?.active === 2, 'jobs running');
    expect(condition('up', 'error')).toBeUndefined();
    for (const j of jobsOf('up')) {
      const volumes = (j.spec.template.spec as { volumes?: { name: string; secret?: { secretName: string } }[] }).volumes ?? [];
      expect(volumes.filter((v) => v.secret).map((v) => v.secret!.secretName).sort()).toEqual(['blob-sas', 's3-creds']);
    }
    expect(JSON.stringify(statusOf('up'))).not.toContain('sig=s');
  });

  it('cleans up after upload once every job succeeded', async () => {
    await startOperator();
    cluster.api.create('captures', capture('tidy', { outputConfiguration: { persistentVolumeClaim: 'claim' }, cleanUpAfterUpload: true }));
    await cluster.api.waitFor(() => jobsOf('tidy').length === 2, 'jobs');
    for (const j of jobsOf('tidy')) cluster.api.modify<Job>('jobs', 'team', j.metadata.name, (x) => void (x.status = { succeeded: 1 }));
    await cluster.api.waitFor(() => cluster.api.list('captures').length === 0 && jobsOf('tidy').length === 0, 'capture and jobs deleted');
  });
});
