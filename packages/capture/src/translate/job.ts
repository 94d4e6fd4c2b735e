/**
 * A Capture and one target node to the batch/v1 Job that captures there: pinned to the node, on the host
 * network, with the workload's environment, the hostPath/PVC volumes and the credential Secrets mounted. Pure:
 * the same Capture, node and start time always give the same Job (and the same Job name), which makes the
 * operator's create idempotent.
 */
import { createHash } from 'node:crypto';
import type { V1EnvVar, V1Job, V1OwnerReference, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import {
  ANNOTATION_FILENAME,
  ANNOTATION_HOSTPATH,
  ANNOTATION_TIMESTAMP,
  BLOB_SECRET_MOUNT_PATH,
  CaptureDefaults,
  DEFAULT_HOST_PATH_BASE_DIR,
  Env,
  LABEL_APP,
  LABEL_APP_CAPTURE,
  LABEL_CAPTURE_NAME,
  LABEL_CAPTURE_NODE,
  PVC_MOUNT_PATH,
  S3_SECRET_MOUNT_PATH,
} from '../model/constants.js';
import { andFilters, buildAddressFilter, buildSystemFilter } from '../model/filter.js';
import { resolveHostPath } from '../model/hostpath.js';
import { captureTarballName, formatCaptureTimestamp } from '../model/naming.js';
import { s3ObjectKey } from '../outputs/s3.js';
import { tcpdumpFlags } from '../model/tcpdump.js';
import type { Capture } from '../model/types.js';
import type { CaptureTargetNode } from './targets.js';

/** How capture Jobs are rendered. */
export interface JobRenderOptions {
  /** Image holding `retina-capture` and tcpdump (the agent image). */
  image: string;
  /** Container command (default `["retina-capture"]`). */
  command?: string[];
  /** Start time shared by all nodes of the capture; names the artifacts. */
  startTime: Date;
  hostPathBaseDir?: string;
  /** Secrets to mount: the blob SAS URL and the S3 credentials. */
  blobSecretName?: string;
  s3SecretName?: string;
  ownerReferences?: V1OwnerReference[];
  /** Job deadline; the CLI sets duration + 30 min. */
  activeDeadlineSeconds?: number;
  ttlSecondsAfterFinished?: number;
}

/** Labels of every Job (and Secret) belonging to a capture. */
export function captureLabels(captureName: string): Record<string, string> {
  return { [LABEL_APP]: LABEL_APP_CAPTURE, [LABEL_CAPTURE_NAME]: captureName };
}

/** Label selector matching a capture's Jobs. */
export function captureJobSelector(captureName: string): string {
  return `${LABEL_APP}=${LABEL_APP_CAPTURE},${LABEL_CAPTURE_NAME}=${captureName}`;
}

/** The Job name for a capture on a node: `<capture>-<8 hex>`, at most 63 characters. */
export function captureJobName(captureName: string, nodeName: string, startTime: Date): string {
  const hash = createHash('sha256').update(`${captureName}\0${nodeName}\0${formatCaptureTimestamp(startTime)}`).digest('hex');
  return `${captureName.slice(0, 54).replace(/[-.]+$/, '')}-${hash.slice(0, 8)}`;
}

/** The workload's environment for a capture on a target node. */
export function captureEnv(capture: Capture, target: CaptureTargetNode, o: JobRenderOptions): V1EnvVar[] {
  const cc = capture.spec.captureConfiguration;
  const opt = cc.captureOption ?? {};
  const out = capture.spec.outputConfiguration;
  const env: V1EnvVar[] = [
    { name: Env.CaptureName, value: capture.metadata.name },
    { name: Env.NodeHostName, value: target.nodeName },
    { name: Env.StartTimestamp, value: formatCaptureTimestamp(o.startTime) },
    { name: Env.PodName, valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    { name: Env.Namespace, valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
    { name: Env.IncludeMetadata, value: String(cc.includeMetadata ?? true) },
  ];
  const add = (name: string, value: string | number | undefined) => {
    if (value !== undefined && value !== '') env.push({ name, value: String(value) });
  };
  add(Env.Duration, opt.duration);
  add(Env.MaxSize, opt.maxCaptureSize);
  add(Env.FileCount, opt.fileCount);
  add(Env.PacketSize, opt.packetSize);
  add(Env.Interfaces, (opt.interfaces ?? []).join(','));
  add(
    Env.TcpdumpFilter,
    buildSystemFilter({ include: cc.filters?.include, exclude: cc.filters?.exclude, podIPs: target.podIPs }),
  );
  add(Env.TcpdumpRawFilter, cc.tcpdumpFilter);
  add(Env.PcapFilter, andFilters(opt.pcapFilter, buildAddressFilter(opt.sourceIPs, opt.destinationIPs)));
  add(Env.TcpdumpFlags, tcpdumpFlags(opt).join(' '));
  if (out.hostPath) add(Env.HostPath, resolveHostPath(o.hostPathBaseDir ?? DEFAULT_HOST_PATH_BASE_DIR, out.hostPath));
  add(Env.PersistentVolumeClaim, out.persistentVolumeClaim);
  if (out.s3Upload) {
    add(Env.S3Bucket, out.s3Upload.bucket);
    add(Env.S3Region, out.s3Upload.region);
    add(Env.S3Endpoint, out.s3Upload.endpoint);
    add(Env.S3Path, out.s3Upload.path ?? CaptureDefaults.s3Path);
  }
  return env;
}

/** Where a node's tarball will be stored, one entry per output, without credentials. */
export function expectedArtifacts(capture: Capture, nodeName: string, startTime: Date, hostPathBaseDir?: string): string[] {
  const file = captureTarballName(capture.metadata.name, nodeName, startTime);
  const out = capture.spec.outputConfiguration;
  const list: string[] = [];
  if (out.hostPath) list.push(`hostPath://${nodeName}${resolveHostPath(hostPathBaseDir ?? DEFAULT_HOST_PATH_BASE_DIR, out.hostPath)}/${file}`);
  if (out.persistentVolumeClaim) list.push(`pvc://${out.persistentVolumeClaim}/${file}`);
  if (out.blobUpload) list.push(`blob://${out.blobUpload}/${file}`);
  if (out.s3Upload) list.push(`s3://${out.s3Upload.bucket}/${s3ObjectKey(out.s3Upload.path ?? CaptureDefaults.s3Path, file)}`);
  return list;
}

/** Renders the Job capturing on `target`. */
export function renderCaptureJob(capture: Capture, target: CaptureTargetNode, o: JobRenderOptions): V1Job {
  const name = capture.metadata.name;
  if (target.os !== 'linux') {
    throw new Error(`node ${target.nodeName} runs ${target.os}: the capture workload runs on Linux nodes only`);
  }
  const namespace = capture.metadata.namespace ?? 'default';
  const out = capture.spec.outputConfiguration;
  const labels = { ...captureLabels(name), [LABEL_CAPTURE_NODE]: target.nodeName };
  const volumes: V1Volume[] = [];
  const mounts: V1VolumeMount[] = [];
  let hostPath: string | undefined;
  if (out.hostPath) {
    hostPath = resolveHostPath(o.hostPathBaseDir ?? DEFAULT_HOST_PATH_BASE_DIR, out.hostPath);
    volumes.push({ name: 'hostpath', hostPath: { path: hostPath, type: 'DirectoryOrCreate' } });
    mounts.push({ name: 'hostpath', mountPath: hostPath });
  }
  if (out.persistentVolumeClaim) {
    volumes.push({ name: 'pvc', persistentVolumeClaim: { claimName: out.persistentVolumeClaim } });
    mounts.push({ name: 'pvc', mountPath: PVC_MOUNT_PATH });
  }
  if (o.blobSecretName) {
    volumes.push({ name: 'blob-upload-secret', secret: { secretName: o.blobSecretName } });
    mounts.push({ name: 'blob-upload-secret', mountPath: BLOB_SECRET_MOUNT_PATH, readOnly: true });
  }
  if (o.s3SecretName) {
    volumes.push({ name: 's3-upload-secret', secret: { secretName: o.s3SecretName } });
    mounts.push({ name: 's3-upload-secret', mountPath: S3_SECRET_MOUNT_PATH, readOnly: true });
  }
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: captureJobName(name, target.nodeName, o.startTime),
      namespace,
      labels,
      ...(o.ownerReferences?.length ? { ownerReferences: o.ownerReferences } : {}),
    },
    spec: {
      backoffLimit: 0,
      ...(o.activeDeadlineSeconds ? { activeDeadlineSeconds: o.activeDeadlineSeconds } : {}),
      ...(o.ttlSecondsAfterFinished !== undefined ? { ttlSecondsAfterFinished: o.ttlSecondsAfterFinished } : {}),
      template: {
        metadata: {
          labels,
          annotations: {
            [ANNOTATION_FILENAME]: name,
            [ANNOTATION_TIMESTAMP]: formatCaptureTimestamp(o.startTime),
            ...(hostPath ? { [ANNOTATION_HOSTPATH]: hostPath } : {}),
          },
        },
        spec: {
          hostNetwork: true,
          hostIPC: true,
          // Deleting a capture stops tcpdump; the pod then has 30 minutes to pack and upload.
          terminationGracePeriodSeconds: 1800,
          restartPolicy: 'Never',
          affinity: {
            nodeAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: {
                nodeSelectorTerms: [
                  { matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [target.nodeName] }] },
                ],
              },
            },
          },
          tolerations: [
            { key: 'CriticalAddonsOnly', operator: 'Exists' },
            { operator: 'Exists', effect: 'NoExecute' },
            { operator: 'Exists', effect: 'NoSchedule' },
          ],
          containers: [
            {
              name: 'capture',
              image: o.image,
              imagePullPolicy: 'IfNotPresent',
              command: o.command ?? ['retina-capture'],
              env: captureEnv(capture, target, o),
              securityContext: { runAsUser: 0, capabilities: { add: ['NET_ADMIN', 'SYS_ADMIN'] } },
              resources: { requests: { cpu: '10m', memory: '64Mi' }, limits: { cpu: '100m', memory: '300Mi' } },
              volumeMounts: mounts,
            },
          ],
          volumes,
        },
      },
    },
  };
}
