/**
 * Capture status from its Jobs (pure): counts, per-node phase and artifacts, and Retina's `complete`/`error`
 * conditions with the same reasons and messages.
 */
import type { V1Job } from '@kubernetes/client-node';
import { LABEL_CAPTURE_NODE } from '../model/constants.js';
import {
  CaptureConditionReason,
  CaptureConditionType,
  type CaptureCondition,
  type CaptureNodeStatus,
  type CaptureStatus,
} from '../model/types.js';

/** The phase of one capture Job. */
export function jobPhase(job: V1Job): CaptureNodeStatus['phase'] {
  const conds = job.status?.conditions ?? [];
  const has = (type: string) => conds.some((c) => c.type === type && c.status === 'True');
  if (has('Complete') || (job.status?.succeeded ?? 0) > 0) return 'Succeeded';
  if (has('Failed') || (job.status?.failed ?? 0) > 0) return 'Failed';
  if ((job.status?.active ?? 0) > 0) return 'Running';
  return 'Pending';
}

// RFC 3339 with whole seconds, as the API server writes metav1.Time.
const toIso = (t: Date | string | undefined): string | undefined =>
  t === undefined ? undefined : new Date(t).toISOString().replace(/\.\d+Z$/, 'Z');

/** Replaces a condition, keeping its lastTransitionTime when its status did not change. */
export function setCondition(conditions: CaptureCondition[], next: CaptureCondition): CaptureCondition[] {
  const prev = conditions.find((c) => c.type === next.type);
  const merged = prev && prev.status === next.status ? { ...next, lastTransitionTime: prev.lastTransitionTime } : next;
  return [...conditions.filter((c) => c.type !== next.type), merged];
}

/** Inputs of captureStatusFromJobs. */
export interface StatusInput {
  jobs: readonly V1Job[];
  previous?: CaptureStatus;
  startTime: string;
  now: Date;
  /** Where each node's tarball goes. */
  artifacts?: (nodeName: string) => string[];
  generation?: number;
}

/** The Capture status for its Jobs. */
export function captureStatusFromJobs(input: StatusInput): CaptureStatus {
  const now = input.now.toISOString().replace(/\.\d+Z$/, 'Z');
  let active = 0;
  let succeeded = 0;
  let failed = 0;
  let lastCompletion: string | undefined;
  const nodes: CaptureNodeStatus[] = [];
  for (const job of input.jobs) {
    const phase = jobPhase(job);
    if (phase === 'Succeeded') {
      succeeded++;
      const t = toIso(job.status?.completionTime as Date | string | undefined);
      if (t && (!lastCompletion || t > lastCompletion)) lastCompletion = t;
    } else if (phase === 'Failed') failed++;
    else active++;
    const nodeName = job.metadata?.labels?.[LABEL_CAPTURE_NODE] ?? '';
    const artifacts = input.artifacts?.(nodeName) ?? [];
    nodes.push({ nodeName, jobName: job.metadata?.name ?? '', phase, ...(artifacts.length ? { artifacts } : {}) });
  }
  nodes.sort((a, b) => a.nodeName.localeCompare(b.nodeName));
  const total = input.jobs.length;
  const cond = (type: string, status: CaptureCondition['status'], reason: string, message: string): CaptureCondition => ({
    type,
    status,
    reason,
    message,
    lastTransitionTime: now,
    ...(input.generation !== undefined ? { observedGeneration: input.generation } : {}),
  });
  let conditions = [...(input.previous?.conditions ?? [])].filter((c) => c.type === CaptureConditionType.Complete || c.type === CaptureConditionType.Error);
  if (active > 0) {
    conditions = setCondition(
      conditions,
      cond(CaptureConditionType.Complete, 'False', CaptureConditionReason.JobsInProgress, `${active}/${total} Capture jobs are in progress, waiting for completion`),
    );
  } else if (failed > 0) {
    const msg = `${failed} Capture jobs are in failed state`;
    conditions = setCondition(conditions, cond(CaptureConditionType.Complete, 'False', CaptureConditionReason.JobsFailed, msg));
    conditions = setCondition(conditions, cond(CaptureConditionType.Error, 'True', CaptureConditionReason.JobsFailed, msg));
  } else {
    conditions = setCondition(
      conditions,
      cond(CaptureConditionType.Complete, 'True', CaptureConditionReason.JobsCompleted, `All ${total} Capture jobs are completed`),
    );
  }
  if (failed === 0) conditions = conditions.filter((c) => c.type !== CaptureConditionType.Error);
  const done = active === 0 && failed === 0 && total > 0;
  return {
    conditions,
    startTime: input.startTime,
    ...(done && lastCompletion ? { completionTime: lastCompletion } : {}),
    active,
    succeeded,
    failed,
    nodes,
  };
}

/** A status carrying one error condition (validation, limits, missing secrets), keeping the counts. */
export function captureErrorStatus(previous: CaptureStatus | undefined, reason: string, message: string, now: Date, startTime: string): CaptureStatus {
  const t = now.toISOString().replace(/\.\d+Z$/, 'Z');
  const conditions = setCondition(previous?.conditions ?? [], {
    type: CaptureConditionType.Error,
    status: 'True',
    reason,
    message,
    lastTransitionTime: t,
  });
  return { ...previous, startTime, conditions };
}
