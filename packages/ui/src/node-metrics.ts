/**
 * Node figures for the Node page: the agent's /metrics (drops by reason, DNS requests and responses, TCP states,
 * retransmissions) and /plugins (plugin states), read on an interval and shared by every browser.
 */
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { METRIC_PREFIX } from '@retina-ts/core';
import type { UiNodeSample } from './model/types.js';

/** Largest /metrics or /plugins body read; an agent with huge cardinality is cut off with an error. */
export const MAX_BODY_BYTES = 16 * 1024 * 1024;

async function readBounded(url: string, timeoutMs: number): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  const reader = res.body?.getReader();
  if (!reader) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_BODY_BYTES) {
      await reader.cancel();
      throw new Error(`${url}: body larger than ${MAX_BODY_BYTES} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

const PREFIXES = [METRIC_PREFIX, 'retina_'];

/** The node figures out of a Prometheus text exposition. */
export function nodeFiguresFromExposition(text: string): Omit<UiNodeSample, 'time' | 'plugins'> {
  const out: Omit<UiNodeSample, 'time' | 'plugins'> = { drops: {}, tcpState: {} };
  for (const family of parsePrometheusTextFormat(text)) {
    const prefix = PREFIXES.find((p) => family.name.startsWith(p));
    if (!prefix) continue;
    const name = family.name.slice(prefix.length);
    const sum = (): number => family.metrics.reduce((acc, m) => acc + (Number(m.value) || 0), 0);
    switch (name) {
      case 'drop_count':
        for (const m of family.metrics) {
          const reason = m.labels?.['reason'] || 'unknown';
          out.drops[reason] = (out.drops[reason] ?? 0) + (Number(m.value) || 0);
        }
        break;
      case 'dns_request_count':
        out.dnsRequests = sum();
        break;
      case 'dns_response_count':
        out.dnsResponses = sum();
        break;
      case 'tcp_retransmission_count':
        out.retransmissions = sum();
        break;
      case 'tcp_state':
        for (const m of family.metrics) {
          const state = m.labels?.['state'] || 'unknown';
          out.tcpState[state] = (out.tcpState[state] ?? 0) + (Number(m.value) || 0);
        }
        break;
    }
  }
  return out;
}

function pluginsOf(body: unknown): UiNodeSample['plugins'] {
  const list = (body as { plugins?: unknown } | undefined)?.plugins;
  if (!Array.isArray(list)) throw new Error('/plugins: no "plugins" array');
  return list.slice(0, 200).map((p: Record<string, unknown>) => {
    const out: UiNodeSample['plugins'][number] = {
      name: String(p['name'] ?? '?').slice(0, 128),
      state: String(p['state'] ?? '?').slice(0, 64),
    };
    if (typeof p['lastError'] === 'string') out.lastError = p['lastError'].slice(0, 1024);
    return out;
  });
}

/** Polls `<metricsUrl>/metrics` and `<metricsUrl>/plugins`; listeners get every sample. */
export class NodePoller {
  readonly #base: URL;
  readonly #intervalMs: number;
  readonly #listeners = new Set<(s: UiNodeSample) => void>();
  #timer: NodeJS.Timeout | undefined;
  #last: UiNodeSample | undefined;
  #busy = false;

  constructor(metricsUrl: string, intervalMs = 2000) {
    let u: URL;
    try {
      u = new URL(metricsUrl);
    } catch {
      throw new Error(`metrics: ${JSON.stringify(metricsUrl.slice(0, 200))} is not a URL`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`metrics: ${u.protocol} is not http or https`);
    // Either the agent's base URL or its /metrics URL: both name the same listener.
    u.pathname = u.pathname.replace(/\/metrics\/?$/, '/').replace(/\/?$/, '/');
    this.#base = u;
    this.#intervalMs = intervalMs;
  }

  get last(): UiNodeSample | undefined {
    return this.#last;
  }

  subscribe(fn: (s: UiNodeSample) => void): () => void {
    this.#listeners.add(fn);
    if (this.#listeners.size === 1) this.#start();
    return () => {
      this.#listeners.delete(fn);
      if (this.#listeners.size === 0) this.#stop();
    };
  }

  #start(): void {
    void this.poll();
    this.#timer = setInterval(() => void this.poll(), this.#intervalMs);
    this.#timer.unref();
  }

  #stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One sample now; errors are part of the sample, never thrown. */
  async poll(): Promise<UiNodeSample | undefined> {
    if (this.#busy) return undefined;
    this.#busy = true;
    const sample: UiNodeSample = { time: Date.now(), drops: {}, tcpState: {}, plugins: [] };
    const errors: string[] = [];
    try {
      const [metrics, plugins] = await Promise.allSettled([
        readBounded(new URL('metrics', this.#base).href, this.#intervalMs * 2),
        readBounded(new URL('plugins', this.#base).href, this.#intervalMs * 2),
      ]);
      if (metrics.status === 'fulfilled') Object.assign(sample, nodeFiguresFromExposition(metrics.value));
      else errors.push(String((metrics.reason as Error).message));
      if (plugins.status === 'fulfilled') {
        try {
          sample.plugins = pluginsOf(JSON.parse(plugins.value));
        } catch (err) {
          errors.push((err as Error).message);
        }
      } else errors.push(String((plugins.reason as Error).message));
    } finally {
      this.#busy = false;
    }
    if (errors.length) sample.error = errors.join('; ');
    this.#last = sample;
    for (const fn of this.#listeners) fn(sample);
    return sample;
  }
}
