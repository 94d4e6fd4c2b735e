import { describe, expect, it } from 'vitest';

import { defineStruct } from '../src/struct.js';
import type { RecordBatch } from '../src/ringbuf.js';
import { Event } from './helpers.js';

describe('defineStruct layout', () => {
  it('aligns each field to its own size and pads the tail to the largest alignment', () => {
    // struct { __u8 a; __u32 b; __u16 c; __u64 d; __u8 e; } → offsets 0, 4, 8, 16, 24; sizeof 32
    const S = defineStruct({ a: 'u8', b: 'u32', c: 'u16', d: 'u64', e: 'u8' });
    expect(S.offsets).toEqual({ a: 0, b: 4, c: 8, d: 16, e: 24 });
    expect(S.size).toBe(32);
    expect(S.align).toBe(8);
  });

  it('mirrors the ring-buffer record of the test object (struct event)', () => {
    expect(Event.size).toBe(24);
    expect(Event.offsets.ifindex).toBe(20);
  });

  it('packs fields without padding when asked', () => {
    const P = defineStruct({ a: 'u8', b: 'u32', c: 'u16' }, { packed: true });
    expect(P.offsets).toEqual({ a: 0, b: 1, c: 5 });
    expect(P.size).toBe(7);
  });

  it('lays out arrays, byte fields, strings and nested structs', () => {
    const Inner = defineStruct({ x: 'u16', y: 'u32' }); // size 8, align 4
    const S = defineStruct({
      tag: 'u8',
      inner: Inner,
      addrs: { array: 'ipv4', length: 2 },
      comm: { string: 5 },
      raw: { bytes: 3 },
      v6: 'ipv6',
    });
    expect(Inner.size).toBe(8);
    expect(S.offsets).toEqual({ tag: 0, inner: 4, addrs: 12, comm: 20, raw: 25, v6: 28 });
    expect(S.size).toBe(44);
  });

  it('rejects unknown field types and non-identifier names', () => {
    expect(() => defineStruct({ a: 'u24' as never })).toThrow(/unknown field type 'u24'/);
    expect(() => defineStruct({ 'bad-name': 'u8' })).toThrow(/must be a JavaScript identifier/);
  });
});

describe('defineStruct decode/encode', () => {
  const Flow = defineStruct({
    ts: 'u64',
    saddr: 'ipv4',
    daddr: 'ipv4',
    sport: 'be16',
    dport: 'be16',
    proto: 'u8',
    reply: 'bool',
    delta: 'i32',
    bytes: 'u64',
    src6: 'ipv6',
    mac: 'mac',
    comm: { string: 8 },
    counters: { array: 'u16', length: 3 },
    blob: { bytes: 2 },
  });

  const fixture = Buffer.alloc(Flow.size);
  fixture.writeBigUInt64LE(123456789012345n, 0);
  fixture.set([10, 0, 0, 1], 8);
  fixture.set([192, 168, 1, 20], 12);
  fixture.writeUInt16BE(53, 16);
  fixture.writeUInt16BE(40000, 18);
  fixture[20] = 17;
  fixture[21] = 1;
  fixture.writeInt32LE(-5, 24);
  fixture.writeBigUInt64LE(2n ** 60n + 7n, 32);
  fixture.set([0xfd, 0, 0, 0x12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 40);
  fixture.set([0xaa, 0xbb, 0xcc, 0x01, 0x02, 0x03], 56);
  fixture.write('node\0', 62, 'latin1');
  fixture.writeUInt16LE(1, 70);
  fixture.writeUInt16LE(2, 72);
  fixture.writeUInt16LE(65535, 74);
  fixture.set([9, 8], 76);

  it('decodes every field type from a hand-built buffer', () => {
    expect(Flow.decode(fixture)).toEqual({
      ts: 123456789012345n,
      saddr: '10.0.0.1',
      daddr: '192.168.1.20',
      sport: 53,
      dport: 40000,
      proto: 17,
      reply: true,
      delta: -5,
      bytes: 2n ** 60n + 7n,
      src6: 'fd00:12::1',
      mac: 'aa:bb:cc:01:02:03',
      comm: 'node',
      counters: [1, 2, 65535],
      blob: Buffer.from([9, 8]),
    });
  });

  it('decodes from a Buffer that views a larger ArrayBuffer at an odd offset', () => {
    const backing = Buffer.alloc(Flow.size + 13, 0xee);
    fixture.copy(backing, 5);
    const view = backing.subarray(5, 5 + Flow.size);
    expect(view.byteOffset % 2).toBe(1);
    expect(Flow.decode(view)).toEqual(Flow.decode(fixture));
  });

  it('decodes each integer type with its sign and byte order', () => {
    const I = defineStruct({ a: 'i8', b: 'i16', c: 'u16', d: 'u32', e: 'be32', f: 'i64', g: 'be64' });
    const buf = Buffer.alloc(I.size);
    buf.writeInt8(-3, I.offsets.a);
    buf.writeInt16LE(-300, I.offsets.b);
    buf.writeUInt16LE(0xfffe, I.offsets.c);
    buf.writeUInt32LE(0xfffffffe, I.offsets.d);
    buf.writeUInt32BE(0x0ac80001, I.offsets.e);
    buf.writeBigInt64LE(-(2n ** 62n), I.offsets.f);
    buf.writeBigUInt64BE(2n ** 63n + 1n, I.offsets.g);
    expect(I.decode(buf)).toEqual({
      a: -3,
      b: -300,
      c: 0xfffe,
      d: 0xfffffffe,
      e: 0x0ac80001,
      f: -(2n ** 62n),
      g: 2n ** 63n + 1n,
    });
  });

  it('decodes into an existing object, overwriting every field', () => {
    const target = Flow.decode(Buffer.alloc(Flow.size));
    const same = Flow.decodeInto(target, fixture);
    expect(same).toBe(target);
    expect(target).toEqual(Flow.decode(fixture));
    expect(() => Flow.decodeInto(target, fixture, 1)).toThrow(RangeError);
  });

  it('round-trips through encode', () => {
    const value = Flow.decode(fixture);
    expect(Flow.encode(value).equals(fixture.subarray(0, Flow.size))).toBe(true);
  });

  it('decodes 64-bit fields as numbers when asked', () => {
    const N = defineStruct({ a: 'u64', b: 'i64', c: 'be64' }, { u64: 'number' });
    const buf = Buffer.alloc(24);
    buf.writeBigUInt64LE(2n ** 52n + 3n, 0);
    buf.writeBigInt64LE(-(2n ** 40n), 8);
    buf.writeBigUInt64BE(5000000000n, 16);
    expect(N.decode(buf)).toEqual({ a: 2 ** 52 + 3, b: -(2 ** 40), c: 5000000000 });
  });

  it('decodes at an offset and refuses to read past the end', () => {
    const S = defineStruct({ a: 'u32' });
    const buf = Buffer.from([0, 0, 1, 0, 0, 0]);
    expect(S.decode(buf, 2)).toEqual({ a: 1 });
    expect(() => S.decode(buf, 3)).toThrow(RangeError);
  });

  it('encodes missing fields as zero and rejects unknown ones', () => {
    const S = defineStruct({ a: 'u32', b: 'u16' });
    expect(S.encode({ b: 0x0102 })).toEqual(Buffer.from([0, 0, 0, 0, 2, 1, 0, 0]));
    expect(() => S.encode({ c: 1 } as never)).toThrow(/unknown field 'c'/);
  });

  it('checks values while encoding', () => {
    const S = defineStruct({ a: 'u8', s: { string: 3 }, ip: 'ipv4' });
    expect(() => S.encode({ a: 256 })).toThrow(RangeError);
    expect(() => S.encode({ s: 'toolong' })).toThrow(/field 's'/);
    expect(() => S.encode({ ip: 'not-an-ip' })).toThrow(/not an IPv4 address/);
  });

  it('encodes into an existing buffer, zeroing the struct first', () => {
    const S = defineStruct({ a: 'u16' });
    const buf = Buffer.alloc(6, 0xff);
    S.encodeInto({ a: 1 }, buf, 2);
    expect(buf).toEqual(Buffer.from([0xff, 0xff, 1, 0, 0xff, 0xff]));
  });

  it('decodes a record batch laid out like the ring-buffer reader delivers it', () => {
    const S = defineStruct({ id: 'u32', v: 'u16' }); // size 8
    const ab = new ArrayBuffer(16 + 16);
    const data = Buffer.from(ab, 0, 16);
    S.encodeInto({ id: 7, v: 1 }, data, 0);
    S.encodeInto({ id: 8, v: 2 }, data, 8);
    const offsets = new Uint32Array(ab, 16, 2);
    const lengths = new Uint32Array(ab, 24, 2);
    offsets.set([0, 8]);
    lengths.set([8, 8]);
    const batch: RecordBatch = { count: 2, buffer: data, offsets, lengths };
    expect(S.decodeBatch(batch)).toEqual([
      { id: 7, v: 1 },
      { id: 8, v: 2 },
    ]);
    lengths[1] = 4;
    expect(() => S.decodeBatch(batch)).toThrow(/record 1 has 4 bytes/);
  });

  it('visits every record of a batch with one reused object', () => {
    const S = defineStruct({ id: 'u32', v: 'u16' }, {});
    const ab = new ArrayBuffer(24 + 24);
    const data = Buffer.from(ab, 24, 24);
    [1, 2, 3].forEach((id, i) => S.encodeInto({ id, v: id * 10 }, data, i * 8));
    const offsets = new Uint32Array(ab, 0, 3);
    const lengths = new Uint32Array(ab, 12, 3);
    offsets.set([0, 8, 16]);
    lengths.set([8, 8, 8]);
    const seen: string[] = [];
    const objects = new Set<object>();
    S.forEach({ count: 3, buffer: data, offsets, lengths }, (r, i) => {
      seen.push(`${i}:${r.id}:${r.v}`);
      objects.add(r);
    });
    expect(seen).toEqual(['0:1:10', '1:2:20', '2:3:30']);
    expect(objects.size).toBe(1);
    lengths[2] = 6;
    expect(() => S.forEach({ count: 3, buffer: data, offsets, lengths }, () => undefined)).toThrow(
      /record 2 has 6 bytes/,
    );
  });
  it('forEach decodes every field as decode() does, through aligned views and from unaligned records', () => {
    const All = defineStruct(
      {
        a: 'i8',
        ok: 'bool',
        b: 'i16',
        c: 'u16',
        port: 'be16',
        d: 'u32',
        e: 'be32',
        n: 'i32',
        ip: 'ipv4',
        t: 'u64',
        f: 'i64',
        g: 'be64',
        name: { string: 4 },
      },
      { u64: 'number' },
    );
    const values = [
      { a: -3, ok: true, b: -300, c: 0xfffe, port: 443, d: 0xfffffffe, e: 0x0ac80001, n: -7, ip: '10.0.0.1' },
      {
        a: 127,
        ok: false,
        b: 32767,
        c: 1,
        port: 65535,
        d: 0,
        e: 0xffffffff,
        n: 2 ** 31 - 1,
        ip: '255.1.2.3',
      },
    ];
    const stride = All.size + 8;
    // Record starts 8-byte aligned (the ring's records) and shifted by 4 (not aligned for the u64 fields).
    for (const shift of [0, 4]) {
      const buffer = Buffer.alloc(8 + stride * values.length);
      const offsets = new Uint32Array(values.length);
      const lengths = new Uint32Array(values.length).fill(All.size);
      values.forEach((v, i) => {
        offsets[i] = 8 + i * stride + shift;
        All.encodeInto(
          { ...v, t: 2 ** 52 + i, f: -(2 ** 40) - i, g: 2 ** 33 + 5 + i, name: 'ab' },
          buffer,
          offsets[i],
        );
      });
      const seen: unknown[] = [];
      All.forEach({ count: values.length, buffer, offsets, lengths }, (r) => seen.push({ ...r }));
      expect(seen).toEqual(values.map((_, i) => All.decode(buffer, offsets[i])));
      expect(seen[1]).toMatchObject({
        ...values[1],
        t: 2 ** 52 + 1,
        f: -(2 ** 40) - 1,
        g: 2 ** 33 + 6,
        name: 'ab',
      });
    }
  });
});
