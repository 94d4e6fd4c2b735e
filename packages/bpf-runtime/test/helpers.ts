import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { BpfObject, type BpfObjectOpenOptions } from '../src/index.js';
import { addonPath } from '../src/native.js';
import { defineStruct } from '../src/struct.js';

/** Compiled test objects (built by the global setup). */
export function fixture(name: 'runtime_test' | 'verifier_reject' | 'slow_verify'): string {
  return fileURLToPath(new URL(`./fixtures/dist/${name}.bpf.o`, import.meta.url));
}

/** Opens a test object. */
export function openFixture(
  name: 'runtime_test' | 'verifier_reject' = 'runtime_test',
  opts?: BpfObjectOpenOptions,
): BpfObject {
  return BpfObject.open(fixture(name), opts);
}

/** Reason the kernel suites cannot run in this checkout (missing addon), for describeKernel's `requires`. */
export function addonMissing(): string | undefined {
  return existsSync(addonPath())
    ? undefined
    : `the native addon is not built (${addonPath()}); run npm run build:native`;
}

/** Slots of the `counts` array map in runtime_test.bpf.c. */
export const Slot = {
  tracepoint: 0,
  rawTracepoint: 1,
  tpBtf: 2,
  tcIngressEcho: 3,
  tcIngressUdp: 4,
  tcEgressReply: 5,
  xdpEcho: 6,
  socketEcho: 7,
  cgroupUdp: 8,
  rxSkb: 9,
  perfSent: 10,
  perfFailed: 11,
} as const;

const U32 = defineStruct({ v: 'u32' });
const U64 = defineStruct({ v: 'u64' });

/** Key buffer for a u32 key. */
export function u32Key(v: number): Buffer {
  return U32.encode({ v });
}

/** u64 value buffer. */
export function u64Value(v: bigint | number): Buffer {
  return U64.encode({ v });
}

/** Reads one slot of `counts`. */
export function count(obj: BpfObject, slot: number): bigint {
  const raw = obj.map('counts').lookup(u32Key(slot));
  return raw ? U64.decode(raw).v : 0n;
}

/** The ring-buffer record of runtime_test.bpf.c (struct event). */
export const Event = defineStruct({
  seq: 'u64',
  cookie: 'u32',
  pktLen: 'u32',
  marker: 'be32',
  ifindex: 'u16',
  kind: 'u8',
  pad: 'u8',
});

/** struct const_echo of runtime_test.bpf.c. */
export const ConstEcho = defineStruct({ big: 'u64', ret: 'i32', flag: 'u8', tag: { bytes: 4 } });

/** A 64-byte Ethernet/IPv4 frame whose 4 bytes after the Ethernet header are `marker` (big endian). */
export function markedPacket(marker: number): Buffer {
  const pkt = Buffer.alloc(64);
  pkt.writeUInt16BE(0x0800, 12);
  pkt.writeUInt32BE(marker, 14);
  return pkt;
}
