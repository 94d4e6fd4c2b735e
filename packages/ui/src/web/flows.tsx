import { useEffect, useRef, useState } from 'preact/hooks';
import type { UiFilter, UiFlow } from '../model/types.js';
import { useStore } from './hooks.js';
import { store } from './store.js';
import { port, rcodeName, time, who } from './format.js';

/**
 * Every row has this height, so the table draws only the rows in view (plus a margin) whatever the window holds:
 * a thousand new rows a second then cost a few dozen rows of DOM, not thousands.
 */
export const ROW_HEIGHT = 46;
const OVERSCAN = 8;

const VERDICTS = ['', 'FORWARDED', 'DROPPED', 'ERROR', 'AUDIT', 'REDIRECTED', 'TRACED', 'TRANSLATED'];
const PROTOCOLS = ['', 'tcp', 'udp', 'icmpv4', 'icmpv6', 'dns'];

function Endpoint({ ep }: { ep: UiFlow['src'] }) {
  return (
    <div class="ep">
      <div class="ep-main">
        {who(ep)}
        <span class="muted">{port(ep)}</span>
      </div>
      {ep.workload || (ep.pod && ep.ip) ? (
        <div class="ep-sub">
          {ep.workload ? <span class="tag">{ep.workload}</span> : null}
          {ep.pod && ep.ip ? <span class="muted">{ep.ip}</span> : null}
        </div>
      ) : null}
    </div>
  );
}

function Verdict({ f }: { f: UiFlow }) {
  const cls = f.verdict === 'DROPPED' ? 'v-drop' : f.verdict === 'FORWARDED' ? 'v-fwd' : 'v-other';
  return <span class={`badge ${cls}`}>{f.verdict}</span>;
}

function Info({ f }: { f: UiFlow }) {
  const parts = [];
  if (f.dropReason) parts.push(<span class="drop-reason">{f.dropReason}</span>);
  if (f.dns) {
    parts.push(
      <span class="dns">
        {f.dns.type === 'request' ? '?' : '→'} {f.dns.query}
        {f.dns.qtypes ? <span class="muted"> {f.dns.qtypes.join(',')}</span> : null}
        {f.dns.type === 'response' ? (
          <span class={f.dns.rcode ? 'rcode-bad' : 'rcode-ok'}> {rcodeName(f.dns.rcode)}</span>
        ) : null}
      </span>,
    );
  }
  if (f.tcpFlags) parts.push(<span class={f.tcpFlags.includes('RST') ? 'flags rst' : 'flags'}>{f.tcpFlags.join(' ')}</span>);
  const title = [f.dropReason, f.dns ? `${f.dns.query} ${rcodeName(f.dns.rcode)}` : '', f.tcpFlags?.join(' ')].filter(Boolean).join(' · ');
  return (
    <div class="info" title={title}>
      {parts}
    </div>
  );
}

function FilterBar() {
  const s = useStore();
  const [draft, setDraft] = useState<UiFilter>(s.filter);
  const field = (name: keyof UiFilter, placeholder: string, width = 8) => (
    <label>
      <span>{name}</span>
      <input
        name={name}
        style={{ width: `${width}em` }}
        placeholder={placeholder}
        value={draft[name] ?? ''}
        onInput={(e) => setDraft({ ...draft, [name]: (e.target as HTMLInputElement).value })}
      />
    </label>
  );
  const select = (name: keyof UiFilter, options: string[]) => (
    <label>
      <span>{name}</span>
      <select
        name={name}
        value={draft[name] ?? ''}
        onChange={(e) => setDraft({ ...draft, [name]: (e.target as HTMLSelectElement).value })}
      >
        {options.map((o) => (
          <option value={o}>{o || 'any'}</option>
        ))}
      </select>
    </label>
  );
  const apply = (f: UiFilter) => {
    setDraft(f);
    store.applyFilter(f);
  };
  return (
    <form
      class="filters"
      onSubmit={(e) => {
        e.preventDefault();
        apply(draft);
      }}
    >
      {field('namespace', 'shop')}
      {field('pod', 'ns/pod-prefix', 9)}
      {field('workload', 'name or kind/name', 9)}
      {select('verdict', VERDICTS)}
      {select('protocol', PROTOCOLS)}
      {field('port', '53', 4)}
      {field('ip', 'IP or CIDR', 9)}
      {field('dns', 'query regex', 8)}
      {s.filter.from || s.filter.to ? (
        <span class="edge-filter">
          {s.filter.from ?? '*'} → {s.filter.to ?? '*'}
        </span>
      ) : null}
      <button type="submit" class="primary">
        Apply
      </button>
      <button type="button" onClick={() => apply({})}>
        Clear
      </button>
      {s.filterError ? <span class="error">{s.filterError}</span> : null}
    </form>
  );
}

function Detail({ f }: { f: UiFlow }) {
  const ips = [f.src.ip, f.dst.ip].filter((x): x is string => Boolean(x));
  return (
    <aside class="detail">
      <header>
        <strong>Flow #{f.seq}</strong>
        <span class="muted"> {time(f.time)}</span>
        <span class="spacer" />
        {ips.length ? (
          <button
            onClick={() => {
              store.set({
                captureDraft: {
                  ips,
                  ...(f.dst.port ? { port: f.dst.port } : {}),
                  ...(f.node ? { node: f.node } : {}),
                  label: `${who(f.src)} ↔ ${who(f.dst)}${port(f.dst)}`,
                },
              });
              store.go('capture');
            }}
          >
            Capture these endpoints
          </button>
        ) : null}
        <button onClick={() => store.set({ selected: undefined })}>Close</button>
      </header>
      <pre class="json">{JSON.stringify(f.raw, null, 2)}</pre>
    </aside>
  );
}

export function FlowsPage() {
  const s = useStore();
  const wrap = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [viewport, setViewport] = useState(800);
  useEffect(() => {
    const el = wrap.current;
    if (!el) return;
    const ro = new ResizeObserver(() => setViewport(el.clientHeight));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN);
  const count = Math.ceil(viewport / ROW_HEIGHT) + 2 * OVERSCAN;
  const rows = s.flows.slice(first, first + count);
  const below = Math.max(0, s.flows.length - first - rows.length);
  return (
    <section class="page flows-page">
      {/* Keyed by the applied filter: one set elsewhere (a map edge) shows up in the fields. */}
      <FilterBar key={JSON.stringify(s.filter)} />
      <div class="toolbar">
        <button class={s.paused ? 'primary' : ''} onClick={() => store.togglePause()} data-testid="pause">
          {s.paused ? '▶ Resume' : '❚❚ Pause'}
        </button>
        <span class="muted">
          {s.rate} flows/s · {s.flows.length} in window{s.paused ? ` · ${s.missedWhilePaused} new while paused` : ''}
          {s.status?.skipped ? ` · ${s.status.skipped} skipped by the server` : ''}
        </span>
      </div>
      <div class={s.selected ? 'split' : ''}>
        <div class="table-wrap" ref={wrap} onScroll={(e) => setScrollTop((e.target as HTMLDivElement).scrollTop)}>
          <table class="flows" data-testid="flows">
            <colgroup>
              <col style={{ width: '9em' }} />
              <col style={{ width: s.selected ? '24%' : '23%' }} />
              <col style={{ width: s.selected ? '24%' : '23%' }} />
              <col style={{ width: '6.8em' }} />
              <col style={{ width: '7.5em' }} />
              <col />
              {s.selected ? null : <col style={{ width: '10em' }} />}
            </colgroup>
            <thead>
              <tr>
                <th>Time</th>
                <th>Source</th>
                <th>Destination</th>
                <th>Protocol</th>
                <th>Verdict</th>
                <th>Details</th>
                {s.selected ? null : <th>Node</th>}
              </tr>
            </thead>
            <tbody>
              {first > 0 ? <tr class="spacer" style={{ height: `${first * ROW_HEIGHT}px` }} /> : null}
              {rows.map((f) => (
                <tr
                  key={f.seq}
                  class={`row ${f.verdict === 'DROPPED' ? 'dropped' : ''} ${s.selected?.seq === f.seq ? 'sel' : ''}`}
                  onClick={() => store.set({ selected: f })}
                >
                  <td class="mono">{time(f.time)}</td>
                  <td>
                    <Endpoint ep={f.src} />
                  </td>
                  <td>
                    <Endpoint ep={f.dst} />
                  </td>
                  <td>{f.protocol || '—'}</td>
                  <td>
                    <Verdict f={f} />
                  </td>
                  <td>
                    <Info f={f} />
                  </td>
                  {s.selected ? null : <td class="muted">{f.node}</td>}
                </tr>
              ))}
              {below > 0 ? <tr class="spacer" style={{ height: `${below * ROW_HEIGHT}px` }} /> : null}
            </tbody>
          </table>
          {rows.length === 0 ? <p class="empty">No flows yet{Object.keys(s.filter).length ? ' for this filter' : ''}.</p> : null}
        </div>
        {s.selected ? <Detail f={s.selected} /> : null}
      </div>
    </section>
  );
}
