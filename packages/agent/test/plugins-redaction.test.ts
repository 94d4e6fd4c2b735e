/** /plugins shows status without URLs, credentials or the API server's address. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetricsModule } from '@retina-ts/core';
import type { Server } from 'node:http';
import { boundAddress, startHttpServer, stopHttpServer } from '../src/http.js';
import { redactText } from '../src/redact.js';

const SERVER = 'https://admin:hunter2@api.cluster.example:6443';

describe('redactText', () => {
  it('removes URLs, bearer tokens, JWTs, secret parameters and the given hosts', () => {
    const text =
      'GET https://user:pw@10.0.0.1:6443/api/v1/pods?token=abc failed; Authorization: Bearer s3cr3t.tok ' +
      'id eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln password=pa55 connect ECONNREFUSED 10.0.0.1:6443';
    const out = redactText(text, ['10.0.0.1:6443', '10.0.0.1']);
    for (const secret of ['user:pw', 'abc', 's3cr3t', 'eyJ', 'pa55', '10.0.0.1', '6443', 'https://']) {
      expect(out).not.toContain(secret);
    }
    expect(out).toContain('ECONNREFUSED [api-server]');
    expect(redactText('plain failure: permission denied')).toBe('plain failure: permission denied');
  });
});

describe('GET /plugins', () => {
  let server: Server;

  beforeAll(async () => {
    server = await startHttpServer(
      {
        metrics: createMetricsModule(),
        plugins: () => [
          {
            name: 'dns',
            state: 'backoff',
            restarts: 1,
            lastError: `watch failed: ${SERVER}/api/v1/pods?watch=1 Authorization: Bearer abc.def`,
          },
        ],
        kubernetes: () => ({
          state: 'degraded',
          mode: 'kubeconfig',
          server: SERVER,
          reason: 'request to api.cluster.example:6443 failed: connect ECONNREFUSED',
          watchers: [{ resource: 'pods', lastError: `401 from ${SERVER}` }],
        }),
        ready: () => true,
      },
      '127.0.0.1',
      0,
    );
  });

  afterAll(async () => {
    await stopHttpServer(server);
  });

  it('shows states and errors without URLs, credentials or the API server address', async () => {
    const res = await fetch(`http://127.0.0.1:${boundAddress(server).port}/plugins`);
    const body = await res.text();
    expect(res.status).toBe(200);
    for (const leak of ['hunter2', 'admin', 'api.cluster.example', '6443', 'abc.def', 'https://']) {
      expect(body).not.toContain(leak);
    }
    const parsed = JSON.parse(body) as {
      plugins: { state: string; lastError: string }[];
      kubernetes: Record<string, unknown>;
    };
    expect(parsed.plugins[0]?.state).toBe('backoff');
    expect(parsed.plugins[0]?.lastError).toContain('watch failed: [url]');
    expect(parsed.kubernetes['server']).toBeUndefined();
    expect(parsed.kubernetes['reason']).toContain('[api-server]');
  });
});
