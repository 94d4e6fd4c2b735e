/**
 * Kernel-test environment: one end of a veth pair in the test process's namespace (where the plugin attaches, as
 * it would on a node's eth0), the other end in a throwaway namespace. The pair is made silent (IPv6 off, static
 * neighbour entries both ways, forwarding off in the namespace) so that every packet on it is one the test sent.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { MetricsModule } from '@retina-ts/core';
import { createTestContext, startTestPlugin } from '@retina-ts/core/testing';
import { createNetns, createVethPair, run, type Netns, type VethPair } from '@retina-ts/testkit';
import { PacketForwardPlugin } from '../src/plugin.js';
import type { PacketForwardOptions } from '../src/options.js';

/** Frame overhead of a UDP datagram over Ethernet + IPv4: 14 + 20 + 8 bytes. */
export const UDP_FRAME_OVERHEAD = 42;

/** The veth pair and its addresses. */
export interface SilentLink {
  ns: Netns;
  veth: VethPair;
  /** Host-side interface (in this process's namespace). */
  hostIf: string;
  hostIp: string;
  nsIp: string;
  /** On the namespace's subnet but nobody's: frames to it reach the namespace and die there without a reply. */
  sinkIp: string;
  destroy(): void;
}

function mac(ns: Netns | undefined, ifname: string): string {
  const out = ns ? ns.ip(['-j', 'link', 'show', 'dev', ifname]).stdout : run('ip', ['-j', 'link', 'show', 'dev', ifname]).stdout;
  const [link] = JSON.parse(out) as Array<{ address: string }>;
  if (!link) throw new Error(`no link ${ifname}`);
  return link.address;
}

/** Creates the silent pair with addresses unique to this run. */
export function createSilentLink(): SilentLink {
  const octet = randomBytes(1)[0]!;
  const hostIp = `10.236.${octet}.1`;
  const nsIp = `10.236.${octet}.2`;
  const sinkIp = `10.236.${octet}.99`;
  const ns = createNetns('rtspf');
  let veth: VethPair | undefined;
  try {
    ns.exec('sysctl', ['-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1', 'net.ipv4.conf.all.forwarding=0']);
    veth = createVethPair({ peerNs: ns, up: false, addresses: { local: `${hostIp}/24`, peer: `${nsIp}/24` } });
    const hostIf = veth.name;
    // Before the link comes up, so no router solicitation or MLD report is ever sent on it.
    run('sysctl', ['-qw', `net.ipv6.conf.${hostIf}.disable_ipv6=1`]);
    run('ip', ['link', 'set', hostIf, 'up']);
    ns.ip(['link', 'set', veth.peerName, 'up']);
    run('ip', ['neigh', 'replace', nsIp, 'lladdr', mac(ns, veth.peerName), 'dev', hostIf, 'nud', 'permanent']);
    run('ip', ['neigh', 'replace', sinkIp, 'lladdr', mac(ns, veth.peerName), 'dev', hostIf, 'nud', 'permanent']);
    ns.ip(['neigh', 'replace', hostIp, 'lladdr', mac(undefined, hostIf), 'dev', veth.peerName, 'nud', 'permanent']);
    const pair = veth;
    return {
      ns,
      veth: pair,
      hostIf,
      hostIp,
      nsIp,
      sinkIp,
      destroy() {
        pair.destroy();
        ns.destroy();
      },
    };
  } catch (err) {
    veth?.destroy();
    ns.destroy();
    throw err;
  }
}

/** The kernel's own counters of an interface in this namespace. */
export interface InterfaceCounters {
  rxPackets: number;
  rxBytes: number;
  txPackets: number;
  txBytes: number;
}

/** Reads /sys/class/net/<ifname>/statistics. */
export function interfaceCounters(ifname: string): InterfaceCounters {
  const read = (name: string) => Number(readFileSync(`/sys/class/net/${ifname}/statistics/${name}`, 'utf8'));
  return {
    rxPackets: read('rx_packets'),
    rxBytes: read('rx_bytes'),
    txPackets: read('tx_packets'),
    txBytes: read('tx_bytes'),
  };
}

/** A plugin instance with its context, started, and a stop that also ends start(). */
export interface Harness {
  plugin: PacketForwardPlugin;
  metrics: MetricsModule;
  running: Promise<void>;
  stop(): Promise<void>;
}

/** Creates, inits and starts a plugin; `metrics` lets a second instance share the first one's module. */
export async function startPlugin(
  options: PacketForwardOptions,
  opts: { metrics?: MetricsModule; enableTCX?: 'auto' | 'off'; interval?: string } = {},
): Promise<Harness> {
  const { ctx, metrics } = createTestContext({
    name: 'packetforward',
    options,
    config: { enableTCX: opts.enableTCX ?? 'auto', metricsIntervalDuration: opts.interval ?? '1h' },
    logLevel: 'silent',
    nodeName: 'kernel-test-node',
    ...(opts.metrics ? { metrics: opts.metrics } : {}),
  });
  const plugin = new PacketForwardPlugin();
  const { running, stop } = await startTestPlugin(plugin, ctx);
  return { plugin, metrics, running, stop };
}

/** Current value of a forward_* gauge for one direction (undefined when not set). */
export async function gaugeValue(
  gauge: MetricsModule['basic']['forwardCount'],
  direction: 'ingress' | 'egress',
): Promise<number | undefined> {
  return (await gauge.get()).values.find((v) => v.labels.direction === direction)?.value;
}
