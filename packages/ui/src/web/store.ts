/**
 * Browser state: one EventSource to the UI server, a bounded window of flows (newest first), the latest service
 * map, node samples and DNS latency history. Views re-render at most once per animation frame, however many
 * batches arrive in it.
 */
import type {
  UiDnsLatency,
  UiFilter,
  UiFlow,
  UiNodeSample,
  UiServiceMap,
  UiStatus,
} from '../model/types.js';

/** Flows the browser keeps; older ones fall out of the window. */
export const FLOW_WINDOW = 2000;
/**
 * The window takes new flows this often: a table moving faster cannot be read, and each update costs a layout of
 * the table. Above BUSY_RATE flows/s the table moves at the slower pace, leaving frames for scrolling and clicks.
 */
export const FLOW_UPDATE_MS = 200;
export const BUSY_UPDATE_MS = 500;
export const BUSY_RATE = 200;
/** Node and DNS samples kept for the charts. */
export const HISTORY = 300;

export type Page = 'flows' | 'map' | 'node' | 'capture';

export interface State {
  page: Page;
  flows: UiFlow[];
  paused: boolean;
  /** Flows that arrived while paused (not added to the window). */
  missedWhilePaused: number;
  filter: UiFilter;
  filterError?: string;
  selected?: UiFlow;
  map: UiServiceMap;
  node: UiNodeSample[];
  dns: UiDnsLatency[];
  status?: UiStatus;
  /** Flows received over the last second (for the header). */
  rate: number;
  received: number;
  /** Endpoints a capture is being set up for. */
  captureDraft?: { ips: string[]; port?: number; node?: string; label: string };
}

type Listener = () => void;

const PAGES: Page[] = ['flows', 'map', 'node', 'capture'];

function pageFromHash(): Page {
  const p = location.hash.replace(/^#\/?/, '').split('?')[0] as Page;
  return PAGES.includes(p) ? p : 'flows';
}

class Store {
  state: State = {
    page: pageFromHash(),
    flows: [],
    paused: false,
    missedWhilePaused: 0,
    filter: {},
    map: { nodes: [], edges: [] },
    node: [],
    dns: [],
    rate: 0,
    received: 0,
  };
  #listeners = new Set<Listener>();
  #frame = 0;
  #source: EventSource | undefined;
  #countThisSecond = 0;
  /** Flows received since the last window update, oldest first; never more than FLOW_WINDOW. */
  #incoming: UiFlow[] = [];
  /** Renders done, for the page's own measurements (exposed on window.__retinaUi). */
  renders = 0;

  constructor() {
    window.addEventListener('hashchange', () => this.set({ page: pageFromHash() }));
    setInterval(() => {
      this.state = { ...this.state, rate: this.#countThisSecond };
      this.#countThisSecond = 0;
      this.#schedule();
    }, 1000);
    let lastMerge = 0;
    setInterval(() => {
      const every = this.state.rate > BUSY_RATE ? BUSY_UPDATE_MS : FLOW_UPDATE_MS;
      if (performance.now() - lastMerge < every - 20) return;
      lastMerge = performance.now();
      this.#mergeIncoming();
    }, FLOW_UPDATE_MS / 2);
  }

  subscribe(fn: Listener): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  set(patch: Partial<State>): void {
    this.state = { ...this.state, ...patch };
    this.#schedule();
  }

  #schedule(): void {
    if (this.#frame) return;
    this.#frame = requestAnimationFrame(() => {
      this.#frame = 0;
      this.renders++;
      for (const fn of this.#listeners) fn();
    });
  }

  go(page: Page): void {
    if (location.hash !== `#${page}`) location.hash = page;
    this.set({ page });
  }

  /** (Re)opens the stream with the current filter; the window starts empty. */
  connect(): void {
    this.#source?.close();
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(this.state.filter)) if (v) q.set(k, v);
    this.#incoming = [];
    this.set({ flows: [], selected: undefined, map: { nodes: [], edges: [] }, missedWhilePaused: 0, filterError: undefined });
    const src = new EventSource(`api/stream?${q.toString()}`);
    this.#source = src;
    src.addEventListener('flows', (ev) => this.#onFlows(JSON.parse((ev as MessageEvent<string>).data) as UiFlow[]));
    src.addEventListener('map', (ev) => this.set({ map: JSON.parse((ev as MessageEvent<string>).data) as UiServiceMap }));
    src.addEventListener('status', (ev) => this.set({ status: JSON.parse((ev as MessageEvent<string>).data) as UiStatus }));
    src.addEventListener('node', (ev) => {
      const s = JSON.parse((ev as MessageEvent<string>).data) as UiNodeSample;
      const last = this.state.node[this.state.node.length - 1];
      if (last && last.time === s.time) return;
      this.set({ node: [...this.state.node, s].slice(-HISTORY) });
    });
    src.addEventListener('dns', (ev) => {
      const d = JSON.parse((ev as MessageEvent<string>).data) as UiDnsLatency;
      this.set({ dns: [...this.state.dns, d].slice(-HISTORY) });
    });
    src.addEventListener('error', () => {
      // A 400 (bad filter) closes the stream for good; the reason comes from the same URL as JSON.
      if (src.readyState === EventSource.CLOSED) {
        void fetch(`api/stream?${q.toString()}`)
          .then((r) => {
            if (!r.ok) return r.json() as Promise<{ error?: string }>;
            void r.body?.cancel();
            return undefined;
          })
          .then((b: { error?: string } | undefined) => b?.error && this.set({ filterError: b.error }))
          .catch(() => undefined);
      }
    });
  }

  #onFlows(batch: UiFlow[]): void {
    this.#countThisSecond += batch.length;
    this.state.received += batch.length;
    if (this.state.paused) {
      this.state.missedWhilePaused += batch.length;
      return;
    }
    for (const f of batch) this.#incoming.push(f);
    if (this.#incoming.length > FLOW_WINDOW) this.#incoming = this.#incoming.slice(-FLOW_WINDOW);
  }

  /** Moves the flows received since the last update into the window (newest first), keeping it bounded. */
  #mergeIncoming(): void {
    if (!this.#incoming.length) return;
    const incoming = this.#incoming.reverse();
    this.#incoming = [];
    const flows = incoming.concat(this.state.flows.slice(0, FLOW_WINDOW - incoming.length));
    this.set({ flows });
  }

  applyFilter(filter: UiFilter): void {
    this.state = { ...this.state, filter };
    this.connect();
  }

  togglePause(): void {
    this.#incoming = [];
    this.set({ paused: !this.state.paused, missedWhilePaused: 0 });
  }
}

export const store = new Store();

declare global {
  interface Window {
    __retinaUi?: { windowSize(): number; received(): number; renders(): number; rowsShown(): number };
  }
}
