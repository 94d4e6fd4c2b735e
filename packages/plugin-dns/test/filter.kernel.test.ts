/**
 * The socket filter in the real kernel, fed crafted frames with BPF_PROG_TEST_RUN: which packets become records,
 * what each record holds, what the kernel counters say, and that the record layout in src/decode.ts matches the
 * compiled struct (read from the object's BTF).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { BpfObject, RingBufferReader, sumPerCpuU64, type BpfMap } from '@retina-ts/bpf-runtime';
import { describeKernel, waitFor } from '@retina-ts/testkit';
import { DNS_EVENT_HEADER_SIZE, decodeEventHeader } from '../src/decode.js';
import { DNS_EVENTS_MAP, DNS_PROGRAM, DNS_STATS_MAP, KernelStat, defaultObjectPath } from '../src/plugin.js';
import { dnsPortsConstant } from '../src/options.js';
import { QUERY_TUPLE, a, frame, query, response } from './packets.js';

/** A loaded filter and everything it wrote. */
class FilterUnderTest {
  readonly obj: BpfObject;
  readonly records: Buffer[] = [];
  readonly #reader: RingBufferReader;
  readonly #stats: BpfMap;

  constructor(constants: { dns_ports?: Buffer; capture_bytes?: number; dup_window_ns?: bigint } = {}) {
    this.obj = BpfObject.open(defaultObjectPath(), { name: 'rts_dns_test' });
    for (const [k, v] of Object.entries(constants)) this.obj.setConstant(k, v);
    this.obj.setMapMaxEntries(DNS_EVENTS_MAP, 1 << 20);
    this.obj.load();
    this.#stats = this.obj.map(DNS_STATS_MAP);
    this.#reader = new RingBufferReader(this.obj.map(DNS_EVENTS_MAP), {
      onBatch: (b) => {
        for (let i = 0; i < b.count; i++) {
          const off = b.offsets[i] as number;
          this.records.push(Buffer.from(b.buffer.subarray(off, off + (b.lengths[i] as number))));
        }
      },
    }).start();
  }

  /** Runs the filter on `packet` and returns the program's return value. */
  feed(packet: Buffer): number {
    return this.obj.program(DNS_PROGRAM).testRun(packet).retval;
  }

  /** A kernel counter summed over CPUs. */
  stat(index: number): number {
    const key = Buffer.alloc(4);
    key.writeUInt32LE(index);
    return Number(sumPerCpuU64(this.#stats.lookupPerCpu(key) ?? []));
  }

  /** Waits until `n` records have arrived in total. */
  async waitRecords(n: number): Promise<Buffer[]> {
    await waitFor(() => this.records.length >= n, {
      description: `${n} ring-buffer records`,
      timeoutMs: 5000,
    });
    return this.records;
  }

  close(): void {
    this.#reader.stop();
    this.obj.close();
  }
}

describeKernel('dns socket filter (BPF_PROG_TEST_RUN)', () => {
  let f: FilterUnderTest;

  beforeAll(() => {
    f = new FilterUnderTest();
  });
  afterAll(() => f?.close());

  it('copies an IPv4 UDP query into a record and never keeps the packet on the socket', async () => {
    const before = f.records.length;
    const msg = query('example.com', 'A', 0x4242);
    const packet = frame(msg, QUERY_TUPLE);
    expect(f.feed(packet)).toBe(0);
    const rec = (await f.waitRecords(before + 1))[before] as Buffer;
    const h = decodeEventHeader(rec, 0, rec.length);
    expect(h).toMatchObject({
      family: 4,
      ...QUERY_TUPLE,
      protocol: 17,
      messageLength: msg.length,
      capturedLength: msg.length,
      // BPF_PROG_TEST_RUN hands a socket filter the packet from its IP header on.
      packetLength: packet.length - 14,
    });
    expect(h.tsNs).toBeGreaterThan(0n);
    expect(rec.subarray(DNS_EVENT_HEADER_SIZE)).toEqual(msg);
  });

  it('walks IPv6 extension headers to the UDP header', async () => {
    const before = f.records.length;
    const msg = query('v6.example', 'AAAA');
    expect(
      f.feed(frame(msg, { source: 'fd00:77::2', destination: 'fd00:77::53', ipv6Extensions: [0, 60] })),
    ).toBe(0);
    const rec = (await f.waitRecords(before + 1))[before] as Buffer;
    expect(decodeEventHeader(rec, 0, rec.length)).toMatchObject({
      family: 6,
      source: 'fd00:77::2',
      destination: 'fd00:77::53',
      protocol: 17,
      messageLength: msg.length,
    });
    expect(rec.subarray(DNS_EVENT_HEADER_SIZE)).toEqual(msg);
  });

  it('steps over the TCP length prefix', async () => {
    const before = f.records.length;
    const msg = response('t.example', 'A', [a('t.example', '192.0.2.1')]);
    f.feed(
      frame(msg, {
        protocol: 6,
        source: '10.1.0.53',
        destination: '10.1.0.2',
        sourcePort: 53,
        destinationPort: 40002,
      }),
    );
    const rec = (await f.waitRecords(before + 1))[before] as Buffer;
    expect(decodeEventHeader(rec, 0, rec.length)).toMatchObject({
      protocol: 6,
      sourcePort: 53,
      messageLength: msg.length,
    });
    expect(rec.subarray(DNS_EVENT_HEADER_SIZE)).toEqual(msg);
  });

  it('copies at most capture_bytes of a long message and reports its full length', async () => {
    const before = f.records.length;
    const answers = Array.from({ length: 60 }, (_, i) => a('big.example', `198.51.100.${i + 1}`));
    const msg = response('big.example', 'A', answers);
    expect(msg.length).toBeGreaterThan(512);
    f.feed(
      frame(msg, { source: '10.1.0.53', destination: '10.1.0.2', sourcePort: 53, destinationPort: 40003 }),
    );
    const rec = (await f.waitRecords(before + 1))[before] as Buffer;
    const h = decodeEventHeader(rec, 0, rec.length);
    expect([h.messageLength, h.capturedLength, rec.length]).toEqual([
      msg.length,
      512,
      DNS_EVENT_HEADER_SIZE + 512,
    ]);
    expect(rec.subarray(DNS_EVENT_HEADER_SIZE)).toEqual(msg.subarray(0, 512));
  });

  it('ignores other ports, later fragments and segments without a DNS message, counting the latter', async () => {
    const matchedBefore = f.stat(KernelStat.MATCHED);
    const noMessageBefore = f.stat(KernelStat.NO_MESSAGE);
    const recordsBefore = f.records.length;
    const msg = query('x.example');
    f.feed(frame(msg, { sourcePort: 40000, destinationPort: 5354 })); // not a DNS port
    f.feed(frame(msg, { fragmentOffset: 185 })); // a later IPv4 fragment
    f.feed(frame(Buffer.alloc(0), { protocol: 6, tcpLengthPrefix: false })); // a bare ACK
    f.feed(frame(Buffer.alloc(8), { protocol: 17 })); // UDP payload shorter than a DNS header
    // A segment continuing a long message: no length prefix, and what would be QDCOUNT is large.
    f.feed(
      frame(Buffer.from(Array.from({ length: 40 }, (_, i) => (i * 37) & 0xff)), {
        protocol: 6,
        tcpLengthPrefix: false,
      }),
    );
    // Something that is not IP at all (an ARP request).
    const arp = Buffer.alloc(42);
    arp.writeUInt16BE(0x0806, 12);
    f.feed(arp);
    // The marker: the first record after these must be this query.
    const marker = query('marker.example');
    f.feed(frame(marker));
    const rec = (await f.waitRecords(recordsBefore + 1))[recordsBefore] as Buffer;
    expect(rec.subarray(DNS_EVENT_HEADER_SIZE)).toEqual(marker);
    expect(f.records.length).toBe(recordsBefore + 1);
    expect(f.stat(KernelStat.MATCHED) - matchedBefore).toBe(1);
    expect(f.stat(KernelStat.NO_MESSAGE) - noMessageBefore).toBe(3);
  });

  it('counts every record it writes', () => {
    expect(f.stat(KernelStat.WRITTEN)).toBe(f.records.length);
    expect(f.stat(KernelStat.MATCHED)).toBe(f.stat(KernelStat.WRITTEN) + f.stat(KernelStat.RINGBUF_FULL));
    expect(f.stat(KernelStat.RINGBUF_FULL)).toBe(0);
  });

  it('watches 53 and 5353 by default (source or destination), and nothing else', async () => {
    const before = f.records.length;
    f.feed(frame(query('mdns.example'), { destinationPort: 5353 }));
    const answer = response('mdns.example', 'A', [a('mdns.example', '10.0.0.9')]);
    f.feed(frame(answer, { sourcePort: 5353, destinationPort: 40_000 }));
    f.feed(frame(query('other.example'), { destinationPort: 5354 }));
    const recs = await f.waitRecords(before + 2);
    const ports = recs.slice(before).map((r) => decodeEventHeader(r, 0, r.length));
    expect(ports.map((h) => [h.sourcePort, h.destinationPort])).toEqual([
      [40_000, 5353],
      [5353, 40_000],
    ]);
    expect(f.records.length).toBe(before + 2);
  });

  it('matches the configured ports only', async () => {
    const other = new FilterUnderTest({ dns_ports: dnsPortsConstant([5353]), capture_bytes: 64 });
    try {
      other.feed(frame(query('x.example'), { destinationPort: 53 }));
      const long = query(`${'l'.repeat(60)}.example`);
      other.feed(frame(long, { destinationPort: 5353 }));
      const rec = (await other.waitRecords(1))[0] as Buffer;
      expect(other.records).toHaveLength(1);
      expect(decodeEventHeader(rec, 0, rec.length)).toMatchObject({
        destinationPort: 5353,
        capturedLength: 64,
        messageLength: long.length,
      });
    } finally {
      other.close();
    }
  });

  it('reports a copy of a message seen again within the duplicate window once, and counts the copy', async () => {
    // A window of 60 s: the copy is inside it however long the machine takes between the two runs.
    const wide = new FilterUnderTest({ dup_window_ns: 60_000_000_000n });
    try {
      const packet = frame(query('twice.example', 'A', 0x7777));
      wide.feed(packet);
      wide.feed(packet);
      const marker = query('after-twice.example');
      wide.feed(frame(marker));
      const recs = await wide.waitRecords(2);
      expect(recs.map((r) => r.subarray(DNS_EVENT_HEADER_SIZE))).toEqual([query('twice.example', 'A', 0x7777), marker]);
      expect(wide.stat(KernelStat.DUPLICATE)).toBe(1);
    } finally {
      wide.close();
    }
  });

  it('reports a message again once the duplicate window has passed, and every copy with a window of 0', async () => {
    const short = new FilterUnderTest({ dup_window_ns: 1_000_000n });
    const none = new FilterUnderTest({ dup_window_ns: 0n });
    try {
      const packet = frame(query('again.example'));
      short.feed(packet);
      await new Promise((r) => setTimeout(r, 5)); // longer than the 1 ms window
      short.feed(packet);
      none.feed(packet);
      none.feed(packet);
      expect((await short.waitRecords(2)).length).toBe(2);
      expect((await none.waitRecords(2)).length).toBe(2);
      expect([short.stat(KernelStat.DUPLICATE), none.stat(KernelStat.DUPLICATE)]).toEqual([0, 0]);
    } finally {
      short.close();
      none.close();
    }
  });

  it('counts records lost to a full ring buffer instead of waiting', () => {
    const tiny = BpfObject.open(defaultObjectPath(), { name: 'rts_dns_full' });
    try {
      tiny.setConstant('dup_window_ns', 0n);
      tiny.setMapMaxEntries(DNS_EVENTS_MAP, 4096);
      tiny.load();
      // No reader: the 4 KiB ring fills after a few dozen records and the rest are counted as lost.
      const packet = frame(query('fill.example'));
      for (let i = 0; i < 100; i++) tiny.program(DNS_PROGRAM).testRun(packet);
      const key = (i: number) => {
        const k = Buffer.alloc(4);
        k.writeUInt32LE(i);
        return k;
      };
      const stat = (i: number) => Number(sumPerCpuU64(tiny.map(DNS_STATS_MAP).lookupPerCpu(key(i)) ?? []));
      expect(stat(KernelStat.MATCHED)).toBe(100);
      expect(stat(KernelStat.RINGBUF_FULL)).toBeGreaterThan(0);
      expect(stat(KernelStat.WRITTEN) + stat(KernelStat.RINGBUF_FULL)).toBe(100);
    } finally {
      tiny.close();
    }
  });
});
