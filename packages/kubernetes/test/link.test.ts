import { describe, expect, it } from 'vitest';
import { interfaceFromLink, LinkTable, linkInfoKind, macString, type PodInterface } from '../src/index.js';

// IFLA_LINKINFO of a veth as the kernel sends it: IFLA_INFO_KIND "veth" (len 9, padded to 12).
const VETH_LINKINFO = Buffer.from('09000100766574680000000000', 'hex').subarray(0, 12);
// IFLA_INFO_KIND "bridge" followed by an (empty) nested IFLA_INFO_DATA with NLA_F_NESTED set.
const BRIDGE_LINKINFO = Buffer.from('0b000100627269646765000004000280', 'hex');

describe('link decoding', () => {
  it('finds the kind inside IFLA_LINKINFO', () => {
    expect(linkInfoKind(VETH_LINKINFO)).toBe('veth');
    expect(linkInfoKind(BRIDGE_LINKINFO)).toBe('bridge');
    expect(linkInfoKind(Buffer.from('04000200', 'hex'))).toBeUndefined();
    expect(linkInfoKind(Buffer.from('ff00010076', 'hex'))).toBeUndefined(); // length past the end
    expect(linkInfoKind(undefined)).toBeUndefined();
  });

  it('formats MAC addresses', () => {
    expect(macString(Buffer.from('62b2eaec628d', 'hex'))).toBe('62:b2:ea:ec:62:8d');
    expect(macString(undefined)).toBe('');
  });

  it('reads index, name, kind, peer and state from a link message', () => {
    const link = interfaceFromLink({
      data: { index: 27, flags: { up: true } },
      attrs: { ifname: 'veth1a2b', address: Buffer.from('62b2eaec628d', 'hex'), linkinfo: VETH_LINKINFO, link: Buffer.from('02000000', 'hex'), linkNetnsid: 3 },
    });
    expect(link).toEqual({ index: 27, name: 'veth1a2b', kind: 'veth', mac: '62:b2:ea:ec:62:8d', peerIndex: 2, peerNetnsId: 3, up: true });
    expect(interfaceFromLink({ data: {}, attrs: { ifname: 'x' } })).toBeUndefined();
  });
});

describe('LinkTable', () => {
  const veth = (index: number, name: string, mac = '00:00:00:00:00:01'): PodInterface => ({ index, name, kind: 'veth', mac, up: false });

  it('reports veths added and removed, ignoring other kinds and repeated notifications', () => {
    const t = new LinkTable(new Set(['veth']));
    expect(t.upsert(veth(5, 'a'))).toEqual([{ type: 'added', link: veth(5, 'a') }]);
    expect(t.upsert({ ...veth(5, 'a'), up: true })).toEqual([]);
    expect(t.upsert({ index: 6, name: 'br0', kind: 'bridge', mac: '', up: true })).toEqual([]);
    expect(t.remove(5)).toEqual([{ type: 'removed', link: { ...veth(5, 'a'), up: true } }]);
    expect(t.remove(5)).toEqual([]);
  });

  it('treats a rename as removal and addition', () => {
    const t = new LinkTable(new Set(['veth']));
    t.upsert(veth(5, 'a'));
    expect(t.upsert(veth(5, 'b')).map((e) => [e.type, e.link.name])).toEqual([
      ['removed', 'a'],
      ['added', 'b'],
    ]);
  });

  it('reconciles with a snapshot, marking the first one initial', () => {
    const t = new LinkTable(new Set(['veth']));
    expect(t.replace([veth(1, 'a'), veth(2, 'b')], true)).toEqual([
      { type: 'added', link: veth(1, 'a'), initial: true },
      { type: 'added', link: veth(2, 'b'), initial: true },
    ]);
    expect(t.replace([veth(2, 'b'), veth(3, 'c')]).map((e) => [e.type, e.link.name])).toEqual([
      ['added', 'c'],
      ['removed', 'a'],
    ]);
    expect(t.list().map((l) => l.index)).toEqual([2, 3]);
  });
});
