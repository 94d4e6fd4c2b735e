import { useState } from 'preact/hooks';
import type { UiFilter, UiFlow } from '../shared/types.js';
import { useStore } from './hooks.js';
import { store } from './store.js';
import { port, rcodeName, time, who } from './format.js';

/** Rows drawn while live (a screen shows a few dozen); paused, the whole window can be scrolled. */
export const ROWS_SHOWN = 100;
export const ROWS_SHOWN_PAUSED = 2000;

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
  return <div class="info">{parts}</div>;
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
  const rows = s.flows.slice(0, s.paused ? ROWS_SHOWN_PAUSED : ROWS_SHOWN);
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
        <div class="table-wrap">
          <table class="flows" data-testid="flows">
            <colgroup>
              <col style={{ width: '8.5em' }} />
              <col style={{ width: '22%' }} />
              <col style={{ width: '22%' }} />
              <col style={{ width: '6em' }} />
              <col style={{ width: '8em' }} />
              <col />
              <col style={{ width: '10em' }} />
            </colgroup>
            <thead>
              <tr>
                <th>Time</th>
                <th>Source</th>
                <th>Destination</th>
                <th>Protocol</th>
                <th>Verdict</th>
                <th>Details</th>
                <th>Node</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((f) => (
                <tr
                  key={f.seq}
                  class={`${f.verdict === 'DROPPED' ? 'dropped' : ''} ${s.selected?.seq === f.seq ? 'sel' : ''}`}
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
                  <td class="muted">{f.node}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {rows.length === 0 ? <p class="empty">No flows yet{Object.keys(s.filter).length ? ' for this filter' : ''}.</p> : null}
        </div>
        {s.selected ? <Detail f={s.selected} /> : null}
      </div>
    </section>
  );
}
