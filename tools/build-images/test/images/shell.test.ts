// The shell image of `kubectl retina shell`: bash by default, every network tool it promises runs, and no Node.js.
// Needs the built dist/images/retina-ts-shell.tar.
import { beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error plan.mjs is plain JavaScript run by the build script.
import { imageVersion } from '../../plan.mjs';
import { RUN_LIMITS, imageSize, loadImage, podman, root } from './podman.js';

const version = imageVersion(root) as string;
let ref: string;

beforeAll(() => {
  ref = loadImage('retina-ts-shell', version);
});

/** Runs `command` in a fresh container of the image (no network needed: each only prints its version or help). */
function inImage(command: string[]) {
  // NET_RAW: ping carries it as a file capability, so it cannot be executed without it in the bounding set (as in
  // `kubectl retina shell`, which drops every capability not asked for: ping needs `-c NET_RAW`).
  return podman(['run', '--rm', ...RUN_LIMITS, '--cap-add', 'NET_RAW', '--network=none', ref, ...command], { allowFailure: true });
}

// Each tool with an argument that makes it print its version (or, for tools without one, its usage) and exit, and
// a piece of that output.
const TOOLS: [string, string[], RegExp][] = [
  ['ip', ['-V'], /iproute2/],
  ['ss', ['-V'], /iproute2/],
  ['bridge', ['-V'], /bridge utility, \d/],
  ['ping', ['-V'], /iputils/],
  ['dig', ['-v'], /DiG 9\./],
  ['nslookup', ['-version'], /nslookup 9\./],
  ['curl', ['--version'], /^curl \d.*https/ms],
  ['bpftool', ['version'], /bpftool v\d/],
  ['tcpdump', ['--version'], /tcpdump version \d/],
  ['iptables', ['--version'], /iptables v\d/],
  ['iptables-save', ['--version'], /iptables-save v\d/],
  ['nft', ['--version'], /nftables v\d/],
  ['ethtool', ['--version'], /ethtool version \d/],
  ['nc', ['-h'], /OpenBSD netcat/],
  ['conntrack', ['--version'], /conntrack v\d/],
  ['ps', ['--version'], /procps-ng/],
  ['top', ['-b', '-n', '1'], /PID USER/],
  ['bash', ['--version'], /GNU bash/],
];

describe('retina-ts-shell image', () => {
  it('is small: Debian and the tools, no Node.js', () => {
    const size = imageSize(ref);
    console.log(`${ref}: ${(size / 1e6).toFixed(1)} MB uncompressed`);
    expect(size).toBeLessThan(150_000_000);
    expect(inImage(['bash', '-c', 'command -v node npm || echo none']).stdout.trim()).toBe('none');
    expect(inImage(['bash', '-c', 'ls /opt /usr/local/bin']).stdout.trim()).toBe('/opt:\n\n/usr/local/bin:');
  });

  it('runs bash by default', () => {
    const config = podman(['image', 'inspect', '--format', '{{json .Config.Cmd}}', ref]).stdout.trim();
    expect(JSON.parse(config)).toEqual(['bash']);
    const labels = podman(['image', 'inspect', '--format', '{{json .Labels}}', ref]).stdout.trim();
    expect(JSON.parse(labels)).toMatchObject({ 'org.opencontainers.image.title': 'retina-ts-shell', 'org.opencontainers.image.version': version });
  });

  it.each(TOOLS)('has %s, which runs', (tool, args, expected) => {
    const r = inImage([tool, ...args]);
    expect(r.stdout + r.stderr, `${tool} ${args.join(' ')} (exit ${r.status})`).toMatch(expected);
  });

  it('has a CA bundle for curl, and dig asks the server it is given', () => {
    // No outside network here (--network=none): dig against loopback, where no server listens, fails with its own
    // message rather than a missing library.
    expect(inImage(['bash', '-c', 'test -s /etc/ssl/certs/ca-certificates.crt && echo ok']).stdout.trim()).toBe('ok');
    const dig = inImage(['dig', '+time=1', '+tries=1', '@127.0.0.1', 'example.org']);
    expect(dig.stdout + dig.stderr).toMatch(/connection refused|timed out|no servers could be reached/i);
  });
});
