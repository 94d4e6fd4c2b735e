// Preloaded into the agent by run.mjs --profile (node --import): SIGUSR2 starts the V8 CPU profiler, the next
// SIGUSR2 stops it and writes the profile to $RTS_BENCH_PROFILE, so the profile holds the measured phase only.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';

const out = process.env.RTS_BENCH_PROFILE;
if (!out) throw new Error('profiler.mjs: set RTS_BENCH_PROFILE to the file the profile goes to');
let session;
process.on('SIGUSR2', () => {
  if (!session) {
    session = new Session();
    session.connect();
    session.post('Profiler.enable');
    session.post('Profiler.setSamplingInterval', { interval: 500 });
    session.post('Profiler.start');
    return;
  }
  session.post('Profiler.stop', (err, result) => {
    if (err) process.stderr.write(`profiler.mjs: ${err.message}\n`);
    else writeFileSync(out, JSON.stringify(result.profile));
    session.disconnect();
    session = undefined;
  });
});
