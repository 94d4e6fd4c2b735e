/**
 * `startKubernetes`: everything the agent needs from Kubernetes, started from the agent's config. It never
 * throws and never blocks the agent: without a cluster it reports `disabled`; with an unreachable API server the
 * watchers keep retrying with backoff while the node-level metrics go on.
 */
import { EventEmitter } from 'node:events';
import {
  AppsV1Api,
  BatchV1Api,
  CoreV1Api,
  CustomObjectsApi,
  DiscoveryV1Api,
  type KubeConfig,
  type KubernetesObject,
} from './client-node.js';
import type { AgentConfig, BackoffOptions, InMemoryIpCache, Logger, MetricsModule, NodeRecord } from '@retina-ts/core';
import { ApiServerWatcher, type ApiServerIpsChange, type ApiServerWatcherStatus } from './apiserver.js';
import { describeError, httpStatusOf } from './errors.js';
import { ResourceWatcher, type ListPage, type WatcherStatus } from './informer.js';
import type { InterfaceEvent, PodInterface } from './interfaces/link.js';
import { PodInterfaceWatcher, type PodInterfaceWatcherStatus } from './interfaces/watcher.js';
import { resolveKubeconfig, type ResolvedKubeconfig } from './kubeconfig.js';
import {
  parseMetricsConfiguration,
  selectMetricsConfiguration,
  type MetricsConfigurationInfo,
} from './metrics-configuration.js';
import {
  namespaceObserved,
  nodeRecord,
  podInfoFromPod,
  podInfoFromRetinaEndpoint,
  serviceRecord,
  slimObject,
  SLIM_FIELDS,
  type KubeObjectLike,
  type NodeLike,
  type PodLike,
  type RetinaEndpointLike,
  type ServiceLike,
} from './objects.js';
import { PodIndex, type PodChange } from './pod-index.js';
import { kubernetesSelfMetrics, type KubernetesSelfMetrics } from './self-metrics.js';
import { WorkloadResolver, type Workload } from './workload.js';

/** The resource watchers that can run. */
export type WatcherName = 'pods' | 'retinaendpoints' | 'services' | 'nodes' | 'namespaces' | 'metricsconfigurations';

/** Name and namespace of the pseudo-pod holding the API server IPs in the IP cache (as Retina names it). */
export const API_SERVER_POD = { namespace: 'kubernetes-apiserver', name: 'kubernetes-apiserver' } as const;

/** Options of startKubernetes. */
export interface StartKubernetesOptions {
  /** The agent config: `enablePodLevel`, `remoteContext`, `enableAnnotations`, `enableRetinaEndpoint`, `nodeName`. */
  config: AgentConfig;
  /** The cache the watchers fill. */
  ipCache: InMemoryIpCache;
  logger: Logger;
  /** Where to register the watchers' self-metrics. */
  metrics?: MetricsModule;
  /** A kubeconfig path or a loaded KubeConfig; default: KUBECONFIG, else the in-cluster service account. */
  kubeconfig?: string | KubeConfig;
  /** Environment used to find the configuration (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Prefix of the service account files for in-cluster configuration (tests). */
  inClusterPathPrefix?: string;
  /** Turn single watchers on or off, overriding what the config implies. */
  watchers?: Partial<Record<WatcherName, boolean>>;
  /** Watch the node's pod interfaces (default: when `enablePodLevel` is on, on Linux). */
  podInterfaces?: boolean;
  /** Link kinds the interface watcher reports (default `['veth']`). */
  podInterfaceKinds?: string[];
  /** Reconnect backoff of the watchers (default 1 s doubling to 30 s, 20 % jitter). */
  backoff?: BackoffOptions;
  /** API server IP refresh period (default 30 s). */
  apiServerRefreshIntervalMs?: number;
  /** Put the API server IPs in the IP cache as the pseudo-pod `kubernetes-apiserver` (default true, as Retina). */
  apiServerPseudoPod?: boolean;
  /** Apply only MetricsConfigurations the operator accepted (default true, as Retina). */
  requireAcceptedMetricsConfiguration?: boolean;
  /** Server-side watch timeout, randomised up to twice this (default 300 s). */
  watchTimeoutSeconds?: number;
  /** A watch silent this long is dropped and resumed (default: from the watch timeout). */
  idleTimeoutMs?: number;
  /** List page size (default 500). */
  pageSize?: number;
}

/** Overall state. */
export type KubernetesState = 'disabled' | 'connecting' | 'synced' | 'degraded' | 'stopped';

/** What `status()` returns. */
export interface KubernetesStatus {
  state: KubernetesState;
  /** Where the client configuration came from (`none` when standalone). */
  mode: 'none' | 'kubeconfig' | 'in-cluster';
  server?: string;
  /** Why the state is not `synced` (the first watcher error, or why Kubernetes is disabled). */
  reason?: string;
  watchers: WatcherStatus[];
  apiServer?: ApiServerWatcherStatus;
  podInterfaces?: PodInterfaceWatcherStatus;
  /** IPs in the IP cache. */
  ipCacheSize: number;
}

/** Events of the handle. */
export interface KubernetesEvents {
  /** A pod's cache entry changed (IPs, labels, workload, observation) or it was removed. */
  pod: [PodChange];
  /** The API server IPs changed. */
  apiServerIps: [ApiServerIpsChange];
  /** The set of namespaces annotated `retina.sh: observe` changed (annotation mode). */
  observedNamespaces: [string[]];
  /** The MetricsConfiguration in force changed (undefined: none). */
  metricsConfiguration: [MetricsConfigurationInfo | undefined];
  /** A pod interface appeared or disappeared on this node. */
  interface: [InterfaceEvent];
  /** A cluster node was added or changed (`upsert`) or removed (`delete`), from the node watcher. */
  node: [NodeChange];
}

/** A change of a cluster node. */
export interface NodeChange {
  type: 'upsert' | 'delete';
  node: NodeRecord;
}

/** What startKubernetes returns. */
export interface KubernetesHandle {
  /** Resolves once every watcher has listed its resource (at once when Kubernetes is disabled, or on stop). */
  readonly ready: Promise<void>;
  status(): KubernetesStatus;
  /** Stops every watcher; idempotent. */
  stop(): Promise<void>;
  /** The API server IPs, sorted. */
  apiServerIps(): string[];
  /** Namespaces annotated `retina.sh: observe` (annotation mode), sorted. */
  observedNamespaces(): string[];
  /** IPs of pods annotated `retina.sh: observe`. */
  observedPodIps(): string[];
  /** The MetricsConfiguration in force, if any. */
  metricsConfiguration(): MetricsConfigurationInfo | undefined;
  /** Pod interfaces currently on the node. */
  podInterfaces(): PodInterface[];
  /** The cluster's nodes as the node watcher knows them (empty without one), by name. */
  nodes(): NodeRecord[];
  on<E extends keyof KubernetesEvents>(event: E, listener: (...args: KubernetesEvents[E]) => void): this;
  off<E extends keyof KubernetesEvents>(event: E, listener: (...args: KubernetesEvents[E]) => void): this;
}

/** Which watchers the config implies (see the README for the rules). */
export function plannedWatchers(config: AgentConfig, overrides: Partial<Record<WatcherName, boolean>> = {}): WatcherName[] {
  const plan: Record<WatcherName, boolean> = {
    pods: false,
    retinaendpoints: false,
    services: false,
    nodes: false,
    namespaces: false,
    metricsconfigurations: false,
  };
  if (config.enablePodLevel) {
    // Remote context knows every pod of the cluster: from the operator's RetinaEndpoints when enabled, else from
    // a cluster-wide pod watch. Local context watches this node's pods only.
    if (config.remoteContext && config.enableRetinaEndpoint) plan.retinaendpoints = true;
    else plan.pods = true;
    plan.services = true;
    plan.nodes = true;
    // As Retina: annotations select namespaces; otherwise a MetricsConfiguration does.
    if (config.enableAnnotations) plan.namespaces = true;
    else plan.metricsconfigurations = true;
  }
  // Hubble's Peer service announces every node of the cluster to Relay.
  if (config.controlPlane === 'hubble') plan.nodes = true;
  Object.assign(plan, Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)));
  return (Object.keys(plan) as WatcherName[]).filter((k) => plan[k]);
}

class KubernetesWatchers extends EventEmitter implements KubernetesHandle {
  readonly ready: Promise<void>;
  readonly #opts: StartKubernetesOptions;
  readonly #log: Logger;
  readonly #watchers: ResourceWatcher<KubernetesObject>[] = [];
  readonly #resolved?: ResolvedKubeconfig;
  readonly #disabledReason?: string;
  readonly #metrics?: KubernetesSelfMetrics;
  readonly #namespaces = new Set<string>();
  readonly #configs = new Map<string, MetricsConfigurationInfo>();
  readonly #nodes = new Map<string, NodeRecord>();
  #apiServer?: ApiServerWatcher;
  #interfaces?: PodInterfaceWatcher;
  #podIndex?: PodIndex;
  #selected?: MetricsConfigurationInfo;
  #stopped = false;
  #resolveReady!: () => void;
  #refreshQueued = false;

  constructor(opts: StartKubernetesOptions) {
    super();
    this.#opts = opts;
    this.#log = opts.logger.child({ component: 'kubernetes' });
    this.ready = new Promise((r) => (this.#resolveReady = r));
    if (opts.metrics) this.#metrics = kubernetesSelfMetrics(opts.metrics);
    try {
      this.#resolved = resolveKubeconfig({
        ...(opts.kubeconfig !== undefined ? { kubeconfig: opts.kubeconfig } : {}),
        ...(opts.env ? { env: opts.env } : {}),
        ...(opts.inClusterPathPrefix !== undefined ? { inClusterPathPrefix: opts.inClusterPathPrefix } : {}),
      });
      if (!this.#resolved) this.#disabledReason = 'no kubeconfig (KUBECONFIG unset) and not running in a cluster';
    } catch (err) {
      this.#disabledReason = (err as Error).message;
    }
  }

  /** Starts whatever the config implies; returns at once. */
  start(): this {
    const resolved = this.#resolved;
    if (!resolved) {
      this.#log.warn({ reason: this.#disabledReason }, 'Kubernetes context disabled; node-level metrics only');
      this.#resolveReady();
      this.#startInterfaces();
      return this;
    }
    this.#log.info({ server: resolved.server, source: resolved.source }, 'starting Kubernetes watchers');
    if (resolved.plainHttp) this.#log.warn({ server: resolved.server }, `Kubernetes API server ${resolved.server}: ${resolved.plainHttp}`);
    const kc = resolved.kubeConfig;
    const config = this.#opts.config;
    const plan = plannedWatchers(config, this.#opts.watchers);
    const core = kc.makeApiClient(CoreV1Api);
    const custom = kc.makeApiClient(CustomObjectsApi);

    if (plan.includes('pods') || plan.includes('retinaendpoints')) {
      const apps = kc.makeApiClient(AppsV1Api);
      const batch = kc.makeApiClient(BatchV1Api);
      const warned = new Set<string>();
      const resolver = new WorkloadResolver({
        lookup: async (kind, namespace, name) => {
          try {
            const obj =
              kind === 'ReplicaSet'
                ? await apps.readNamespacedReplicaSet({ name, namespace })
                : await batch.readNamespacedJob({ name, namespace });
            return (obj.metadata?.ownerReferences ?? []).map((r): Workload => ({ kind: r.kind, name: r.name }));
          } catch (err) {
            if (httpStatusOf(err) === 404) return undefined;
            throw err;
          }
        },
        onError: (err, kind) => {
          const msg = describeError(`get ${kind.toLowerCase()}s`, err);
          if (warned.has(msg)) return;
          warned.add(msg);
          this.#log.warn(`${msg}; pods owned by a ${kind} are labelled with the ${kind} itself`);
        },
      });
      this.#podIndex = new PodIndex({
        ipCache: this.#opts.ipCache,
        resolver,
        nodeNameForIp: (ip) => {
          const info = this.#opts.ipCache.lookup(ip);
          return info?.kind === 'node' ? info.name : undefined;
        },
        onChange: (c) => this.emit('pod', c),
        logger: this.#log,
      });
    }
    const index = this.#podIndex;

    if (plan.includes('pods') && index) {
      const fieldSelector = config.remoteContext ? undefined : `spec.nodeName=${config.nodeName}`;
      this.#add<PodLike>('pods', '/api/v1/pods', (p) => core.listPodForAllNamespaces({ ...page(p), ...(fieldSelector ? { fieldSelector } : {}) }), {
        ...(fieldSelector ? { fieldSelector } : {}),
        onUpsert: (pod) => index.upsert(podInfoFromPod(pod)),
        onDelete: (pod) => index.delete(...namespacedName(pod)),
        onListStart: () => index.beginList(),
        onListEnd: () => index.endList(),
      });
    }
    if (plan.includes('retinaendpoints') && index) {
      this.#add<RetinaEndpointLike>(
        'retinaendpoints',
        '/apis/retina.sh/v1alpha1/retinaendpoints',
        (p) => custom.listCustomObjectForAllNamespaces({ group: 'retina.sh', version: 'v1alpha1', plural: 'retinaendpoints', ...page(p) }),
        {
          optional: true,
          onUpsert: (ep) => index.upsert(podInfoFromRetinaEndpoint(ep)),
          onDelete: (ep) => index.delete(...namespacedName(ep)),
          onListStart: () => index.beginList(),
          onListEnd: () => index.endList(),
        },
      );
    }
    if (plan.includes('services')) {
      const cache = this.#opts.ipCache;
      this.#add<ServiceLike>('services', '/api/v1/services', (p) => core.listServiceForAllNamespaces(page(p)), {
        onUpsert: (svc) => {
          const rec = serviceRecord(svc);
          if (rec.ips.length === 0) cache.deleteService(rec.namespace, rec.name);
          else cache.upsertService(rec);
        },
        onDelete: (svc) => cache.deleteService(...namespacedName(svc)),
      });
    }
    if (plan.includes('nodes')) {
      const cache = this.#opts.ipCache;
      this.#add<NodeLike>('nodes', '/api/v1/nodes', (p) => core.listNode(page(p)), {
        onUpsert: (node) => {
          const record = nodeRecord(node);
          cache.upsertNode(record);
          this.#nodes.set(record.name, record);
          this.#queuePodRefresh();
          this.emit('node', { type: 'upsert', node: record });
        },
        onDelete: (node) => {
          const name = node.metadata?.name ?? '';
          cache.deleteNode(name);
          const record = this.#nodes.get(name) ?? { name, ips: [] };
          this.#nodes.delete(name);
          this.#queuePodRefresh();
          this.emit('node', { type: 'delete', node: record });
        },
      });
    }
    if (plan.includes('namespaces')) {
      this.#add<KubeObjectLike>('namespaces', '/api/v1/namespaces', (p) => core.listNamespace(page(p)), {
        onUpsert: (ns) => this.#setNamespace(ns.metadata?.name ?? '', namespaceObserved(ns)),
        onDelete: (ns) => this.#setNamespace(ns.metadata?.name ?? '', false),
      });
    }
    if (plan.includes('metricsconfigurations')) {
      this.#add<KubeObjectLike & { spec?: unknown; status?: { state?: string } }>(
        'metricsconfigurations',
        '/apis/retina.sh/v1alpha1/metricsconfigurations',
        (p) => custom.listClusterCustomObject({ group: 'retina.sh', version: 'v1alpha1', plural: 'metricsconfigurations', ...page(p) }),
        {
          optional: true,
          onUpsert: (mc) => this.#setConfig(mc.metadata?.name ?? '', mc),
          onDelete: (mc) => this.#setConfig(mc.metadata?.name ?? '', undefined),
        },
      );
    }

    this.#startApiServer(kc, core, resolved.server);
    this.#startInterfaces();
    for (const w of this.#watchers) w.start();
    void Promise.all(this.#watchers.map((w) => w.synced)).then(() => {
      if (!this.#stopped) this.#log.info({ watchers: this.#watchers.map((w) => w.resource) }, 'Kubernetes watchers synced');
      this.#resolveReady();
    });
    return this;
  }

  #add<T extends KubeObjectLike>(
    resource: WatcherName,
    path: string,
    listPage: (p: { limit: number; continue?: string }) => Promise<unknown>,
    handlers: {
      fieldSelector?: string;
      optional?: boolean;
      onUpsert: (o: T) => void;
      onDelete: (o: T) => void;
      onListStart?: () => void;
      onListEnd?: () => void;
    },
  ): void {
    const o = this.#opts;
    const m = this.#metrics;
    const watcher = new ResourceWatcher<KubernetesObject>({
      resource,
      kubeConfig: this.#resolved!.kubeConfig,
      path,
      listPage: listPage as (p: { limit: number; continue?: string }) => Promise<ListPage<KubernetesObject>>,
      ...(handlers.fieldSelector ? { fieldSelector: handlers.fieldSelector } : {}),
      ...(handlers.optional ? { optional: true } : {}),
      // The resources listed in SLIM_FIELDS are kept slimmed down to what the handlers read.
      ...(resource in SLIM_FIELDS
        ? { transform: (obj: KubernetesObject) => slimObject(obj, SLIM_FIELDS[resource as keyof typeof SLIM_FIELDS]) }
        : {}),
      onUpsert: handlers.onUpsert as (o: KubernetesObject) => void,
      onDelete: handlers.onDelete as (o: KubernetesObject) => void,
      ...(handlers.onListStart ? { onListStart: handlers.onListStart } : {}),
      ...(handlers.onListEnd ? { onListEnd: handlers.onListEnd } : {}),
      logger: this.#log,
      ...(o.backoff ? { backoff: o.backoff } : {}),
      ...(o.pageSize ? { pageSize: o.pageSize } : {}),
      ...(o.watchTimeoutSeconds ? { watchTimeoutSeconds: o.watchTimeoutSeconds } : {}),
      ...(o.idleTimeoutMs ? { idleTimeoutMs: o.idleTimeoutMs } : {}),
      ...(m
        ? {
            onEvent: (ev, w) => {
              if (ev === 'restart') m.restarts.inc({ resource: w.resource });
              else if (ev === 'relist') m.relists.inc({ resource: w.resource });
              else if (ev === 'watch') m.watches.inc({ resource: w.resource });
              else if (ev === 'state') m.synced.set({ resource: w.resource }, w.status().synced ? 1 : 0);
            },
          }
        : {}),
    });
    m?.synced.set({ resource }, 0);
    this.#watchers.push(watcher);
  }

  #startApiServer(kc: KubeConfig, core: CoreV1Api, server: string): void {
    const discovery = kc.makeApiClient(DiscoveryV1Api);
    let slicesServed = true;
    this.#apiServer = new ApiServerWatcher({
      logger: this.#log,
      serverUrl: server,
      ...(this.#opts.apiServerRefreshIntervalMs ? { refreshIntervalMs: this.#opts.apiServerRefreshIntervalMs } : {}),
      serviceIps: async () => {
        const svc = await core.readNamespacedService({ name: 'kubernetes', namespace: 'default' });
        return [...serviceRecord(svc as ServiceLike).ips];
      },
      endpointIps: async () => {
        if (slicesServed) {
          try {
            const list = await discovery.listNamespacedEndpointSlice({
              namespace: 'default',
              labelSelector: 'kubernetes.io/service-name=kubernetes',
            });
            return list.items.flatMap((s) => (s.endpoints ?? []).flatMap((e) => e.addresses ?? []));
          } catch (err) {
            if (httpStatusOf(err) !== 404) throw err;
            slicesServed = false; // an API server without discovery.k8s.io/v1: use Endpoints from now on
          }
        }
        const ep = await core.readNamespacedEndpoints({ name: 'kubernetes', namespace: 'default' });
        return (ep.subsets ?? []).flatMap((s) => (s.addresses ?? []).map((a) => a.ip));
      },
      onChange: (change) => {
        if (this.#opts.apiServerPseudoPod !== false) {
          if (change.ips.length) this.#opts.ipCache.upsertPod({ ...API_SERVER_POD, ips: change.ips });
          else this.#opts.ipCache.deletePod(API_SERVER_POD.namespace, API_SERVER_POD.name);
        }
        this.#metrics?.apiServerIps.set(change.ips.length);
        this.emit('apiServerIps', change);
      },
    });
    void this.#apiServer.start();
  }

  #startInterfaces(): void {
    const want = this.#opts.podInterfaces ?? (this.#opts.config.enablePodLevel && process.platform === 'linux');
    if (!want) return;
    const w = new PodInterfaceWatcher({
      logger: this.#log,
      ...(this.#opts.podInterfaceKinds ? { kinds: this.#opts.podInterfaceKinds } : {}),
    });
    this.#interfaces = w;
    w.on('interface', (ev) => {
      this.#metrics?.podInterfaces.set(w.list().length);
      this.emit('interface', ev);
    });
    // A failure is reported in status() and logged by the watcher; pod-level programs then attach only at start.
    w.start().catch(() => undefined);
  }

  #queuePodRefresh(): void {
    // RetinaEndpoints name their node by IP: once nodes are known, pods can carry node names (and zones).
    if (!this.#podIndex || this.#refreshQueued || !this.#opts.config.remoteContext) return;
    this.#refreshQueued = true;
    setImmediate(() => {
      this.#refreshQueued = false;
      this.#podIndex?.refreshAll();
    });
  }

  #setNamespace(name: string, observed: boolean): void {
    const had = this.#namespaces.has(name);
    if (had === observed) return;
    if (observed) this.#namespaces.add(name);
    else this.#namespaces.delete(name);
    this.emit('observedNamespaces', this.observedNamespaces());
  }

  #setConfig(name: string, obj: (KubeObjectLike & { spec?: unknown; status?: { state?: string } }) | undefined): void {
    if (obj) {
      const parsed = parseMetricsConfiguration(obj);
      if (parsed.ok) this.#configs.set(name, parsed.value);
      else {
        this.#configs.delete(name);
        this.#log.warn(`${parsed.error}; ignored`);
      }
    } else this.#configs.delete(name);
    const next = selectMetricsConfiguration([...this.#configs.values()], {
      requireAccepted: this.#opts.requireAcceptedMetricsConfiguration !== false,
    });
    if (JSON.stringify(next) === JSON.stringify(this.#selected)) return;
    this.#selected = next;
    this.#log.info({ name: next?.name }, next ? 'MetricsConfiguration in force' : 'no MetricsConfiguration in force');
    this.emit('metricsConfiguration', next);
  }

  /** See KubernetesHandle.status. */
  status(): KubernetesStatus {
    const watchers = this.#watchers.map((w) => w.status());
    let state: KubernetesState;
    let reason: string | undefined;
    if (!this.#resolved) {
      state = 'disabled';
      reason = this.#disabledReason;
    } else if (this.#stopped) state = 'stopped';
    else if (watchers.some((w) => w.state === 'backoff')) {
      state = 'degraded';
      reason = watchers.find((w) => w.state === 'backoff')?.lastError;
    } else if (watchers.every((w) => w.synced)) state = 'synced';
    else state = 'connecting';
    const source = this.#resolved?.source;
    return {
      state,
      mode: source === undefined ? 'none' : source === 'in-cluster' ? 'in-cluster' : 'kubeconfig',
      ...(this.#resolved ? { server: this.#resolved.server } : {}),
      ...(reason ? { reason } : {}),
      watchers,
      ...(this.#apiServer ? { apiServer: this.#apiServer.status() } : {}),
      ...(this.#interfaces ? { podInterfaces: this.#interfaces.status() } : {}),
      ipCacheSize: this.#opts.ipCache.size,
    };
  }

  /** See KubernetesHandle.stop. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#apiServer?.stop();
    this.#interfaces?.stop();
    await Promise.all(this.#watchers.map((w) => w.stop()));
    this.#resolveReady();
  }

  /** See KubernetesHandle.apiServerIps. */
  apiServerIps(): string[] {
    return this.#apiServer?.ips() ?? [];
  }

  /** See KubernetesHandle.observedNamespaces. */
  observedNamespaces(): string[] {
    return [...this.#namespaces].sort();
  }

  /** See KubernetesHandle.observedPodIps. */
  observedPodIps(): string[] {
    return this.#podIndex?.observedPodIps() ?? [];
  }

  /** See KubernetesHandle.metricsConfiguration. */
  metricsConfiguration(): MetricsConfigurationInfo | undefined {
    return this.#selected;
  }

  /** See KubernetesHandle.podInterfaces. */
  podInterfaces(): PodInterface[] {
    return this.#interfaces?.list() ?? [];
  }

  /** See KubernetesHandle.nodes. */
  nodes(): NodeRecord[] {
    return [...this.#nodes.values()].sort((a, b) => a.name.localeCompare(b.name));
  }
}

/** An object's namespace (`default` when unset) and name, as the delete handlers take them. */
function namespacedName(o: KubeObjectLike): [string, string] {
  return [o.metadata?.namespace ?? 'default', o.metadata?.name ?? ''];
}

function page(p: { limit: number; continue?: string }): { limit: number; _continue?: string } {
  return { limit: p.limit, ...(p.continue ? { _continue: p.continue } : {}) };
}

/**
 * Starts the Kubernetes side of the agent: resource watchers filling `ipCache`, the API server IP watcher and the
 * pod interface watcher. Returns at once; see `KubernetesHandle`.
 */
export function startKubernetes(options: StartKubernetesOptions): KubernetesHandle {
  return new KubernetesWatchers(options).start();
}
