/**
 * The set-up the cluster kernel tests share: an API server double, a bridge of pod namespaces registered in it,
 * the real `retina-agent` on that node, scrapes of its /metrics, and one teardown for all of it.
 */
import type { ChildProcess } from 'node:child_process';
import { startApiServerDouble, type ApiServerDouble } from '@retina-ts/k8s-apiserver-double';
import { parseSeries, PodBridge, uniqueName, type Series, type VethPair } from '@retina-ts/testkit';
import {
  type AgentProcess,
  eventually,
  spawnClusterAgent,
  stopAgent,
  stopChild,
  tempDir,
  untilPluginsRunning,
} from './helpers.js';
import {
  acceptMetricsConfiguration,
  addDeploymentPods,
  createNamespaces,
  deploymentContext,
  type AcceptedMetricsConfiguration,
  type DeploymentPod,
  type DeploymentPodSpec,
} from './pod-network.js';
import { tcxLinksOf } from './series.js';

/** The pods the three-pod tests run. */
export interface ThreePodSpec extends DeploymentPodSpec {
  key: 'a' | 'b' | 'c';
}

/**
 * Pods a (Deployment `web`) and b (`cart`) in namespace `shop` and c (`third`), at `.11`, `.12` and `.13` of
 * `subnet` (e.g. `10.238.7`).
 */
export function threePods(
  subnet: string,
  third: { namespace: string; deployment: string },
): readonly ThreePodSpec[] {
  return [
    { key: 'a', namespace: 'shop', deployment: 'web', hash: '6b7f9c', ip: `${subnet}.11` },
    { key: 'b', namespace: 'shop', deployment: 'cart', hash: '58d4aa', ip: `${subnet}.12` },
    { key: 'c', ...third, hash: '7c9e21', ip: `${subnet}.13` },
  ];
}

/** The context labels of a flow from pod `from` to pod `to` (source_* then destination_*). */
export function podPairContext(
  from: DeploymentPodSpec & { name: string },
  to: DeploymentPodSpec & { name: string },
): Record<string, string> {
  return { ...deploymentContext('source', from), ...deploymentContext('destination', to) };
}

/**
 * Config lines of a cluster agent counting pods (in remote context unless `remoteContext: false`), its pods from a
 * pod watch (no operator, so no RetinaEndpoints), serving on a free loopback port, running `plugins` with
 * packetparser on the pods' veths only. `settings` are further top-level lines; `pluginOptions` further lines under
 * `plugins:` (indented by two).
 */
export function podLevelConfig(
  plugins: readonly string[],
  opts: { settings?: readonly string[]; pluginOptions?: readonly string[]; remoteContext?: boolean } = {},
): string[] {
  return [
    'apiServer: { host: 127.0.0.1, port: 0 }',
    'enablePodLevel: true',
    ...(opts.remoteContext === false ? [] : ['remoteContext: true']),
    'enableRetinaEndpoint: false',
    `enabledPlugin: [${plugins.join(', ')}]`,
    ...(opts.settings ?? []),
    'plugins:',
    '  packetparser: { hostInterface: false }',
    ...(opts.pluginOptions ?? []),
  ];
}

/** What `PodCluster.start` sets up before any pod or agent. */
export interface PodClusterOptions {
  /** Names the node (`<name>-node-…`), the temporary folder, the MetricsConfiguration and the timing line. */
  name: string;
  /** Namespaces created without annotations (default: the MetricsConfiguration's `include`). */
  namespaces?: readonly string[];
  /** An accepted MetricsConfiguration named `name`. */
  metricsConfiguration?: AcceptedMetricsConfiguration;
}

/** One test file's cluster: call `close()` in afterAll. */
export class PodCluster<S extends DeploymentPodSpec = ThreePodSpec> {
  readonly nodeName: string;
  readonly cwd: string;
  readonly pods = new Map<S['key'], DeploymentPod<S>>();
  /** The last exposition `scrape()` read. */
  metricsText = '';
  #agent: AgentProcess | undefined;
  readonly #children: ChildProcess[] = [];
  readonly #started = Date.now();

  private constructor(
    readonly name: string,
    readonly api: ApiServerDouble,
    readonly bridge: PodBridge,
  ) {
    this.nodeName = uniqueName(`${name}-node-`, 40);
    this.cwd = tempDir(`retina-${name}-kernel`);
  }

  /** Starts the API server double with the namespaces and MetricsConfiguration, and an empty bridge. */
  static async start<S extends DeploymentPodSpec = ThreePodSpec>(
    opts: PodClusterOptions,
  ): Promise<PodCluster<S>> {
    const api = await startApiServerDouble();
    createNamespaces(api, opts.namespaces ?? opts.metricsConfiguration?.include ?? []);
    if (opts.metricsConfiguration) acceptMetricsConfiguration(api, opts.name, opts.metricsConfiguration);
    return new PodCluster<S>(opts.name, api, new PodBridge());
  }

  /** The running agent (after `startAgent`). */
  get agent(): AgentProcess {
    if (!this.#agent) throw new Error('the agent has not been started');
    return this.#agent;
  }

  /** The pod of `key` (after `addPods`). */
  pod(key: S['key']): DeploymentPod<S> {
    const p = this.pods.get(key);
    if (!p) throw new Error(`no pod ${String(key)}`);
    return p;
  }

  /** Puts the pods on the bridge and registers them on this node (namespace names from `netnsPrefix`). */
  addPods(specs: readonly S[], netnsPrefix: string): void {
    for (const [key, p] of addDeploymentPods(this.bridge, this.api, specs, {
      nodeName: this.nodeName,
      netnsPrefix,
    })) {
      this.pods.set(key, p);
    }
  }

  /** Starts the agent on this node with the given config lines. */
  async startAgent(config: readonly string[]): Promise<AgentProcess> {
    this.#agent = await spawnClusterAgent({
      cwd: this.cwd,
      nodeName: this.nodeName,
      server: this.api.url,
      config: [...config],
    });
    return this.#agent;
  }

  /** Stops `child` (SIGTERM, waiting for its exit) on `close()`. */
  stopOnClose<C extends ChildProcess>(child: C): C {
    this.#children.push(child);
    return child;
  }

  /** Reads /metrics (kept in `metricsText`) and parses it. */
  async scrape(): Promise<Series[]> {
    this.metricsText = await (await fetch(this.agent.url('/metrics'))).text();
    return parseSeries(this.metricsText);
  }

  /**
   * Waits until the agent holds an ingress and an egress tcx link on each of `veths` (default: every pod's), or
   * with `atLeast` two or more.
   */
  async untilAttached(opts: { veths?: readonly VethPair[]; atLeast?: boolean } = {}): Promise<void> {
    for (const veth of opts.veths ?? [...this.pods.values()].map((p) => p.veth)) {
      await eventually(async () => {
        const n = tcxLinksOf(this.agent.child.pid!, veth.ifindex()).length;
        return opts.atLeast ? n >= 2 : n === 2;
      }, 150);
    }
  }

  /** Waits until every plugin but `except` runs (see `untilPluginsRunning`); the plugins' names, sorted. */
  untilPluginsRunning(except: readonly string[] = []): Promise<string[]> {
    return untilPluginsRunning(this.agent, except);
  }

  /** Stops the children, the agent, the pods (namespaces and veths), the bridge and the API server double. */
  async close(): Promise<void> {
    for (const child of this.#children) await stopChild(child);
    await stopAgent(this.#agent);
    this.bridge.destroy();
    await this.api.close();
    console.info(`${this.name}.kernel.test: ${((Date.now() - this.#started) / 1000).toFixed(1)} s`);
  }
}
