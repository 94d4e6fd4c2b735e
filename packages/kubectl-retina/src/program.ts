/**
 * The `kubectl retina` command tree. Built by a function taking its output streams, so tests run it in-process
 * exactly as the binary does.
 */
import { Command, Option } from 'commander';
import { addCaptureFlags, boolFlag, captureFlagsFromOptions, CaptureDefaults, DEFAULT_AGENT_IMAGE, readBool } from '@retina-ts/capture';
import { parseDuration } from '@retina-ts/core';
import { captureFromFlags } from './flags.js';
import { loadKube, type KubeFlags } from './kube.js';
import { createCapture } from './commands/create.js';
import { deleteCapture, listCaptures } from './commands/manage.js';
import { printHealth } from './commands/health.js';
import { downloadAllCaptures, downloadCapture } from './commands/download.js';
import { attachTerminal, parseCapabilities, parseShellTarget, runShell, type AttachFn } from './commands/shell.js';
import { VERSION } from './version.js';
import { DEFAULT_SHELL_IMAGE, SHELL_IMAGE_REPOSITORY } from '@retina-ts/capture';

/** Where the program writes and what it reads from the environment. */
export interface ProgramIO {
  out: (line: string) => void;
  err: (line: string) => void;
  env?: Record<string, string | undefined>;
  now?: () => Date;
  /** Poll period while `--no-wait=false` waits (default: Retina's). */
  pollIntervalMs?: number;
  /** Connects the terminal to the shell container (default: the process's terminal over the attach subresource). */
  attach?: AttachFn;
}

/** The agent image of this version, which carries `retina-capture` and tcpdump. */
export { DEFAULT_AGENT_IMAGE };

/** The shell image of this version (`kubectl retina shell`): Debian with network tools, no Node.js. */
export { DEFAULT_SHELL_IMAGE };

/** The image the capture Jobs run: --image, else with --debug $RETINA_AGENT_IMAGE, else the agent image of this version. */
export function captureImage(flag: string | undefined, debug: boolean, env: Record<string, string | undefined>): string {
  return flag || (debug ? env.RETINA_AGENT_IMAGE : undefined) || DEFAULT_AGENT_IMAGE;
}

function kubeFlags(cmd: Command): KubeFlags {
  const o = cmd.optsWithGlobals<Record<string, string | undefined>>();
  return { kubeconfig: o.kubeconfig, context: o.context, namespace: o.namespace, as: o.as, requestTimeout: o.requestTimeout };
}

/** Flags of `capture download`. */
interface DownloadFlags {
  name?: string;
  blobUrl?: string;
  s3Bucket?: string;
  s3Region?: string;
  s3Endpoint?: string;
  s3Path: string;
  s3AccessKeyId?: string;
  s3SecretAccessKey?: string;
  output: string;
  all?: boolean;
  allNamespaces?: boolean;
}

/** Builds the program. */
export function buildProgram(io: ProgramIO, state: { exitCode: number } = { exitCode: 0 }): Command {
  const env = io.env ?? process.env;
  const program = new Command()
    .name('kubectl-retina')
    .description('Retina network observability: distributed packet captures and cluster health')
    .option('--kubeconfig <file>', 'path to the kubeconfig file')
    .option('--context <name>', 'kubeconfig context to use')
    .option('-n, --namespace <namespace>', 'namespace (default: the context namespace, else default)')
    .option('--as <user>', 'user to impersonate for the operation (as kubectl --as)')
    .option('--request-timeout <duration>', 'give up on a single API request after this long (0: never; as kubectl)', '0')
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) })
    .exitOverride();

  program
    .command('version')
    .description('print the version')
    .action(() => io.out(`v${VERSION}`));

  program
    .command('health')
    .description('check the API server, the Capture CRD, the operator and the agents')
    .action(async (_o, cmd: Command) => {
      const { kc } = loadKube(kubeFlags(cmd));
      if (!(await printHealth(kc, io.out))) state.exitCode = 1;
    });

  program
    .command('shell')
    .description('a shell with network tools on a node (node/<name>: host network, pod in --namespace) or in a pod (pod/<name>: ephemeral container)')
    .argument('<target>', 'node/<name>, a node name, or pod/<name>')
    .option('--image <image>', 'shell image (default: the retina-ts-shell image of this version: ip, ss, dig, curl, bpftool, tcpdump, iptables, nft ...)')
    .option('--retina-shell-image-repo <repo>', 'image repository (with --retina-shell-image-version; env RETINA_SHELL_IMAGE_REPO)')
    .option('--retina-shell-image-version <tag>', 'image tag (env RETINA_SHELL_IMAGE_VERSION)')
    .option('-m, --mount-host-filesystem', 'nodes: mount the host filesystem read-only at /host')
    .option('-w, --allow-host-filesystem-write', 'nodes: mount the host filesystem writable at /host')
    .option('--host-pid', "nodes: share the host's PID namespace")
    .option('-c, --capabilities <list>', 'capabilities to add, comma separated (all others are dropped), e.g. NET_ADMIN,NET_RAW')
    .option('--timeout <duration>', 'how long the shell container may take to start', '60s')
    .option('--apparmor-unconfined', 'nodes: run without an AppArmor profile')
    .option('--seccomp-unconfined', 'nodes: run without a seccomp profile')
    .action(async (arg: string, o: Record<string, string | boolean | undefined>, cmd: Command) => {
      const target = parseShellTarget(arg);
      const { kc, namespace } = loadKube(kubeFlags(cmd));
      const timeoutMs = parseDuration(String(o.timeout));
      if (timeoutMs === undefined || timeoutMs <= 0) throw new Error(`--timeout: "${String(o.timeout)}" is not a positive duration (e.g. 30s, 2m)`);
      const repo = (o.retinaShellImageRepo as string | undefined) || env.RETINA_SHELL_IMAGE_REPO || SHELL_IMAGE_REPOSITORY;
      const tag = (o.retinaShellImageVersion as string | undefined) || env.RETINA_SHELL_IMAGE_VERSION || VERSION;
      await runShell(
        kc,
        namespace,
        target,
        {
          image: (o.image as string | undefined) || `${repo}:${tag}`,
          mountHostFilesystem: Boolean(o.mountHostFilesystem),
          allowHostFilesystemWrite: Boolean(o.allowHostFilesystemWrite),
          hostPid: Boolean(o.hostPid),
          capabilities: parseCapabilities(o.capabilities as string | undefined),
          appArmorUnconfined: Boolean(o.apparmorUnconfined),
          seccompUnconfined: Boolean(o.seccompUnconfined),
          timeoutMs,
        },
        { out: io.out, attach: io.attach ?? attachTerminal, ...(io.pollIntervalMs ? { pollIntervalMs: io.pollIntervalMs } : {}) },
      );
    });

  const capture = program.command('capture').description('distributed packet captures');

  const create = capture
    .command('create')
    .description('capture packets on selected nodes or pods into tarballs (pcap + network metadata)')
    .option('--node-selectors <labels>', 'nodes to capture on, key=value[,key=value] (cleared by pod targets or --node-names)', 'kubernetes.io/os=linux')
    .option('--node-names <list>', 'nodes to capture on, comma separated')
    .option('--pod-names <list>', 'pods (in --namespace) whose traffic to capture, comma separated')
    .option('--pod-selectors <labels>', 'pods whose traffic to capture, key=value[,key=value]')
    .option('--namespace-selectors <labels>', 'namespaces in which --pod-selectors selects, key=value[,...]')
    .option('--pvc <name>', 'PersistentVolumeClaim to store the tarballs on')
    .option('--job-num-limit <n>', 'refuse to create more jobs than this (0: no limit)', '0')
    .option('--image <image>', 'capture workload image (default: the agent image of this version; with --debug $RETINA_AGENT_IMAGE)')
    .addOption(
      new Option('--use-operator <mode>', 'create a Capture resource for the operator instead of Jobs').choices(['auto', 'true', 'false']).default('auto'),
    );
  addCaptureFlags(create);
  boolFlag(create, 'no-wait', 'return once the jobs exist; with false, wait for them, print the result and delete them', true);
  boolFlag(create, 'cleanup-after-upload', 'delete jobs, secrets and the capture once uploaded (needs --blob-upload, --s3-bucket or --pvc)');
  boolFlag(create, 'debug', 'run the capture with the image in $RETINA_AGENT_IMAGE');
  create.action(async (o: Record<string, unknown>, cmd: Command) => {
    const { kc, namespace } = loadKube(kubeFlags(cmd));
    const shared = captureFlagsFromOptions(o);
    const { capture: c, secrets } = captureFromFlags(
      {
        ...shared,
        namespace,
        nodeSelectors: o.nodeSelectors as string | undefined,
        nodeNames: o.nodeNames as string | undefined,
        podNames: o.podNames as string | undefined,
        podSelectors: o.podSelectors as string | undefined,
        namespaceSelectors: o.namespaceSelectors as string | undefined,
        pvc: o.pvc as string | undefined,
        cleanupAfterUpload: readBool(o, 'cleanup-after-upload'),
      },
      { hostPathBaseDir: shared.hostPathBaseDir },
    );
    const limit = Number(o.jobNumLimit);
    if (!Number.isInteger(limit) || limit < 0) throw new Error(`--job-num-limit: "${String(o.jobNumLimit)}" is not a non-negative integer`);
    await createCapture(kc, c, secrets, {
      useOperator: o.useOperator as 'auto' | 'true' | 'false',
      jobNumLimit: limit,
      noWait: readBool(o, 'no-wait'),
      hostPathBaseDir: shared.hostPathBaseDir!,
      image: captureImage(o.image as string | undefined, readBool(o, 'debug'), env),
      out: io.out,
      ...(io.now ? { now: io.now } : {}),
      ...(io.pollIntervalMs ? { pollIntervalMs: io.pollIntervalMs } : {}),
    });
  });

  capture
    .command('list')
    .description('list captures (all namespaces unless --namespace is given)')
    .option('-A, --all-namespaces', 'list captures of all namespaces')
    .action(async (o: { allNamespaces?: boolean }, cmd: Command) => {
      const { kc, namespace, explicitNamespace } = loadKube(kubeFlags(cmd));
      await listCaptures(kc, o.allNamespaces || !explicitNamespace ? undefined : namespace, io.out, io.now?.());
    });

  capture
    .command('delete')
    .description('delete a capture: its Capture resource, or its jobs and secrets')
    .option('--name <name>', 'name of the capture', 'retina-capture')
    .action(async (o: { name: string }, cmd: Command) => {
      const { kc, namespace } = loadKube(kubeFlags(cmd));
      await deleteCapture(kc, namespace, o.name, io.out);
    });

  capture
    .command('download')
    .description('download capture tarballs from an Azure Blob container SAS URL, an S3 bucket, or the nodes')
    .option('--name <name>', 'name of the capture')
    .option('--blob-url <sasUrl>', 'container SAS URL to download from (with --name: only that capture)')
    .option('--s3-bucket <bucket>', 'S3 bucket to download from (with --name: only that capture)')
    .option('--s3-region <region>', 'S3 region')
    .option('--s3-endpoint <url>', 'S3-compatible endpoint URL')
    .option('--s3-path <prefix>', 'key prefix in the bucket', CaptureDefaults.s3Path)
    .option('--s3-access-key-id <id>', 'S3 access key id (default: the AWS SDK credential chain)')
    .option('--s3-secret-access-key <key>', 'S3 secret access key')
    .option('-o, --output <dir>', 'directory to write the tarballs to', './')
    .option('--all', 'download every capture of the namespace from the nodes, each into <output>/<namespace>/<name>/')
    .option('--all-namespaces', 'with --all: every capture of every namespace')
    .action(async (o: DownloadFlags, cmd: Command) => {
      if (o.allNamespaces && !o.all) throw new Error('--all-namespaces can only be used with --all');
      if (o.all) {
        if (o.name || o.blobUrl || o.s3Bucket) throw new Error('--all downloads from the nodes: leave out --name, --blob-url and --s3-bucket');
        const files = await downloadAllCaptures({
          output: o.output,
          out: io.out,
          kube: loadKube(kubeFlags(cmd)),
          allNamespaces: Boolean(o.allNamespaces),
          ...(io.pollIntervalMs ? { pollIntervalMs: io.pollIntervalMs } : {}),
        });
        io.out(`Downloaded ${files.length} file(s) to ${o.output}`);
        return;
      }
      if (!o.name && !o.blobUrl && !o.s3Bucket) throw new Error('capture download needs --name, --blob-url, --s3-bucket or --all');
      if (o.blobUrl && o.s3Bucket) throw new Error('capture download: give either --blob-url or --s3-bucket, not both');
      const s3 = o.s3Bucket
        ? {
            bucket: o.s3Bucket,
            path: o.s3Path,
            ...(o.s3Region ? { region: o.s3Region } : {}),
            ...(o.s3Endpoint ? { endpoint: o.s3Endpoint } : {}),
            ...(o.s3AccessKeyId ? { accessKeyId: o.s3AccessKeyId } : {}),
            ...(o.s3SecretAccessKey ? { secretAccessKey: o.s3SecretAccessKey } : {}),
          }
        : undefined;
      const kube = o.blobUrl || s3 ? undefined : loadKube(kubeFlags(cmd));
      const files = await downloadCapture({
        output: o.output,
        out: io.out,
        ...(o.name ? { name: o.name } : {}),
        ...(o.blobUrl ? { blobUrl: o.blobUrl } : {}),
        ...(s3 ? { s3 } : {}),
        ...(kube ? { kube } : {}),
        ...(io.pollIntervalMs ? { pollIntervalMs: io.pollIntervalMs } : {}),
      });
      io.out(`Downloaded ${files.length} file(s) to ${o.output}`);
    });

  return program;
}

/** Runs the program with argv (without node and script); returns the exit code. */
export async function runProgram(argv: string[], io: ProgramIO): Promise<number> {
  const state = { exitCode: 0 };
  const program = buildProgram(io, state);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return state.exitCode;
  } catch (err) {
    const e = err as { code?: string; exitCode?: number; message: string };
    if (e.code?.startsWith('commander.')) return e.exitCode ?? 1;
    io.err(`error: ${e.message}`);
    return 1;
  }
}
