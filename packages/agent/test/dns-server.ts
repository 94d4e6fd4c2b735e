/**
 * A DNS server and client for kernel tests: dnsmasq inside a test namespace answering `a.test` (and NXDOMAIN for
 * other names under `test`), queried with dig.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Netns } from '@retina-ts/testkit';

/** Starts dnsmasq in `ns` on `ip`:53, `a.test` → `answer`; resolves once it has logged its start. */
export function startDnsmasq(ns: Netns, ip: string, pidFile: string, answer: string): Promise<ChildProcess> {
  const child = spawn(
    'ip',
    [
      ...[
        'netns',
        'exec',
        ns.name,
        'dnsmasq',
        '--keep-in-foreground',
        '--no-resolv',
        '--no-hosts',
        '--no-poll',
      ],
      ...['--bind-interfaces', `--listen-address=${ip}`, '--port=53', `--pid-file=${pidFile}`],
      ...[`--host-record=a.test,${answer}`, '--local=/test/', '--user=root', '--log-facility=-'],
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      out += chunk.toString();
      if (out.includes('started')) resolve(child);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) =>
      reject(new Error(`dnsmasq exited with ${code} before it started: ${out.trim()}`)),
    );
  });
}

/** Runs dig in `ns` against `server` for `name` (type A) and returns the status word (NOERROR, NXDOMAIN, ...). */
export function dig(ns: Netns, server: string, name: string): string {
  const out = ns.exec('dig', [`@${server}`, name, 'A', '+time=3', '+tries=1', '+nocookie'], {
    allowFailure: true,
  });
  const status = /status: ([A-Z]+)/.exec(out.stdout)?.[1];
  if (!status) throw new Error(`dig @${server} ${name} A got no answer: ${out.stdout}${out.stderr}`);
  return status;
}
