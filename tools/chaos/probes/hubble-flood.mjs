// The Hubble flood bench, bounded: 50,000 flows/s for 5 s per mode with 50 followers, /metrics scraped every 100 ms
// (bench/hubble/flood.mjs, one round, the standard control plane's /metrics as the baseline in the same run).
import { join } from 'node:path';

import { REPO, sh } from '../lib.mjs';

export default {
  name: 'hubble-flood',
  expected: '50,000 flows/s, 50 followers: hubble /metrics scrape p90 < 250 ms, RSS < 300 MiB (one 5 s round)',
  async run() {
    const r = sh(process.execPath, [join(REPO, 'bench', 'hubble', 'flood.mjs'), '--rounds', '1', '--seconds', '5'], {
      cwd: join(REPO, 'bench'),
      timeoutMs: 40_000,
    });
    const rows = r.stdout.split('\n').filter((l) => /^\| 1 /.test(l));
    const cells = (name) => rows.find((l) => l.includes(name))?.split('|').map((c) => c.trim());
    const hubble = cells('hubble');
    const standard = cells('standard');
    if (r.code !== 0 || !hubble || !standard)
      throw new Error(`bench failed (${r.code ?? r.signal}): ${r.stderr.trim().slice(0, 200)}`);
    const [p90, rss] = [Number(hubble[4]), Number(hubble[6])];
    return {
      observed: `hubble scrape p50 ${hubble[3]} / p90 ${p90} / max ${hubble[5]} ms, RSS ${rss} MiB; standard p90 ${standard[4]} ms`,
      ok: p90 < 250 && rss < 300,
    };
  },
};
