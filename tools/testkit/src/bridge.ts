// "Pods" for kernel tests: network namespaces whose veth's host end sits in the root namespace on a bridge. The
// bridge and the host ends stay without addresses (addrgenmode none keeps even IPv6 link-locals off), so the root
// namespace gains no address or route.
import { run } from './exec.js';
import { uniqueName } from './names.js';
import { createNetns, createVethPair, type Netns, type VethPair } from './netns.js';

/** A pod's namespace and its veth pair (host end on the bridge). */
export interface PodNetwork {
  netns: Netns;
  veth: VethPair;
}

/** A bridge without addresses joining the pods' host ends. */
export class PodBridge {
  readonly name = uniqueName('rtbr', 15);
  readonly #pods: PodNetwork[] = [];

  constructor() {
    run('ip', ['link', 'add', this.name, 'type', 'bridge']);
    run('ip', ['link', 'set', this.name, 'addrgenmode', 'none']);
    run('ip', ['link', 'set', this.name, 'up']);
  }

  /** A new pod namespace (name from `prefix`) with `cidr` (e.g. `10.238.7.11/24`) on its end of the veth. */
  addPod(prefix: string, cidr: string): PodNetwork {
    const netns = createNetns(prefix);
    const veth = createVethPair({ peerNs: netns, addresses: { peer: cidr }, up: false });
    run('ip', ['link', 'set', veth.name, 'addrgenmode', 'none']);
    run('ip', ['link', 'set', veth.name, 'master', this.name, 'up']);
    netns.ip(['link', 'set', veth.peerName, 'up']);
    const pod = { netns, veth };
    this.#pods.push(pod);
    return pod;
  }

  /** Removes every pod (namespace and veth) and the bridge; safe after a pod's namespace is already gone. */
  destroy(): void {
    for (const p of this.#pods) {
      p.veth.destroy();
      p.netns.destroy();
    }
    run('ip', ['link', 'del', this.name], { allowFailure: true });
  }
}
