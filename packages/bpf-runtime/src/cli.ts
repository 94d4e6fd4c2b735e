// `retina-bpf`: the BPF build tool of @retina-ts/bpf-runtime.
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

import { BpfBuildError, buildBpf, generateVmlinuxHeader } from './build-tool.js';
import { BpfError } from './errors.js';
import { runInNetns } from './netns.js';
import { cleanupTcAttachments, type TcCleanupReport } from './tc.js';

const USAGE = `usage:
  retina-bpf build [--src bpf] [--out dist/bpf] [--vmlinux] [--force] [--keep-debug-info]
                   [-I dir]... [-D NAME[=VALUE]]... [--cpu v3] [--arch x64|arm64|...]
      Compiles every <src>/*.bpf.c to <out>/<name>.bpf.o (clang -target bpf -O2 -g, CO-RE).
      Include path: this package's include/ (retina/common.h, retina/kernel.h), <src>, libbpf's headers.
  retina-bpf vmlinux [--out vmlinux.h]
      Writes vmlinux.h for the running kernel (bpftool btf dump file /sys/kernel/btf/vmlinux format c).
  retina-bpf cleanup [--netns NAME|PATH]... [--dry-run] [--json]
      Removes the clsact TC filters of ours whose process is gone (killed, crashed) from every interface of the
      network namespace (this process's, or each --netns), and a clsact qdisc left holding nothing else.
      Other tools' filters and filters of running processes stay. Needs CAP_NET_ADMIN (and CAP_SYS_ADMIN for --netns).
`;

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

/** Human-readable lines for one namespace's cleanup. */
function describeCleanup(label: string, r: TcCleanupReport, dryRun: boolean): string[] {
  const verb = dryRun ? 'would remove' : 'removed';
  const lines = r.removed.map(
    (f) =>
      `retina-bpf: ${label}: ${verb} clsact filter ${hex(f.handle)} (${f.name || `prog ${f.progId}`}) on ` +
      `${f.ifname} ${f.direction}, left by pid ${f.ownerPid}`,
  );
  for (const q of r.qdiscsRemoved) lines.push(`retina-bpf: ${label}: ${verb} clsact qdisc of ${q.ifname}`);
  lines.push(
    `retina-bpf: ${label}: ${verb} ${r.removed.length} filter(s) and ${r.qdiscsRemoved.length} qdisc(s) of ours; ` +
      `kept ${r.kept.length} of running processes`,
  );
  return lines;
}

function cleanupCommand(args: string[]): number {
  const { values } = parseArgs({
    args,
    options: {
      netns: { type: 'string', multiple: true, default: [] },
      'dry-run': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
  });
  const dryRun = values['dry-run'];
  const targets: Array<string | undefined> = values.netns.length > 0 ? values.netns : [undefined];
  const reports: Array<{ netns: string; report: TcCleanupReport }> = [];
  for (const netns of targets) {
    const run = (): TcCleanupReport => cleanupTcAttachments({ dryRun });
    reports.push({ netns: netns ?? 'current', report: netns === undefined ? run() : runInNetns(netns, run) });
  }
  if (values.json)
    console.log(JSON.stringify(reports.length === 1 && targets[0] === undefined ? reports[0] : reports));
  else
    for (const { netns, report } of reports)
      for (const line of describeCleanup(`netns ${netns}`, report, dryRun)) console.log(line);
  return 0;
}

/** Runs the CLI with `argv` (without node and script); returns the exit code. */
export function main(argv: readonly string[]): number {
  const [command, ...rest] = argv;
  try {
    if (command === 'build') {
      const { values } = parseArgs({
        args: [...rest],
        options: {
          src: { type: 'string', default: 'bpf' },
          out: { type: 'string', default: 'dist/bpf' },
          vmlinux: { type: 'boolean', default: false },
          force: { type: 'boolean', default: false },
          'keep-debug-info': { type: 'boolean', default: false },
          include: { type: 'string', short: 'I', multiple: true, default: [] },
          define: { type: 'string', short: 'D', multiple: true, default: [] },
          cpu: { type: 'string' },
          arch: { type: 'string' },
          quiet: { type: 'boolean', short: 'q', default: false },
        },
      });
      const results = buildBpf({
        srcDir: values.src,
        outDir: values.out,
        vmlinux: values.vmlinux,
        force: values.force,
        keepDebugInfo: values['keep-debug-info'],
        includeDirs: values.include,
        extraFlags: values.define.map((d) => `-D${d}`),
        cpu: values.cpu,
        arch: values.arch,
        log: values.quiet ? undefined : (m) => console.log(`retina-bpf: ${m}`),
      });
      if (!values.quiet) {
        const built = results.filter((r) => r.status === 'built').length;
        console.log(`retina-bpf: ${built} built, ${results.length - built} up to date`);
      }
      return 0;
    }
    if (command === 'vmlinux') {
      const { values } = parseArgs({
        args: [...rest],
        options: { out: { type: 'string', default: 'vmlinux.h' } },
      });
      generateVmlinuxHeader(resolve(values.out));
      console.log(`retina-bpf: wrote ${values.out}`);
      return 0;
    }
    if (command === 'cleanup') return cleanupCommand([...rest]);
    if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
      console.log(USAGE);
      return command === undefined ? 1 : 0;
    }
    console.error(`retina-bpf: unknown command '${command}'\n${USAGE}`);
    return 1;
  } catch (err) {
    if (
      err instanceof BpfBuildError ||
      err instanceof BpfError ||
      (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
    ) {
      console.error(`retina-bpf: ${(err as Error).message}`);
      return 1;
    }
    throw err;
  }
}
