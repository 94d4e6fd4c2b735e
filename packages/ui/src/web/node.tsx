import type { UiNodeSample } from '../model/types.js';
import { Chart, color, type Series } from './chart.js';
import { useStore } from './hooks.js';

/** Per-second rate between consecutive samples of a counter (null where it is missing or reset). */
function rates(samples: UiNodeSample[], get: (s: UiNodeSample) => number | undefined): (number | null)[] {
  return samples.map((s, i) => {
    const prev = samples[i - 1];
    if (!prev) return null;
    const a = get(prev);
    const b = get(s);
    if (a === undefined || b === undefined || b < a) return null;
    return (b - a) / Math.max((s.time - prev.time) / 1000, 0.001);
  });
}

function stateClass(state: string): string {
  if (state === 'running') return 'badge v-fwd';
  if (state === 'failed') return 'badge v-drop';
  return 'badge v-other';
}

export function NodePage() {
  const s = useStore();
  const samples = s.node;
  const times = samples.map((x) => x.time / 1000);
  const last = samples[samples.length - 1];
  const reasons = [...new Set(samples.flatMap((x) => Object.keys(x.drops)))].sort();
  const drops: Series[] = reasons.map((r, i) => ({ label: r, color: color(i + 1), values: rates(samples, (x) => x.drops[r]) }));
  const dns: Series[] = [
    { label: 'requests', color: color(0), values: rates(samples, (x) => x.dnsRequests) },
    { label: 'responses', color: color(3), values: rates(samples, (x) => x.dnsResponses) },
  ];
  const retrans: Series[] = [{ label: 'retransmissions', color: color(2), values: rates(samples, (x) => x.retransmissions) }];
  const lat = s.dns;
  const latency: Series[] = [
    { label: 'p50', color: color(0), values: lat.map((d) => d.p50Ms ?? null) },
    { label: 'p95', color: color(4), values: lat.map((d) => d.p95Ms ?? null) },
  ];
  const tcpStates = Object.entries(last?.tcpState ?? {}).sort((a, b) => b[1] - a[1]);
  const maxState = Math.max(1, ...tcpStates.map(([, v]) => v));
  return (
    <section class="page node-page">
      {last?.error ? <p class="error">Reading the agent: {last.error}</p> : null}
      {!samples.length ? <p class="empty">Waiting for the agent's metrics (start the UI with --metrics).</p> : null}
      <div class="grid">
        <Chart title="Drops by reason" unit="packets/s" times={times} series={drops} />
        <Chart title="DNS" unit="requests and responses/s" times={times} series={dns} />
        <Chart
          title="DNS latency"
          unit="ms, from request/response flows"
          times={lat.map((d) => d.time / 1000)}
          series={latency}
          sparse
        />
        <Chart title="TCP retransmissions" unit="/s" times={times} series={retrans} />
        <div class="card">
          <h3>TCP connection states</h3>
          {tcpStates.length ? (
            <table class="bars">
              {tcpStates.map(([state, v]) => (
                <tr>
                  <td class="mono">{state}</td>
                  <td class="bar-cell">
                    <div class="bar" style={{ width: `${(v / maxState) * 100}%` }} />
                  </td>
                  <td class="num">{v}</td>
                </tr>
              ))}
            </table>
          ) : (
            <p class="empty small">No TCP state figures (the linuxutil plugin reports them).</p>
          )}
        </div>
        <div class="card">
          <h3>Plugins</h3>
          <table class="plain" data-testid="plugins">
            {(last?.plugins ?? []).map((p) => (
              <tr>
                <td>{p.name}</td>
                <td>
                  <span class={stateClass(p.state)}>{p.state}</span>
                </td>
                <td class="muted small">{p.lastError ?? ''}</td>
              </tr>
            ))}
          </table>
          {last && Object.keys(last.drops).length ? (
            <p class="muted small">
              drops since start: {Object.entries(last.drops).map(([r, n]) => `${r} ${n}`).join(', ')}
            </p>
          ) : null}
        </div>
      </div>
    </section>
  );
}
