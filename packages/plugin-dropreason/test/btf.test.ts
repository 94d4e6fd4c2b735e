import { execFileSync } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Btf, BpfError, kernelEnums, moduleEnums, type BtfEnum } from '@retina-ts/bpf-runtime';
import { BtfKind, buildBtf, enum64Data, enumData, stringSection, type TypeSpec } from './btf-builder.js';

/**
 * Drop-reason names come from libbpf's BTF API in @retina-ts/bpf-runtime. These tests give it BTF written byte by
 * byte from the format description (every kind, both byte orders, split BTF) and the running kernel's BTF, and
 * check it finds the enums the plugin needs exactly as they are.
 */
const dir = mkdtempSync(join(tmpdir(), 'rts-btf-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

/** Writes `blob` to a file of its own and reads the enums with libbpf. */
function findBtfEnums(
  blob: Buffer,
  match: readonly string[] | ((name: string) => boolean),
  opts: { base?: Buffer } = {},
): Map<string, BtfEnum> {
  const path = join(dir, `btf-${files++}`);
  writeFileSync(path, blob);
  let base: Btf | undefined;
  if (opts.base) {
    const basePath = join(dir, `btf-${files++}`);
    writeFileSync(basePath, opts.base);
    base = Btf.open(basePath);
  }
  const btf = Btf.open(path, { base });
  try {
    return btf.enums(match);
  } finally {
    btf.close();
    base?.close();
  }
}

/** One record of every kind the reader must step over, in front of the enum we look for. */
const everyKind: TypeSpec[] = [
  { kind: BtfKind.INT, name: 'int', sizeOrType: 4, data: [0x01000020] },
  { kind: BtfKind.PTR, sizeOrType: 1 },
  { kind: BtfKind.ARRAY, data: [1, 1, 16] },
  {
    kind: BtfKind.STRUCT,
    name: 'pair',
    vlen: 2,
    sizeOrType: 8,
    data: [{ str: 'a' }, 1, 0, { str: 'b' }, 1, 32],
  },
  { kind: BtfKind.UNION, name: 'u', vlen: 1, sizeOrType: 4, data: [{ str: 'x' }, 1, 0] },
  { kind: BtfKind.ENUM, name: 'decoy', vlen: 1, sizeOrType: 4, data: enumData([['DECOY', 7]]) },
  { kind: BtfKind.FWD, name: 'opaque' },
  { kind: BtfKind.TYPEDEF, name: 'int_t', sizeOrType: 1 },
  { kind: BtfKind.VOLATILE, sizeOrType: 1 },
  { kind: BtfKind.CONST, sizeOrType: 1 },
  { kind: BtfKind.RESTRICT, sizeOrType: 2 },
  { kind: BtfKind.FUNC_PROTO, vlen: 2, sizeOrType: 1, data: [{ str: 'p' }, 1, 0, 1] },
  { kind: BtfKind.FUNC, name: 'f', sizeOrType: 12 },
  { kind: BtfKind.VAR, name: 'v', sizeOrType: 1, data: [1] },
  { kind: BtfKind.DATASEC, name: '.data', vlen: 1, sizeOrType: 4, data: [14, 0, 4] },
  { kind: BtfKind.FLOAT, name: 'float', sizeOrType: 4 },
  { kind: BtfKind.DECL_TAG, name: 'tag', sizeOrType: 13, data: [0xffffffff] },
  { kind: BtfKind.TYPE_TAG, name: 'user', sizeOrType: 2 },
  { kind: BtfKind.ENUM64, name: 'big', vlen: 1, sizeOrType: 8, data: enum64Data([['BIG', 1n << 40n]]) },
  { kind: BtfKind.ENUM, vlen: 1, sizeOrType: 4, data: enumData([['ANON', 1]]) },
];

const reasons: TypeSpec = {
  kind: BtfKind.ENUM,
  name: 'skb_drop_reason',
  vlen: 5,
  sizeOrType: 4,
  data: enumData([
    ['SKB_NOT_DROPPED_YET', 0],
    ['SKB_CONSUMED', 1],
    ['SKB_DROP_REASON_NOT_SPECIFIED', 2],
    ['SKB_DROP_REASON_NO_SOCKET', 3],
    ['SKB_DROP_REASON_SUBSYS_MASK', 0xffff0000],
  ]),
};

const expectedReasons = [
  { name: 'SKB_NOT_DROPPED_YET', value: 0n },
  { name: 'SKB_CONSUMED', value: 1n },
  { name: 'SKB_DROP_REASON_NOT_SPECIFIED', value: 2n },
  { name: 'SKB_DROP_REASON_NO_SOCKET', value: 3n },
  { name: 'SKB_DROP_REASON_SUBSYS_MASK', value: 0xffff0000n },
];

describe('enums read through libbpf', () => {
  it('steps over every kind and reads the enum after them (little endian)', () => {
    const blob = buildBtf([...everyKind, reasons]);
    const found = findBtfEnums(blob, ['skb_drop_reason']);
    expect([...found.keys()]).toEqual(['skb_drop_reason']);
    const e = found.get('skb_drop_reason')!;
    expect(e.typeId).toBe(everyKind.length + 1);
    expect(e.size).toBe(4);
    expect(e.signed).toBe(false);
    expect(e.members).toEqual(expectedReasons);
  });

  it('reads big-endian BTF the same way', () => {
    const blob = buildBtf([...everyKind, reasons], { littleEndian: false });
    expect(findBtfEnums(blob, ['skb_drop_reason']).get('skb_drop_reason')!.members).toEqual(expectedReasons);
  });

  it('honours a header longer than 24 bytes', () => {
    const blob = buildBtf([reasons], { extraHeader: 8 });
    expect(findBtfEnums(blob, ['skb_drop_reason']).get('skb_drop_reason')!.members).toEqual(expectedReasons);
  });

  it('reads signed enums and 64-bit enums', () => {
    const blob = buildBtf([
      {
        kind: BtfKind.ENUM,
        name: 'signed32',
        vlen: 2,
        kindFlag: true,
        sizeOrType: 4,
        data: enumData([
          ['NEG', -5],
          ['POS', 5],
        ]),
      },
      {
        kind: BtfKind.ENUM,
        name: 'unsigned32',
        vlen: 1,
        sizeOrType: 4,
        data: enumData([['HIGH', 0xfffffffb]]),
      },
      {
        kind: BtfKind.ENUM64,
        name: 'u64',
        vlen: 1,
        sizeOrType: 8,
        data: enum64Data([['HUGE', 0xfedcba9876543210n]]),
      },
      {
        kind: BtfKind.ENUM64,
        name: 's64',
        vlen: 1,
        kindFlag: true,
        sizeOrType: 8,
        data: enum64Data([['MINUS_ONE', -1n]]),
      },
    ]);
    const found = findBtfEnums(blob, () => true);
    expect(found.get('signed32')!.members.map((m) => m.value)).toEqual([-5n, 5n]);
    expect(found.get('signed32')!.signed).toBe(true);
    expect(found.get('unsigned32')!.members[0]!.value).toBe(0xfffffffbn);
    expect(found.get('u64')!.members[0]!.value).toBe(0xfedcba9876543210n);
    expect(found.get('s64')!.members[0]!.value).toBe(-1n);
  });

  it('accepts a name predicate, skips anonymous enums and keeps the first of two same-named enums', () => {
    const blob = buildBtf([
      ...everyKind,
      { kind: BtfKind.ENUM, name: 'x_drop_reason', vlen: 1, sizeOrType: 4, data: enumData([['FIRST', 1]]) },
      { kind: BtfKind.ENUM, name: 'x_drop_reason', vlen: 1, sizeOrType: 4, data: enumData([['SECOND', 2]]) },
    ]);
    const found = findBtfEnums(blob, (n) => n.endsWith('_drop_reason'));
    expect([...found.keys()]).toEqual(['x_drop_reason']);
    expect(found.get('x_drop_reason')!.members[0]!.name).toBe('FIRST');
    expect(findBtfEnums(blob, () => true).has('')).toBe(false);
  });

  it('returns an empty map when the enum is absent (kernels before 5.17)', () => {
    expect(findBtfEnums(buildBtf(everyKind), ['skb_drop_reason']).size).toBe(0);
  });

  it('reads split BTF whose names live partly in the base', () => {
    const base = buildBtf([...everyKind, reasons]);
    const split = buildBtf(
      [
        { kind: BtfKind.PTR, sizeOrType: 1 },
        // "decoy" is a base string, the members are the module's own.
        {
          kind: BtfKind.ENUM,
          name: 'decoy',
          vlen: 1,
          sizeOrType: 4,
          data: enumData([['OVS_DROP_FLOW', 0x20001]]),
        },
        {
          kind: BtfKind.ENUM,
          name: 'ovs_drop_reason',
          vlen: 2,
          sizeOrType: 4,
          data: enumData([
            ['OVS_DROP_LAST_ACTION', 0x20001],
            ['OVS_DROP_ACTION_ERROR', 0x20002],
          ]),
        },
      ],
      { baseStrings: stringSection(base) },
    );
    const found = findBtfEnums(split, () => true, { base });
    expect(found.get('decoy')!.members).toEqual([{ name: 'OVS_DROP_FLOW', value: 0x20001n }]);
    expect(found.get('ovs_drop_reason')!.typeId).toBe(everyKind.length + 4);
    expect(found.get('ovs_drop_reason')!.members.map((m) => m.name)).toEqual([
      'OVS_DROP_LAST_ACTION',
      'OVS_DROP_ACTION_ERROR',
    ]);
  });
});

describe('BTF that libbpf refuses', () => {
  const good = buildBtf([reasons]);
  const refused = (blob: Buffer): unknown => {
    try {
      findBtfEnums(blob, ['skb_drop_reason']);
    } catch (err) {
      return err;
    }
    return undefined;
  };

  it('is an error naming the file, never a crash: short, wrong magic, cut sections, unknown kind', () => {
    const badMagic = Buffer.from(good);
    badMagic.writeUInt16LE(0x7f45, 0);
    const cutRecord = Buffer.from(good);
    cutRecord.writeUInt32LE(((6 << 24) | 50) >>> 0, 24 + 4);
    for (const blob of [
      good.subarray(0, 10),
      badMagic,
      good.subarray(0, good.length - 3),
      cutRecord,
      buildBtf([{ kind: 23, name: 'future' }, reasons]),
    ]) {
      const err = refused(blob);
      expect(err).toBeInstanceOf(BpfError);
      expect((err as Error).message).toMatch(new RegExp(`^parse BTF ${dir}/btf-\\d+ failed: E[A-Z]+`));
    }
  });
  it('reads a member name outside the string section as empty, never past it', () => {
    const badNameOff = buildBtf([{ kind: BtfKind.ENUM, name: 'e', vlen: 1, sizeOrType: 4, data: [9999, 1] }]);
    expect(findBtfEnums(badNameOff, ['e']).get('e')!.members).toEqual([{ name: '', value: 1n }]);
  });
  it('names the file when reading the kernel BTF fails', () => {
    expect(() => kernelEnums(['skb_drop_reason'], '/nonexistent/btf')).toThrow(
      /^parse BTF \/nonexistent\/btf failed: ENOENT/,
    );
  });
});

describe('moduleEnums', () => {

  it('reads matching enums from every module file, skipping vmlinux and broken files', () => {
    const base = buildBtf([...everyKind, reasons]);
    const modules = mkdtempSync(join(dir, 'modules-'));
    writeFileSync(join(modules, 'vmlinux'), base);
    const strings = stringSection(base);
    writeFileSync(
      join(modules, 'openvswitch'),
      buildBtf(
        [
          {
            kind: BtfKind.ENUM,
            name: 'ovs_drop_reason',
            vlen: 1,
            sizeOrType: 4,
            data: enumData([['OVS_DROP_LAST_ACTION', 0x20001]]),
          },
        ],
        { baseStrings: strings },
      ),
    );
    writeFileSync(
      join(modules, 'other'),
      buildBtf(
        [{ kind: BtfKind.ENUM, name: 'unrelated', vlen: 1, sizeOrType: 4, data: enumData([['X', 1]]) }],
        { baseStrings: strings },
      ),
    );
    writeFileSync(join(modules, 'broken'), Buffer.from('not btf at all, not at all'));
    const found = moduleEnums((n) => n.endsWith('_drop_reason'), { dir: modules });
    expect(found.map((e) => [e.module, e.name, e.members.map((m) => m.name)])).toEqual([
      ['openvswitch', 'ovs_drop_reason', ['OVS_DROP_LAST_ACTION']],
    ]);
  });
});

/** The running kernel's BTF checked against bpftool's independent reading of the same file. */
function kernelBtfAndBpftool(): string | undefined {
  try {
    accessSync('/sys/kernel/btf/vmlinux', constants.R_OK);
    execFileSync('bpftool', ['version'], { stdio: 'ignore' });
    return undefined;
  } catch {
    return 'needs /sys/kernel/btf/vmlinux and bpftool';
  }
}

describe.skipIf(kernelBtfAndBpftool() !== undefined)('the running kernel', () => {
  it('reads enum skb_drop_reason exactly as bpftool does', () => {
    const ours = kernelEnums(['skb_drop_reason', 'skb_drop_reason_subsys'], '/sys/kernel/btf/vmlinux');
    const raw = execFileSync('bpftool', ['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux', 'format', 'raw'], {
      encoding: 'utf8',
      maxBuffer: 512 * 1024 * 1024,
    });
    for (const name of ['skb_drop_reason', 'skb_drop_reason_subsys']) {
      const lines = raw.split('\n');
      const at = lines.findIndex((l) => new RegExp(`^\\[(\\d+)\\] ENUM(64)? '${name}' `).test(l));
      expect(at, `bpftool shows enum ${name}`).toBeGreaterThanOrEqual(0);
      const id = Number(/^\[(\d+)\]/.exec(lines[at]!)![1]);
      const members: Array<{ name: string; value: bigint }> = [];
      for (let i = at + 1; i < lines.length && lines[i]!.startsWith('\t'); i++) {
        const m = /^\t'([^']+)' val=(-?\d+)/.exec(lines[i]!);
        if (m) members.push({ name: m[1]!, value: BigInt(m[2]!) });
      }
      const e = ours.get(name)!;
      expect(e.typeId).toBe(id);
      expect(e.members).toEqual(members);
    }
    expect(ours.get('skb_drop_reason')!.members.length).toBeGreaterThan(10);
  });
});
