/**
 * Smoke test of the chaos runner (tools/chaos): two fast probes against the real agent CLI, through the runner's
 * command line, give a row each with the expected and the observed behaviour, and the table prints them.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const RUNNER = fileURLToPath(new URL('../../../tools/chaos/run.mjs', import.meta.url));

interface Row {
  name: string;
  expected: string;
  observed: string;
  verdict: string;
}

it('runs probes by name and reports expected, observed and verdict', () => {
  const r = spawnSync(
    process.execPath,
    [RUNNER, '--only', 'http-huge-headers,config-duration-huge', '--json'],
    {
      encoding: 'utf8',
      timeout: 60_000,
    },
  );
  const rows = JSON.parse(r.stdout) as Row[];
  expect(rows.map((row) => row.name)).toEqual(['config-duration-huge', 'http-huge-headers']);
  expect(rows.find((row) => row.name === 'http-huge-headers')).toMatchObject({
    verdict: 'ok',
    observed: expect.stringContaining('431'),
  });
  expect(rows.find((row) => row.name === 'config-duration-huge')).toMatchObject({
    verdict: 'ok',
    observed: expect.stringContaining('exit 2'),
  });
  expect(r.status).toBe(0);
});

it('lists the probes and refuses an unknown one', () => {
  const list = spawnSync(process.execPath, [RUNNER, '--list'], { encoding: 'utf8' });
  expect(list.status).toBe(0);
  for (const name of [
    'sigkill-tcx',
    'sigkill-clsact',
    'http-slowloris',
    'dns-label-flood',
    'config-stop-timeout',
  ]) {
    expect(list.stdout).toContain(`${name}: `);
  }
  const none = spawnSync(process.execPath, [RUNNER, '--only', 'no-such-probe'], { encoding: 'utf8' });
  expect(none.status).toBe(2);
  expect(none.stderr).toContain('no-such-probe');
});
