/**
 * Node files behind download pods, for tests of clients that read a node's files through a pod mounting a host
 * path and exec (`wc -c`, `cat`): the double has no containers, so this plays a busybox container whose only
 * files are its pod's hostPath mounts, read from `<root>/<node name>/<host path>`. And a kubelet that starts pods.
 */
import { readFile, stat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { ApiServerDouble, ExecHandler, ExecRequest } from './server.js';
import type { KubeObject } from './selectors.js';

interface PodShape {
  spec?: {
    nodeName?: string;
    containers?: { volumeMounts?: { name: string; mountPath: string }[] }[];
    volumes?: { name: string; hostPath?: { path: string } }[];
  };
}

/** The node file a path in the pod's first container stands for, when a hostPath mount exposes it. */
function resolveInPod(root: string, pod: PodShape, path: string): string | undefined {
  const node = pod.spec?.nodeName;
  if (!node) return undefined;
  for (const m of pod.spec?.containers?.[0]?.volumeMounts ?? []) {
    if (path !== m.mountPath && !path.startsWith(`${m.mountPath}/`)) continue;
    const vol = pod.spec?.volumes?.find((v) => v.name === m.name);
    if (!vol?.hostPath) return undefined;
    const rel = posix.relative(m.mountPath, path);
    if (rel.split('/').includes('..')) return undefined;
    return join(root, node, vol.hostPath.path, rel);
  }
  return undefined;
}

/**
 * An exec handler running `wc -c FILE`, `cat FILE` and `test -r FILE` against the node files under `root`;
 * other commands exit 127. `seen` receives each request.
 */
export function nodeFilesExecHandler(root: string, seen?: (req: ExecRequest) => void): ExecHandler {
  return async (req) => {
    seen?.(req);
    const pod = req.object as unknown as PodShape;
    const [cmd, ...args] = req.command;
    const file = (p: string | undefined) => (p ? resolveInPod(root, pod, p) : undefined);
    if (cmd === 'test' && args[0] === '-r') {
      const f = file(args[1]);
      return { exitCode: f && (await readFile(f).then(() => true, () => false)) ? 0 : 1 };
    }
    if (cmd === 'wc' && args[0] === '-c') {
      const f = file(args[1]);
      const st = f ? await stat(f).catch(() => undefined) : undefined;
      return st?.isFile() ? { stdout: `${st.size} ${args[1]}\n` } : { stderr: `wc: ${args[1]}: No such file or directory\n`, exitCode: 1 };
    }
    if (cmd === 'cat') {
      const f = file(args[0]);
      const data = f ? await readFile(f).catch(() => undefined) : undefined;
      return data ? { stdout: data } : { stderr: `cat: can't open '${args[0]}': No such file or directory\n`, exitCode: 1 };
    }
    return { stderr: `sh: ${cmd}: not found\n`, exitCode: 127 };
  };
}

/** A kubelet for the double: pods without a phase become Running, except those `hold` keeps Pending. Returns stop. */
export function startKubelet(api: ApiServerDouble, hold: (pod: KubeObject) => boolean = () => false): () => void {
  const t = setInterval(() => {
    for (const p of api.list<KubeObject & { status?: { phase?: string } }>('pods')) {
      if (p.status?.phase || hold(p)) continue;
      api.modify('pods', p.metadata.namespace, p.metadata.name, (x) => void (x.status = { phase: 'Running' }));
    }
  }, 5);
  return () => clearInterval(t);
}
