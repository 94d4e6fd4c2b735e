/**
 * `kubectl retina shell`: a debug shell with network tools on a node or in a pod, as Retina's. For a node, a pod
 * on that node in the host's network namespace (host PID and the host filesystem at /host on request); for a pod,
 * an ephemeral container in it. Capabilities are dropped except those asked for. The terminal is attached to the
 * shell; a node's pod is deleted when the shell ends.
 */
import { randomBytes } from 'node:crypto';
import type { Readable, Writable } from 'node:stream';
import { Attach, CoreV1Api, type KubeConfig, type V1Container, type V1EphemeralContainer, type V1Pod } from '@kubernetes/client-node';
import { httpStatus } from '@retina-ts/capture';

/** What `shell` was asked for. */
export interface ShellOptions {
  image: string;
  mountHostFilesystem: boolean;
  allowHostFilesystemWrite: boolean;
  hostPid: boolean;
  capabilities: string[];
  appArmorUnconfined: boolean;
  seccompUnconfined: boolean;
  /** How long the shell container may take to start. */
  timeoutMs: number;
}

/** Where the shell runs. */
export type ShellTarget = { kind: 'node'; name: string } | { kind: 'pod'; name: string };

/** Connects the terminal to a container; resolves when the session ends. */
export type AttachFn = (a: { kc: KubeConfig; namespace: string; pod: string; container: string }) => Promise<void>;

/** `node/<name>`, `nodes/<name>`, `pod/<name>`, `pods/<name>` or a bare node name. */
export function parseShellTarget(arg: string): ShellTarget {
  const i = arg.indexOf('/');
  const [type, name] = i < 0 ? ['node', arg] : [arg.slice(0, i).toLowerCase(), arg.slice(i + 1)];
  if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name) || name.length > 253) throw new Error(`shell: "${name}" is not a node or pod name`);
  if (type === 'node' || type === 'nodes' || type === 'no') return { kind: 'node', name };
  if (type === 'pod' || type === 'pods' || type === 'po') return { kind: 'pod', name };
  throw new Error(`shell: "${type}" targets are not supported: use node/<name> or pod/<name>`);
}

/** Capability names as the runtime takes them (`NET_ADMIN`; a `CAP_` prefix is dropped). */
export function parseCapabilities(list: string | undefined): string[] {
  const caps = (list ?? '')
    .split(',')
    .map((c) => c.trim().toUpperCase().replace(/^CAP_/, ''))
    .filter(Boolean);
  for (const c of caps) if (!/^[A-Z_]{2,32}$/.test(c)) throw new Error(`--capabilities: "${c}" is not a capability name (e.g. NET_ADMIN, SYS_PTRACE)`);
  if (caps.length > 64) throw new Error(`--capabilities: ${caps.length} names; at most 64`);
  return [...new Set(caps)];
}

const shellName = () => `retina-shell-${randomBytes(3).toString('hex').slice(0, 5)}`;

function securityContext(o: ShellOptions, forNode: boolean): V1Container['securityContext'] {
  return {
    capabilities: { drop: ['ALL'], add: o.capabilities },
    ...(forNode && o.appArmorUnconfined ? { appArmorProfile: { type: 'Unconfined' } } : {}),
    ...(forNode && o.seccompUnconfined ? { seccompProfile: { type: 'Unconfined' } } : {}),
  };
}

/** The pod a node shell runs in (pure). */
export function nodeShellPod(o: ShellOptions, namespace: string, node: string, name = shellName()): V1Pod {
  const mount = o.mountHostFilesystem || o.allowHostFilesystemWrite;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels: { 'retina.sh/app': 'shell' } },
    spec: {
      nodeName: node,
      restartPolicy: 'Never',
      tolerations: [{ operator: 'Exists' }],
      hostNetwork: true,
      hostPID: o.hostPid,
      containers: [
        {
          name: 'retina-shell',
          image: o.image,
          command: ['bash'],
          stdin: true,
          tty: true,
          securityContext: securityContext(o, true),
          ...(mount
            ? {
                volumeMounts: [
                  { name: 'host-filesystem', mountPath: '/host', readOnly: !o.allowHostFilesystemWrite },
                  { name: 'run', mountPath: '/run' },
                ],
              }
            : {}),
        },
      ],
      ...(mount
        ? {
            volumes: [
              { name: 'host-filesystem', hostPath: { path: '/' } },
              { name: 'run', hostPath: { path: '/run' } },
            ],
          }
        : {}),
    },
  };
}

/** The ephemeral container a pod shell runs in (pure). */
export function podShellContainer(o: ShellOptions, name = shellName()): V1EphemeralContainer {
  return { name, image: o.image, command: ['bash'], stdin: true, tty: true, securityContext: securityContext(o, false) };
}

async function waitFor(what: string, timeoutMs: number, pollMs: number, check: () => Promise<string | true>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await check();
    if (r === true) return;
    if (Date.now() > deadline) throw new Error(`${what} did not start within ${timeoutMs / 1000} s (${r})`);
    await new Promise((res) => setTimeout(res, pollMs));
  }
}

/** Connects streams to a container's process over `pods/attach`; resolves when the connection closes. */
export async function attachStreams(a: {
  kc: KubeConfig;
  namespace: string;
  pod: string;
  container: string;
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  tty: boolean;
}): Promise<void> {
  // With a TTY the runtime merges stderr into stdout, and the API server refuses asking for both.
  const ws = await new Attach(a.kc).attach(a.namespace, a.pod, a.container, a.stdout, a.tty ? null : a.stderr, a.stdin, a.tty);
  await new Promise<void>((resolve) => ws.on('close', () => resolve()));
}

/** Attaches the process's terminal (raw mode when it is one). */
export const attachTerminal: AttachFn = async ({ kc, namespace, pod, container }) => {
  const stdin = process.stdin as Readable & { isTTY?: boolean; setRawMode?: (raw: boolean) => void };
  const tty = Boolean(stdin.isTTY);
  if (tty) stdin.setRawMode?.(true);
  try {
    await attachStreams({ kc, namespace, pod, container, stdin, stdout: process.stdout, stderr: process.stderr, tty });
  } finally {
    if (tty) stdin.setRawMode?.(false);
    stdin.pause();
  }
};

/** Runs the shell on `target`; returns once the session ended and a node's pod is deleted. */
export async function runShell(
  kc: KubeConfig,
  namespace: string,
  target: ShellTarget,
  o: ShellOptions,
  io: { out: (line: string) => void; attach: AttachFn; pollIntervalMs?: number },
): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  const poll = io.pollIntervalMs ?? 500;
  if (target.kind === 'node') {
    try {
      await core.readNode({ name: target.name });
    } catch (err) {
      if (httpStatus(err) === 404) throw new Error(`shell: node "${target.name}" not found`);
      throw err;
    }
    const pod = await core.createNamespacedPod({ namespace, body: nodeShellPod(o, namespace, target.name) });
    const name = pod.metadata!.name!;
    io.out(`shell pod ${namespace}/${name} on node ${target.name}, image ${o.image}`);
    try {
      await waitFor(`shell pod ${namespace}/${name}`, o.timeoutMs, poll, async () => {
        const p = await core.readNamespacedPod({ namespace, name });
        const phase = p.status?.phase;
        if (phase === 'Running') return true;
        if (phase === 'Failed' || phase === 'Succeeded') throw new Error(`shell pod ${namespace}/${name} ended (${phase}) before it could be attached`);
        return `phase ${phase ?? 'unknown'}`;
      });
      await io.attach({ kc, namespace, pod: name, container: 'retina-shell' });
    } finally {
      try {
        await core.deleteNamespacedPod({ namespace, name, gracePeriodSeconds: 0 });
      } catch (err) {
        if (httpStatus(err) !== 404) io.out(`warning: could not delete shell pod ${namespace}/${name}: ${(err as Error).message}`);
      }
    }
    return;
  }
  if (o.mountHostFilesystem || o.allowHostFilesystemWrite || o.hostPid || o.appArmorUnconfined || o.seccompUnconfined) {
    throw new Error('shell: --mount-host-filesystem, --allow-host-filesystem-write, --host-pid, --apparmor-unconfined and --seccomp-unconfined apply to nodes only');
  }
  let pod: V1Pod;
  try {
    pod = await core.readNamespacedPod({ namespace, name: target.name });
  } catch (err) {
    if (httpStatus(err) === 404) throw new Error(`shell: pod ${namespace}/${target.name} not found`);
    throw err;
  }
  const container = podShellContainer(o);
  await core.replaceNamespacedPodEphemeralcontainers({
    namespace,
    name: target.name,
    body: { ...pod, spec: { ...pod.spec!, ephemeralContainers: [...(pod.spec?.ephemeralContainers ?? []), container] } },
  });
  io.out(`shell container ${container.name} in pod ${namespace}/${target.name}, image ${o.image}`);
  await waitFor(`shell container ${container.name}`, o.timeoutMs, poll, async () => {
    const p = await core.readNamespacedPod({ namespace, name: target.name });
    const s = p.status?.ephemeralContainerStatuses?.find((c) => c.name === container.name);
    if (s?.state?.running) return true;
    if (s?.state?.terminated) throw new Error(`shell container ${container.name} ended: ${s.state.terminated.reason ?? 'terminated'}`);
    return s?.state?.waiting?.reason ?? 'not started';
  });
  // An ephemeral container cannot be removed; it ends with its shell.
  await io.attach({ kc, namespace, pod: target.name, container: container.name! });
}
