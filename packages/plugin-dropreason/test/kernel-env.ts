/**
 * Kernel-test environment on top of @retina-ts/testkit: a sender and a receiver network namespace joined by a
 * veth pair, and traffic sent from inside the sender by a child node process (UDP of a given size from a chosen
 * source port, and TCP connection attempts).
 */
import { randomBytes } from 'node:crypto';
import {
  commandExists,
  createNetnsPair as createLinkedNetns,
  programsHeldBy,
  ping,
  type Netns,
} from '@retina-ts/testkit';

/** Requirements of this suite beyond testkit's basics (root, bpftool, ip, a working bpf()). */
export function suiteRequirements(): string | undefined {
  if (!commandExists('iptables')) return 'iptables not found (apt-get install -y iptables)';
  if (!commandExists('ping')) return 'ping not found (apt-get install -y iputils-ping)';
  return undefined;
}

/** Two namespaces joined by a veth pair, IPv4 only (IPv6 off so neighbour discovery adds no drops). */
export interface NetnsPair {
  sender: Netns;
  receiver: Netns;
  senderIp: string;
  receiverIp: string;
  /** Inode of each namespace (what the plugin's netnsInode option takes). */
  senderInode: number;
  receiverInode: number;
  destroy(): void;
}

/** Creates the pair with names unique to this run, and resolves ARP both ways so later packets are not queued. */
export function createNetnsPair(): NetnsPair {
  const octet = randomBytes(1)[0]!;
  const senderIp = `10.234.${octet}.1`;
  const receiverIp = `10.234.${octet}.2`;
  const { ns: sender, peerNs: receiver, destroy } = createLinkedNetns({
    prefix: 'rtsdrs',
    peerPrefix: 'rtsdrr',
    ipv6: false,
    addresses: { local: `${senderIp}/24`, peer: `${receiverIp}/24` },
  });
  try {
    ping(sender, receiverIp, { count: 1, timeout: 5 });
  } catch (err) {
    destroy();
    throw err;
  }
  return {
    sender,
    receiver,
    senderIp,
    receiverIp,
    senderInode: sender.inode,
    receiverInode: receiver.inode,
    destroy,
  };
}

/**
 * Child script: sends UDP datagrams one after another (waiting for each send), then optional TCP connection
 * attempts; send errors (e.g. EPERM from an OUTPUT drop) are expected and ignored.
 */
const SENDER_SCRIPT = `
const dgram = require('node:dgram');
const net = require('node:net');
const plan = JSON.parse(process.argv[1]);
const sock = dgram.createSocket('udp4');
sock.on('error', () => {});
async function main() {
  if (plan.sourcePort) await new Promise((resolve) => sock.bind(plan.sourcePort, resolve));
  for (const u of plan.udp) {
    for (let i = 0; i < u.count; i++) {
      await new Promise((resolve) => sock.send(Buffer.alloc(u.payload, 0x61), u.port, plan.to, () => resolve()));
    }
  }
  sock.close();
  for (const port of plan.tcp) {
    await new Promise((resolve) => {
      const c = net.connect({ host: plan.to, port });
      c.on('error', resolve);
      c.on('connect', () => { c.destroy(); resolve(); });
    });
  }
}
main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
`;

/** What to send from inside a namespace. */
export interface TrafficPlan {
  to: string;
  udp?: Array<{ port: number; count: number; payload: number }>;
  tcp?: number[];
  /** UDP source port (default: an ephemeral one). */
  sourcePort?: number;
}

/** Sends the planned traffic from inside namespace `ns` and returns when every send has completed. */
export function sendFrom(ns: Netns, plan: TrafficPlan): void {
  const full = { to: plan.to, udp: plan.udp ?? [], tcp: plan.tcp ?? [], sourcePort: plan.sourcePort ?? 0 };
  ns.exec(process.execPath, ['-e', SENDER_SCRIPT, JSON.stringify(full)]);
}

/**
 * Polls `check` (which may be async, e.g. reading prom-client values) until it returns true or `timeoutMs`
 * passes; returns the last result. Kernel counters settle asynchronously; this is not a timing assertion.
 */
export async function waitUntil(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Ids of the loaded BPF programs named `prefix...` that this process holds (bpftool and /proc, not the library):
 * programs of the same name loaded by other processes on the machine are theirs, not a leak of this test.
 */
export function programIds(prefix: string): number[] {
  return programsHeldBy(prefix).map((p) => p.id);
}
