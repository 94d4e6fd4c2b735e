/**
 * Keeps the set of API server IPs current, for the API-server latency metrics and for the IPs-of-interest filter.
 * Sources: the host of the client's server URL (resolved when it is a name), the cluster IPs of the
 * `default/kubernetes` Service, and the endpoints behind it (EndpointSlices labelled
 * `kubernetes.io/service-name=kubernetes`, or the `kubernetes` Endpoints object where EndpointSlices are not
 * served). A source that fails keeps its last answer, so a transient error does not drop IPs.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Logger } from '@retina-ts/core';
import { describeError } from './errors.js';

/** The change reported when the set of IPs changes. */
export interface ApiServerIpsChange {
  ips: string[];
  added: string[];
  removed: string[];
}

/** Where the IPs come from; each returns the IPs it knows, or throws. */
export interface ApiServerSources {
  /** The server URL of the client config, e.g. `https://10.0.0.1:443` or `https://my-cluster.example:6443`. */
  serverUrl?: string;
  /** Cluster IPs of `default/kubernetes`. */
  serviceIps?: () => Promise<string[]>;
  /** Endpoint addresses of `default/kubernetes`. */
  endpointIps?: () => Promise<string[]>;
  /** Name resolution (default: the system resolver, all addresses). */
  resolve?: (host: string) => Promise<string[]>;
}

/** Options of ApiServerWatcher. */
export interface ApiServerWatcherOptions extends ApiServerSources {
  logger: Logger;
  /** Refresh period (default 30 s, as Retina). */
  refreshIntervalMs?: number;
  onChange?: (change: ApiServerIpsChange) => void;
}

/** What `status()` reports. */
export interface ApiServerWatcherStatus {
  ips: string[];
  /** Sources that answered at the last refresh. */
  sources: Record<string, 'ok' | 'failed' | 'unused'>;
  lastRefreshAt?: string;
  lastError?: string;
}

/** The host of a server URL without brackets or port; undefined when the URL does not parse. */
export function serverHost(url: string): string | undefined {
  try {
    const host = new URL(url).hostname;
    return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  } catch {
    return undefined;
  }
}

async function resolveAll(host: string): Promise<string[]> {
  return (await lookup(host, { all: true })).map((a) => a.address);
}

const sortIps = (ips: Iterable<string>) => [...new Set(ips)].sort();

/** Refreshes the API server IPs periodically and reports changes. */
export class ApiServerWatcher {
  readonly #opts: ApiServerWatcherOptions;
  readonly #log: Logger;
  /** The server URL's host (an address or a name), parsed once. */
  readonly #host: string | undefined;
  readonly #last = new Map<string, string[]>();
  #sources: ApiServerWatcherStatus['sources'] = {};
  #ips: string[] = [];
  #timer?: NodeJS.Timeout;
  #stopped = false;
  #lastRefreshAt?: Date;
  #lastError?: string;
  #running?: Promise<void>;

  constructor(options: ApiServerWatcherOptions) {
    this.#opts = options;
    this.#log = options.logger.child({ watcher: 'apiserver' });
    // A server URL with a literal address is known before any request: the IPs-of-interest filter and the latency
    // metrics can have it from the start, ahead of the first refresh.
    this.#host = options.serverUrl ? serverHost(options.serverUrl) : undefined;
    const host = this.#host;
    if (host !== undefined && isIP(host) !== 0) {
      this.#last.set('kubeconfig', [host]);
      this.#ips = [host];
    }
  }

  /** The current API server IPs, sorted. */
  ips(): string[] {
    return [...this.#ips];
  }

  /** Refreshes now and then every interval. The first refresh's promise resolves when it is done (never rejects). */
  start(): Promise<void> {
    const first = this.refresh();
    const every = this.#opts.refreshIntervalMs ?? 30_000;
    this.#timer = setInterval(() => void this.refresh(), every);
    this.#timer.unref();
    return first;
  }

  /** Stops refreshing. */
  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
  }

  /** Status for health reporting. */
  status(): ApiServerWatcherStatus {
    return {
      ips: this.ips(),
      sources: { ...this.#sources },
      ...(this.#lastRefreshAt ? { lastRefreshAt: this.#lastRefreshAt.toISOString() } : {}),
      ...(this.#lastError ? { lastError: this.#lastError } : {}),
    };
  }

  /** Queries every source once and reports a change; concurrent calls share one refresh. */
  refresh(): Promise<void> {
    this.#running ??= this.#refresh().finally(() => (this.#running = undefined));
    return this.#running;
  }

  async #refresh(): Promise<void> {
    const o = this.#opts;
    const host = this.#host;
    const sources: [string, (() => Promise<string[]>) | undefined][] = [
      [
        'kubeconfig',
        host === undefined ? undefined : isIP(host) ? async () => [host] : () => (o.resolve ?? resolveAll)(host),
      ],
      ['service', o.serviceIps],
      ['endpoints', o.endpointIps],
    ];
    const errors: string[] = [];
    const states: ApiServerWatcherStatus['sources'] = {};
    await Promise.all(
      sources.map(async ([name, fn]) => {
        if (!fn) {
          states[name] = 'unused';
          return;
        }
        try {
          this.#last.set(name, (await fn()).filter((ip) => isIP(ip) !== 0));
          states[name] = 'ok';
        } catch (err) {
          states[name] = 'failed';
          errors.push(describeError(`apiserver ${name}`, err));
        }
      }),
    );
    if (this.#stopped) return;
    this.#sources = states;
    this.#lastRefreshAt = new Date();
    this.#lastError = errors.length ? errors.join('; ') : undefined;
    if (errors.length) this.#log.warn({ errors }, 'some API server IP sources failed; keeping their last answers');
    const next = sortIps([...this.#last.values()].flat());
    const before = new Set(this.#ips);
    const after = new Set(next);
    const added = next.filter((ip) => !before.has(ip));
    const removed = this.#ips.filter((ip) => !after.has(ip));
    if (added.length === 0 && removed.length === 0) return;
    this.#ips = next;
    this.#log.info({ ips: next, added, removed }, 'API server IPs changed');
    this.#opts.onChange?.({ ips: [...next], added, removed });
  }
}
