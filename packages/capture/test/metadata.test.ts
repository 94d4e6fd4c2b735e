import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chooseIptablesMode, copyProcTree, formatCommandOutput, metadataPlan, packCaptureDirectory, tarballEntries } from '../src/index.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'capture-metadata-'));
});
afterAll(() => rm(root, { recursive: true, force: true }));

describe('metadata plan', () => {
  const files = (plan: ReturnType<typeof metadataPlan>) =>
    plan.map((f) => [f.file, f.commands.map((c) => [c.command, ...c.args].join(' '))]);

  it('lists Retina files plus nftables and conntrack when present', () => {
    expect(files(metadataPlan('nft', () => true))).toEqual([
      [
        'ip-resources.txt',
        [
          'ip -d -j addr show',
          'ip -d -j neighbor show',
          'ip rule list',
          'ip -6 rule list',
          'ip route show table all',
          'ip -6 route show table all',
        ],
      ],
      ['interface-stats.txt', ['ip -s -s -d link show']],
      ['socket-stats.txt', ['ss -s', 'ss -tapionume']],
      [
        'iptables-rules.txt',
        ['iptables-nft-save', 'iptables-nft -vnx -L', 'iptables-nft -vnx -L -t nat', 'iptables-nft -vnx -L -t mangle'],
      ],
      ['nftables-rules.txt', ['nft list ruleset']],
      ['conntrack-stats.txt', ['conntrack -C', 'conntrack -S']],
    ]);
  });

  it('leaves out what the host lacks', () => {
    expect(metadataPlan(undefined, () => false).map((f) => f.file)).toEqual([
      'ip-resources.txt',
      'interface-stats.txt',
      'socket-stats.txt',
    ]);
    expect(files(metadataPlan('plain', () => false))[3]![1]![0]).toBe('iptables-save');
  });

  it('chooses the iptables backend with more rules, nft on a tie', () => {
    const both = () => true;
    expect(chooseIptablesMode(both, (c) => (c.includes('legacy') ? 10 : 5))).toBe('legacy');
    expect(chooseIptablesMode(both, () => 5)).toBe('nft');
    expect(chooseIptablesMode((c) => c === 'iptables-legacy-save', () => 0)).toBe('legacy');
    expect(chooseIptablesMode((c) => c === 'iptables-save', () => 0)).toBe('plain');
    expect(chooseIptablesMode(() => false, () => 0)).toBeUndefined();
  });

  it('heads each output with the command and its description, and records failures', () => {
    const c = { command: 'ss', args: ['-s'], description: 'socket summary' };
    expect(formatCommandOutput(c, { stdout: 'Total: 3', stderr: '' })).toBe('# ss -s\n# socket summary\nTotal: 3\n\n');
    expect(formatCommandOutput(c, { stdout: '', stderr: 'oops\nmore', error: 'ss is not installed' })).toBe(
      '# ss -s\n# socket summary\n# failed: ss is not installed\n# oops\n# more\n\n',
    );
  });

  it('copies proc-like trees file by file and lists what it skipped', async () => {
    const src = join(root, 'proc', 'net');
    await mkdir(join(src, 'stat'), { recursive: true });
    await writeFile(join(src, 'dev'), 'lo: 1 2 3');
    await writeFile(join(src, 'stat', 'nf'), 'x');
    const skipped: string[] = [];
    expect(await copyProcTree(src, join(root, 'copy'), skipped)).toBe(2);
    expect(await readFile(join(root, 'copy', 'stat', 'nf'), 'utf8')).toBe('x');
    expect(await copyProcTree(join(root, 'missing'), join(root, 'copy2'), skipped)).toBe(0);
    expect(skipped).toEqual([expect.stringContaining(`${join(root, 'missing')}: ENOENT`)]);
  });
});

describe('tarball', () => {
  it('packs the capture directory as <base>/ inside <base>.tar.gz', async () => {
    const dir = join(root, 'cap-n-20240101000000UTC');
    await mkdir(join(dir, 'proc-net'), { recursive: true });
    await writeFile(join(dir, 'cap-n-20240101000000UTC.pcap'), 'p');
    await writeFile(join(dir, 'proc-net', 'dev'), 'd');
    const file = await packCaptureDirectory(dir);
    expect(file).toBe(`${dir}.tar.gz`);
    expect((await tarballEntries(file)).sort()).toEqual([
      'cap-n-20240101000000UTC/',
      'cap-n-20240101000000UTC/cap-n-20240101000000UTC.pcap',
      'cap-n-20240101000000UTC/proc-net/',
      'cap-n-20240101000000UTC/proc-net/dev',
    ]);
  });
});
