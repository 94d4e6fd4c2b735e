import { useEffect, useState } from 'preact/hooks';
import type { UiCapture } from '../model/types.js';
import { time } from './format.js';
import { useStore } from './hooks.js';
import { store } from './store.js';

async function list(): Promise<UiCapture[]> {
  const r = await fetch('api/captures');
  const body = (await r.json()) as { captures?: UiCapture[]; error?: string };
  if (!r.ok) throw new Error(body.error ?? `HTTP ${r.status}`);
  return body.captures ?? [];
}

/**
 * Fetches a tarball and hands it to the browser as a download; an error the server names (no file on the node,
 * over the size limit, one download at a time) is shown instead of a broken download.
 */
async function download(href: string, fallbackName: string): Promise<void> {
  const r = await fetch(href);
  if (!r.ok) {
    const body = (await r.json().catch(() => ({}))) as { error?: string };
    throw new Error(body.error ?? `HTTP ${r.status}`);
  }
  const name = /filename="([^"]+)"/.exec(r.headers.get('content-disposition') ?? '')?.[1] ?? fallbackName;
  const blob = await r.blob().catch(() => {
    throw new Error('the download broke off before the whole file arrived');
  });
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

function DownloadLink({ href, label, name }: { href: string; label: string; name: string }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  return (
    <span class="download">
      <a
        href={href}
        aria-disabled={busy}
        onClick={(e) => {
          e.preventDefault();
          if (busy) return;
          setBusy(true);
          setError('');
          download(href, name).then(
            () => setBusy(false),
            (err: Error) => {
              setBusy(false);
              setError(err.message);
            },
          );
        }}
      >
        {busy ? `${label}…` : label}
      </a>
      {error ? <span class="error small" data-testid="download-error"> {error}</span> : null}
    </span>
  );
}

function Downloads({ c }: { c: UiCapture }) {
  if (!c.downloadable) return null;
  const base = `api/captures/${encodeURIComponent(c.id)}/download`;
  if (!c.files) return <DownloadLink href={base} label="Download" name={`${c.name}.tar.gz`} />;
  return (
    <>
      {c.files.map((f) => (
        <DownloadLink href={`${base}?node=${encodeURIComponent(f.node)}`} label={c.files!.length > 1 ? `Download (${f.node})` : 'Download'} name={f.file} />
      ))}
    </>
  );
}

export function CapturePage() {
  const s = useStore();
  const draft = s.captureDraft;
  const [captures, setCaptures] = useState<UiCapture[]>([]);
  const [error, setError] = useState('');
  const [duration, setDuration] = useState(10);
  const [name, setName] = useState('ui-capture');
  const mode = s.status?.capture ?? 'off';

  useEffect(() => {
    if (mode === 'off') return;
    const refresh = () =>
      list().then(
        (c) => setCaptures(c),
        (e: Error) => setError(e.message),
      );
    void refresh();
    const t = setInterval(refresh, 2000);
    return () => clearInterval(t);
  }, [mode]);

  const start = async () => {
    if (!draft) return;
    setError('');
    const r = await fetch('api/captures', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name, ips: draft.ips, port: draft.port, node: draft.node, durationSeconds: duration }),
    });
    const body = (await r.json()) as UiCapture & { error?: string };
    if (!r.ok) setError(body.error ?? `HTTP ${r.status}`);
    else setCaptures([body, ...captures.filter((c) => c.id !== body.id)]);
  };

  return (
    <section class="page capture-page">
      {mode === 'off' ? <p class="empty">Captures are off on this server (start it with --capture standalone or cluster).</p> : null}
      <div class="card">
        <h3>New capture</h3>
        {draft ? (
          <form
            class="capture-form"
            onSubmit={(e) => {
              e.preventDefault();
              void start();
            }}
          >
            <p>
              Endpoints: <strong>{draft.label}</strong>
              <span class="muted"> ({draft.ips.join(' and ')}{draft.port ? `, port ${draft.port}` : ''})</span>
            </p>
            <label>
              <span>name</span>
              <input name="capture-name" value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
            </label>
            <label>
              <span>seconds</span>
              <input
                name="capture-seconds"
                type="number"
                min={1}
                max={600}
                value={duration}
                onInput={(e) => setDuration(Number((e.target as HTMLInputElement).value))}
              />
            </label>
            <button type="submit" class="primary" disabled={mode === 'off'}>
              Start capture
            </button>
            <button type="button" onClick={() => store.set({ captureDraft: undefined })}>
              Cancel
            </button>
            <p class="muted small">
              {mode === 'cluster'
                ? `Creates a Capture resource on node ${draft.node ?? '(any linux node)'}; when it is done, each node's tarball can be downloaded here (read off the node by a short-lived pod).`
                : 'Runs tcpdump on this host; the tarball (pcap) can be downloaded when it is done.'}
            </p>
          </form>
        ) : (
          <p class="muted">Select a flow in the Flows table and choose “Capture these endpoints”.</p>
        )}
        {error ? <p class="error">{error}</p> : null}
      </div>
      <div class="card">
        <h3>Captures</h3>
        <table class="plain" data-testid="captures">
          <thead>
            <tr>
              <th>Started</th>
              <th>Name</th>
              <th>Filter</th>
              <th>State</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {captures.map((c) => (
              <tr>
                <td class="mono">{time(c.startedAt)}</td>
                <td>{c.resource ?? c.name}</td>
                <td class="mono small">{c.filter}</td>
                <td>
                  <span class={`badge ${c.state === 'done' ? 'v-fwd' : c.state === 'failed' ? 'v-drop' : 'v-other'}`}>{c.state}</span>
                  {c.error ? <span class="error small"> {c.error}</span> : null}
                </td>
                <td>
                  <Downloads c={c} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {!captures.length ? <p class="empty small">No captures yet.</p> : null}
      </div>
    </section>
  );
}
