/**
 * The `retina-agent` binary with `enableAnnotations: true` on "pods" made of network namespaces (veth host ends on
 * a bridge without addresses, pods registered in the API server double). Which pods are observed comes only from
 * `retina.sh: observe` on pods and namespaces, as in Retina:
 * - pods of an annotated namespace, and an annotated pod in a plain namespace, get `adv_forward_count` series with
 *   Retina's default context (ip, namespace, podname, workload on both sides);
 * - a flow with one observed end is counted with both ends' context (remote context does not filter the other end);
 *   a flow between two unobserved pods is not counted at all;
 * - the MetricsConfiguration is not read in this mode: its namespace list and label choice have no effect;
 * - annotating a namespace at runtime observes its pods without a restart; removing the annotation stops their
 *   counting and creates no new series for them, while the series already made stay (the synthesised
 *   configuration has no ttl).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  describeKernel,
  listBpfLinks,
  podSeriesCount,
  select,
  sendUdp,
  type PodNetwork,
  type Series,
} from '@retina-ts/testkit';
import { eventually } from './helpers.js';
import { PodCluster, podLevelConfig } from './pod-cluster.js';
import { tcxLinksOf } from './series.js';

const FORWARD = 'networkobservability_adv_forward_count';
const OBSERVE = { 'retina.sh': 'observe' } as const;
const DATAGRAMS = 4;
/** Nothing listens on these ports: the datagrams are counted on their way, and no answer comes back. */
const PORT = 9999;
const PROBE_PORT = 7777;

type Key = 'a' | 'b' | 'p' | 'q' | 'r' | 'l';

interface PodSpec {
  key: Key;
  namespace: 'watched' | 'plain' | 'late';
  statefulSet: string;
  ip: string;
  /** Carries `retina.sh: observe` itself. */
  annotated?: boolean;
}

const PODS: readonly PodSpec[] = [
  { key: 'a', namespace: 'watched', statefulSet: 'web', ip: '10.229.4.11' },
  { key: 'b', namespace: 'watched', statefulSet: 'api', ip: '10.229.4.12' },
  { key: 'p', namespace: 'plain', statefulSet: 'probe', ip: '10.229.4.13', annotated: true },
  { key: 'q', namespace: 'plain', statefulSet: 'queue', ip: '10.229.4.14' },
  { key: 'r', namespace: 'plain', statefulSet: 'redis', ip: '10.229.4.15' },
  { key: 'l', namespace: 'late', statefulSet: 'ledger', ip: '10.229.4.16' },
];

interface Pod extends PodSpec, PodNetwork {
  name: string;
}

describeKernel('retina-agent with enableAnnotations on pods in network namespaces', () => {
  let cluster: PodCluster;
  const pods = new Map<Key, Pod>();
  let series: Series[] = [];

  const pod = (key: Key): Pod => pods.get(key)!;
  const scrape = async (): Promise<Series[]> => (series = await cluster.scrape());
  const ctx = (prefix: 'source' | 'destination', p: Pod): Record<string, string> => ({
    [`${prefix}_ip`]: p.ip,
    [`${prefix}_namespace`]: p.namespace,
    [`${prefix}_podname`]: p.name,
    [`${prefix}_workload_kind`]: 'StatefulSet',
    [`${prefix}_workload_name`]: p.statefulSet,
  });
  /** Labels of the series of UDP traffic from `from` to `to` (a datagram opens the connection: EGRESS). */
  const pair = (from: Pod, to: Pod): Record<string, string> => ({
    direction: 'EGRESS',
    ...ctx('source', from),
    ...ctx('destination', to),
  });
  const forward = (from: Pod, to: Pod): { sum: number; count: number } => select(series, FORWARD, pair(from, to));
  const mentions = (p: Pod): number => podSeriesCount(series, FORWARD, p.name);

  /**
   * Sends datagrams until the agent counts `from` → `to` (the observed set and the kernel's IPs of interest follow
   * the watchers a little later than the API server changes).
   */
  const untilCounted = (from: Pod, to: Pod): Promise<boolean> =>
    eventually(async () => {
      sendUdp(from.netns, { address: to.ip, port: PROBE_PORT });
      await scrape();
      return forward(from, to).count > 0;
    });

  /**
   * Sends `count` datagrams from `from` to `to` and checks that the agent counts exactly two packets per datagram
   * for the pair (each is seen leaving the sender's veth and entering the receiver's), in the pair's one series.
   */
  const countExactly = async (from: Pod, to: Pod, count: number): Promise<void> => {
    await scrape();
    const before = forward(from, to).sum;
    sendUdp(from.netns, { address: to.ip, port: PORT, count });
    await eventually(async () => {
      await scrape();
      return forward(from, to).sum >= before + 2 * count;
    });
    expect(forward(from, to)).toEqual({ sum: before + 2 * count, count: 1 });
  };

  /**
   * A barrier for negative checks: one datagram from the annotated pod p to q, sent after the traffic under test;
   * once it is counted, the agent has read what was sent before it.
   */
  const barrier = async (): Promise<void> => {
    await countExactly(pod('p'), pod('q'), 1);
  };

  /** Sets or clears `retina.sh: observe` on a namespace through the API server. */
  const annotateNamespace = (name: string, observe: boolean): void => {
    cluster.api.modify('namespaces', undefined, name, (ns) => {
      const annotations = { ...(ns.metadata.annotations ?? {}) };
      if (observe) Object.assign(annotations, OBSERVE);
      else delete annotations['retina.sh'];
      ns.metadata.annotations = annotations;
    });
  };

  beforeAll(async () => {
    cluster = await PodCluster.start({
      name: 'annotations',
      namespaces: ['late'],
      // Accepted, selecting `plain` with other labels and a ttl: with annotations on, Retina does not read it.
      metricsConfiguration: {
        metrics: ['forward_count'],
        include: ['plain', 'late'],
        sourceLabels: ['podname'],
        ttl: '1s',
      },
    });
    const { api } = cluster;
    api.create('namespaces', { metadata: { name: 'watched', annotations: { ...OBSERVE } } });
    // Another annotation key on `plain` must not count as the opt-in.
    api.create('namespaces', { metadata: { name: 'plain', annotations: { 'retina.sh/owner': 'team-a' } } });

    await cluster.startAgent(podLevelConfig(['packetparser'], { settings: ['enableAnnotations: true'] }));

    for (const spec of PODS) {
      const name = `${spec.statefulSet}-0-${spec.key}x${process.pid % 1000}`;
      const { netns, veth } = cluster.bridge.addPod(`rta${spec.key}`, `${spec.ip}/24`);
      pods.set(spec.key, { ...spec, name, netns, veth });
      api.create('pods', {
        metadata: {
          name,
          namespace: spec.namespace,
          labels: { app: spec.statefulSet },
          ...(spec.annotated ? { annotations: { ...OBSERVE } } : {}),
          ownerReferences: [
            { apiVersion: 'apps/v1', kind: 'StatefulSet', name: spec.statefulSet, uid: `sts-${spec.key}`, controller: true },
          ],
        },
        spec: { nodeName: cluster.nodeName },
        status: { phase: 'Running', podIP: spec.ip, podIPs: [{ ip: spec.ip }] },
      });
    }
    // Every pod veth is attached (ingress and egress tcx links), observed or not: selection is by IP.
    await cluster.untilAttached({ veths: [...pods.values()].map((p) => p.veth) });
  }, 60_000);

  afterAll(async () => {
    await cluster?.close();
  });

  it('counts traffic between pods of an annotated namespace with both pods\' default context', async () => {
    const a = pod('a');
    const b = pod('b');
    await untilCounted(b, a);
    await countExactly(a, b, DATAGRAMS);
    // Retina's default context for annotations, whatever the (ignored) MetricsConfiguration asks for.
    const s = series.find((x) => x.name === FORWARD && x.labels['source_podname'] === a.name);
    const own = Object.keys(s!.labels).filter((k) => k !== 'cluster' && k !== 'instance');
    expect(own.sort()).toEqual(['direction', ...Object.keys(pair(a, b)).slice(1)].sort());
  });

  it('counts an annotated pod of a plain namespace, with its unobserved peer as context', async () => {
    const p = pod('p');
    const q = pod('q');
    await untilCounted(q, p);
    await countExactly(p, q, DATAGRAMS);
  });

  it('counts nothing between two pods that are not observed, whatever the MetricsConfiguration selects', async () => {
    const q = pod('q');
    const r = pod('r');
    sendUdp(q.netns, { address: r.ip, port: PORT, count: DATAGRAMS });
    sendUdp(r.netns, { address: q.ip, port: PORT, count: DATAGRAMS });
    await barrier();
    expect(forward(q, r).count).toBe(0);
    expect(mentions(r)).toBe(0);
    // q appears only with the annotated pod p at the other end.
    expect(select(series, FORWARD, { source_podname: q.name }).count).toBe(
      select(series, FORWARD, { source_podname: q.name, destination_podname: pod('p').name }).count,
    );
  });

  it('observes the pods of a namespace annotated at runtime, without a restart', async () => {
    const l = pod('l');
    const q = pod('q');
    sendUdp(l.netns, { address: q.ip, port: PORT, count: DATAGRAMS });
    await barrier();
    expect(mentions(l)).toBe(0);

    annotateNamespace('late', true);
    await untilCounted(q, l);
    await countExactly(l, q, DATAGRAMS);
  });

  it('stops counting a namespace whose annotation is removed, keeping the series it had', async () => {
    const l = pod('l');
    const q = pod('q');
    const r = pod('r');
    annotateNamespace('late', false);
    // Until the removal reaches the kernel, a datagram l → q is still counted; then one goes uncounted.
    await eventually(async () => {
      await scrape();
      const before = forward(l, q).sum;
      sendUdp(l.netns, { address: q.ip, port: PORT });
      await barrier();
      return forward(l, q).sum === before;
    });
    const frozen = forward(l, q);
    expect(frozen.count).toBe(1);

    sendUdp(l.netns, { address: q.ip, port: PORT, count: DATAGRAMS });
    sendUdp(l.netns, { address: r.ip, port: PORT, count: DATAGRAMS });
    sendUdp(r.netns, { address: l.ip, port: PORT, count: DATAGRAMS });
    await barrier();
    expect(forward(l, q)).toEqual(frozen);
    expect(forward(l, r).count).toBe(0);
    expect(forward(r, l).count).toBe(0);
    expect(select(series, 'controlplane_networkobservability_expired_metrics_counter', {}).sum).toBe(0);
  });

  it('stops on SIGTERM with exit code 0 and leaves no BPF link behind', async () => {
    const links = [...pods.values()].flatMap((p) => tcxLinksOf(cluster.agent.child.pid!, p.veth.ifindex()));
    expect(links).toHaveLength(2 * pods.size);
    expect(listBpfLinks().map((l) => l.id)).toEqual(expect.arrayContaining(links));
    cluster.agent.child.kill('SIGTERM');
    expect(await cluster.agent.exited).toEqual({ code: 0, signal: null });
    expect(listBpfLinks().filter((l) => links.includes(l.id))).toEqual([]);
  });
});
