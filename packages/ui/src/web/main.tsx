import { render } from 'preact';
import 'uplot/dist/uPlot.min.css';
import './style.css';
import { CapturePage } from './capture.js';
import { FlowsPage } from './flows.js';
import { useStore } from './hooks.js';
import { MapPage } from './map.js';
import { NodePage } from './node.js';
import { store, type Page } from './store.js';

const TABS: [Page, string][] = [
  ['flows', 'Flows'],
  ['map', 'Service map'],
  ['node', 'Node'],
  ['capture', 'Capture'],
];

function App() {
  const s = useStore();
  const st = s.status;
  return (
    <>
      <header class="top">
        <div class="brand">
          <span class="logo">◉</span> retina-ts
        </div>
        <nav>
          {TABS.map(([page, label]) => (
            <a href={`#${page}`} class={s.page === page ? 'active' : ''} data-page={page}>
              {label}
            </a>
          ))}
        </nav>
        <span class="spacer" />
        <span class={`conn ${st?.connected ? 'ok' : 'bad'}`} title={st?.error ?? ''}>
          <i /> {st ? (st.connected ? `connected to ${st.hubble}` : `not connected: ${st.error ?? st.hubble}`) : 'connecting…'}
        </span>
      </header>
      <main>
        {s.page === 'flows' ? <FlowsPage /> : null}
        {s.page === 'map' ? <MapPage /> : null}
        {s.page === 'node' ? <NodePage /> : null}
        {s.page === 'capture' ? <CapturePage /> : null}
      </main>
    </>
  );
}

window.__retinaUi = {
  windowSize: () => store.state.flows.length,
  received: () => store.state.received,
  renders: () => store.renders,
  rowsShown: () => document.querySelectorAll('table.flows tbody tr.row').length,
};
store.connect();
render(<App />, document.getElementById('app')!);
