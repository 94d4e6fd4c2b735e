// Synthetic flows for the Hubble benches, shaped as the enricher leaves them in a cluster.
import { FlowType, IpVersion, TrafficDirection, Verdict } from '@retina-ts/core';

/** `count` distinct flows of node `nodeName`: 1,000 client pods in 20 namespaces talking to one API pod. */
export function clusterFlows(count, nodeName = 'bench-node') {
  const base = BigInt(Date.now()) * 1_000_000n;
  return Array.from({ length: count }, (_, i) => ({
    timeNs: base + BigInt(i) * 1000n,
    verdict: Verdict.FORWARDED,
    type: FlowType.L3_L4,
    nodeName,
    trafficDirection: i % 2 ? TrafficDirection.INGRESS : TrafficDirection.EGRESS,
    ip: { source: `10.10.${(i >> 8) & 255}.${i & 255}`, destination: '10.20.0.7', ipVersion: IpVersion.IPv4 },
    l4: {
      tcp: { sourcePort: 30000 + (i % 30000), destinationPort: 8080, flags: { ACK: true, PSH: i % 3 === 0 } },
    },
    source: {
      namespace: `ns-${i % 20}`,
      podName: `client-${i % 1000}-5f7c9d8b6-x${i % 1000}`,
      labels: [`app=client-${i % 1000}`, 'tier=web'],
      workloads: [{ kind: 'Deployment', name: `client-${i % 1000}` }],
    },
    destination: {
      namespace: 'shop',
      podName: 'api-6b9c7d5f4-q2w3e',
      labels: ['app=api'],
      workloads: [{ kind: 'Deployment', name: 'api' }],
    },
    isReply: i % 2 === 1,
    emitter: 'bench',
    extensions: { bytes: 1500, packets: 1 },
  }));
}
