import { describe, expect, it } from 'vitest';

import {
  bpfHeldBy,
  parseBpfFdinfo,
  parseBpftoolLinks,
  parseBpftoolPrograms,
  parseCgroup2Mounts,
  parseQdiscs,
  parseTcFilters,
  parseXdpProgramId,
  uniqueName,
} from '../src/index.js';

// Output captured from bpftool 7.1 and iproute2 6.1 on the development kernel.
const TC_FILTERS = JSON.stringify([
  { protocol: 'all', pref: 100, kind: 'u32', chain: 0 },
  { protocol: 'all', pref: 100, kind: 'u32', chain: 0, options: { fh: '800:', ht_divisor: 1 } },
  { protocol: 'all', pref: 49152, kind: 'bpf', chain: 0 },
  {
    protocol: 'all',
    pref: 49152,
    kind: 'bpf',
    chain: 0,
    options: {
      handle: '0xb0007475',
      bpf_name: 'tc_ingress:[615]',
      'direct-action': true,
      not_in_hw: true,
      prog: { id: 615, name: 'tc_ingress', tag: 'abccf9db67e080d2', jited: 1 },
    },
  },
]);

describe('tc output', () => {
  it('keeps filter entries, drops per-priority headers, parses bpf details', () => {
    const filters = parseTcFilters(TC_FILTERS, 'ingress');
    expect(filters).toEqual([
      {
        direction: 'ingress',
        protocol: 'all',
        priority: 100,
        kind: 'u32',
        chain: 0,
        handle: undefined,
        bpfName: undefined,
        progId: undefined,
        progName: undefined,
      },
      {
        direction: 'ingress',
        protocol: 'all',
        priority: 49152,
        kind: 'bpf',
        chain: 0,
        handle: 0xb0007475,
        bpfName: 'tc_ingress:[615]',
        progId: 615,
        progName: 'tc_ingress',
      },
    ]);
    expect(parseTcFilters('', 'egress')).toEqual([]);
  });

  it('parses qdiscs', () => {
    const json =
      '[{"kind":"noqueue","handle":"0:","root":true,"refcnt":2,"options":{}},{"kind":"clsact","handle":"ffff:","parent":"ffff:fff1","options":{}}]';
    expect(parseQdiscs(json)).toEqual([
      { kind: 'noqueue', handle: '0:', parent: undefined },
      { kind: 'clsact', handle: 'ffff:', parent: 'ffff:fff1' },
    ]);
  });
});

describe('bpftool output', () => {
  it('parses programs and links (numeric link types from older bpftool kept as text)', () => {
    const progs =
      '[{"id":611,"type":"tracepoint","name":"tp_getppid","tag":"975cb297925f9464","gpl_compatible":true,"map_ids":[174,170],"btf_id":161}]';
    expect(parseBpftoolPrograms(progs)).toEqual([
      { id: 611, type: 'tracepoint', name: 'tp_getppid', tag: '975cb297925f9464', mapIds: [174, 170] },
    ]);
    const links = '[{"id":92,"type":11,"prog_id":616},{"id":93,"type":"xdp","prog_id":620}]';
    expect(parseBpftoolLinks(links)).toEqual([
      { id: 92, type: '11', progId: 616 },
      { id: 93, type: 'xdp', progId: 620 },
    ]);
  });
});

describe('ip link output', () => {
  it('finds the XDP program id in both layouts ip prints', () => {
    expect(
      parseXdpProgramId('[{"ifindex":3,"ifname":"va","xdp":{"mode":2,"prog":{"id":93,"name":"xdp_count"}}}]'),
    ).toBe(93);
    expect(
      parseXdpProgramId('[{"ifindex":3,"xdp":{"mode":3,"attached":[{"mode":1,"prog":{"id":7}}]}}]'),
    ).toBe(7);
    expect(parseXdpProgramId('[{"ifindex":3,"ifname":"va"}]')).toBeUndefined();
  });
});

describe('cgroup2 mounts', () => {
  it('lists cgroup2 mount points from mountinfo', () => {
    const mountinfo = [
      '34 25 0:29 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755',
      '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
      '42 31 0:39 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu',
    ].join('\n');
    expect(parseCgroup2Mounts(mountinfo)).toEqual(['/sys/fs/cgroup/unified']);
  });
});

describe('uniqueName', () => {
  it('stays within the length limit and never repeats', () => {
    const names = new Set(Array.from({ length: 200 }, () => uniqueName('rv', 15)));
    expect(names.size).toBe(200);
    for (const n of names) {
      expect(n.length).toBeLessThanOrEqual(15);
      expect(n.startsWith('rv')).toBe(true);
    }
    expect(() => uniqueName('much-too-long-prefix', 15)).toThrow(RangeError);
  });
});

// Captured from /proc/<pid>/fdinfo on the development kernel (6.18).
describe('BPF descriptors of a process', () => {
  it('reads program, map and link ids from fdinfo', () => {
    const map =
      'pos:\t0\nflags:\t02000002\nmnt_id:\t17\nino:\t1039\nmap_type:\t1\nkey_size:\t4\nmap_id:\t1233\nfrozen:\t0\n';
    const prog =
      'pos:\t0\nflags:\t02000002\nprog_type:\t3\nprog_jited:\t1\nprog_tag:\t0a1b2c3d4e5f6071\nmemlock:\t4096\nprog_id:\t88\n';
    const link =
      'pos:\t0\nflags:\t02000000\nlink_type:\ttcx\nlink_id:\t12\nprog_tag:\t0a1b2c3d4e5f6071\nprog_id:\t88\nifindex:\t3\n';
    expect(parseBpfFdinfo(map)).toEqual({ map: 1233 });
    expect(parseBpfFdinfo(prog)).toEqual({ prog: 88 });
    expect(parseBpfFdinfo(link)).toEqual({ prog: 88, link: 12 });
    expect(parseBpfFdinfo('pos:\t0\nflags:\t0100000\nmnt_id:\t23\n')).toEqual({});
  });

  it('finds nothing for a process that does not exist', () => {
    expect(bpfHeldBy(2 ** 22 + 7)).toEqual({ programs: [], maps: [], links: [] });
  });
});
