/**
 * The service map: workloads (or pods, or IPs outside the cluster) laid out by d3-force, edges as arrows whose
 * width follows flows/s. An edge with drops is red, one with resets or DNS errors amber; clicking an edge filters
 * the flow table to it.
 */
import { forceCenter, forceCollide, forceLink, forceManyBody, forceSimulation, type SimulationNodeDatum } from 'd3-force';
import type { UiEdge, UiMapNode } from '../model/types.js';
import { useStore } from './hooks.js';
import { rate } from './format.js';
import { store } from './store.js';

const W = 1000;
const H = 620;
const R = 26;

interface SimNode extends SimulationNodeDatum {
  id: string;
}

/** Positions kept across updates, so known nodes stay where they were and only new ones move in. */
const positions = new Map<string, SimNode>();
let lastTopology = '';

function layout(nodes: UiMapNode[], edges: UiEdge[]): Map<string, SimNode> {
  const topology = nodes.map((n) => n.id).sort().join('|') + '#' + edges.map((e) => `${e.source}>${e.target}`).sort().join('|');
  if (topology === lastTopology) return positions;
  lastTopology = topology;
  const sim: SimNode[] = nodes.map((n) => {
    const known = positions.get(n.id);
    return known ?? { id: n.id, x: W / 2 + (Math.random() - 0.5) * 200, y: H / 2 + (Math.random() - 0.5) * 200 };
  });
  const links = edges
    .filter((e) => e.source !== e.target)
    .map((e) => ({ source: e.source, target: e.target }));
  const s = forceSimulation(sim)
    .force('charge', forceManyBody().strength(-1400))
    .force('link', forceLink<SimNode, { source: string; target: string }>(links).id((d) => d.id).distance(300))
    .force('collide', forceCollide(R * 2.4))
    .force('center', forceCenter(W / 2, H / 2))
    .stop();
  // A fixed number of ticks, synchronously: the map is drawn once, settled, not animated.
  for (let i = 0; i < 250; i++) s.tick();
  positions.clear();
  for (const n of sim) {
    n.x = Math.max(R * 3, Math.min(W - R * 3, n.x ?? W / 2));
    n.y = Math.max(R * 2, Math.min(H - R * 2, n.y ?? H / 2));
    positions.set(n.id, n);
  }
  return positions;
}

function edgeClass(e: UiEdge): string {
  if (e.drops) return 'edge drop';
  if (e.resets || e.dnsErrors) return 'edge warn';
  return 'edge';
}

function nodeClass(n: UiMapNode): string {
  return `node ${n.kind}`;
}

export function MapPage() {
  const s = useStore();
  const { nodes, edges } = s.map;
  const pos = layout(nodes, edges);
  const namespaces = [...new Set(nodes.map((n) => n.namespace).filter(Boolean))];
  return (
    <section class="page map-page">
      <div class="toolbar">
        <span class="muted">
          {nodes.length} endpoints · {edges.length} edges · click an edge to see its flows
        </span>
        <span class="spacer" />
        <span class="legend">
          <i class="sw ok" /> traffic <i class="sw warn" /> resets / DNS errors <i class="sw drop" /> drops
        </span>
      </div>
      {nodes.length === 0 ? <p class="empty">No traffic seen yet.</p> : null}
      <svg class="map" viewBox={`0 0 ${W} ${H}`} data-testid="service-map">
        <defs>
          {['ok', 'warn', 'drop'].map((k) => (
            <marker
              id={`arrow-${k}`}
              viewBox="0 0 10 10"
              refX="9"
              refY="5"
              markerUnits="userSpaceOnUse"
              markerWidth="12"
              markerHeight="12"
              orient="auto"
            >
              <path d="M 0 0 L 10 5 L 0 10 z" class={`arrow ${k}`} />
            </marker>
          ))}
        </defs>
        {edges.map((e) => {
          const a = pos.get(e.source);
          const b = pos.get(e.target);
          if (!a || !b || a === b) return null;
          const dx = (b.x ?? 0) - (a.x ?? 0);
          const dy = (b.y ?? 0) - (a.y ?? 0);
          const len = Math.hypot(dx, dy) || 1;
          // A pair with traffic both ways gets two arcs, one each side.
          const bend = edges.some((o) => o.source === e.target && o.target === e.source) ? 70 : 0;
          const nx = -dy / len;
          const ny = dx / len;
          const x1 = (a.x ?? 0) + (dx / len) * R;
          const y1 = (a.y ?? 0) + (dy / len) * R;
          const x2 = (b.x ?? 0) - (dx / len) * (R + 4);
          const y2 = (b.y ?? 0) - (dy / len) * (R + 4);
          const cx = (x1 + x2) / 2 + nx * bend;
          const cy = (y1 + y2) / 2 + ny * bend;
          const d = `M ${x1} ${y1} Q ${cx} ${cy} ${x2} ${y2}`;
          // The curve's own midpoint (t = 0.5), where the label sits, pushed a little further out.
          const mx = 0.25 * x1 + 0.5 * cx + 0.25 * x2 + nx * 10;
          const my = 0.25 * y1 + 0.5 * cy + 0.25 * y2 + ny * 10;
          // The label grows away from the edge, so two arcs of one pair keep their labels apart.
          const anchor = nx > 0.35 ? 'start' : nx < -0.35 ? 'end' : 'middle';
          const width = 1.5 + Math.min(8, Math.log2(1 + e.rate) * 1.6);
          const kind = e.drops ? 'drop' : e.resets || e.dnsErrors ? 'warn' : 'ok';
          const marks = [
            e.drops ? `${e.drops} dropped` : '',
            e.resets ? `${e.resets} resets` : '',
            e.dnsErrors ? `${e.dnsErrors} DNS errors` : '',
          ].filter(Boolean);
          return (
            <g
              class={edgeClass(e)}
              data-source={e.source}
              data-target={e.target}
              data-drops={e.drops}
              onClick={() => {
                store.applyFilter({ from: e.source, to: e.target });
                store.go('flows');
              }}
            >
              <title>
                {`${e.source} → ${e.target}\n${rate(e.rate)} flows/s, ${e.flows} flows${marks.length ? `\n${marks.join(', ')}` : ''}`}
              </title>
              <path d={d} class="hit" />
              <path d={d} class="line" style={{ strokeWidth: width }} marker-end={`url(#arrow-${kind})`} />
              <text x={mx} y={my + 4} class="edge-label" text-anchor={anchor}>
                {rate(e.rate)}/s{marks.length ? ` · ${marks.join(' · ')}` : ''}
              </text>
            </g>
          );
        })}
        {nodes.map((n) => {
          const p = pos.get(n.id);
          if (!p) return null;
          return (
            <g class={nodeClass(n)} transform={`translate(${p.x} ${p.y})`} data-id={n.id}>
              <title>{n.id}</title>
              <circle r={R} />
              <text class="node-icon" y="5">
                {n.kind === 'external' ? '◎' : n.kind === 'pod' ? '▣' : '◆'}
              </text>
              <text class="node-label" y={R + 16}>
                {n.label}
              </text>
              {n.namespace ? (
                <text class="node-ns" y={R + 30}>
                  {n.namespace}
                </text>
              ) : null}
            </g>
          );
        })}
      </svg>
      {namespaces.length ? <p class="muted small">namespaces: {namespaces.join(', ')}</p> : null}
    </section>
  );
}
