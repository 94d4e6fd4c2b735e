/** Listener defaults: plaintext gRPC stays on loopback unless named; one switch turns on mutual TLS. */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FlowBus, parseConfig } from '@retina-ts/core';
import { HUBBLE_TLS_DEFAULT_FILES, hubbleOptionsFromConfig, startHubble } from '../src/index.js';

const optionsOf = (cilium: Record<string, string>) =>
  hubbleOptionsFromConfig(
    parseConfig({ controlPlane: 'hubble', ...cilium }, { env: {}, platform: 'linux' }).config,
  );

/** Local addresses (hex, as /proc shows them) listening on `port`. */
function listeningAddresses(port: number): string[] {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const out: string[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      const [addr, p] = (cols[1] ?? '').split(':');
      if (p === hexPort && cols[3] === '0A') out.push(addr as string);
    }
  }
  return out;
}

describe('hubble listeners', () => {
  it('binds the plaintext TCP listener to loopback by default', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hubble-listen-'));
    let server;
    try {
      server = await startHubble({
        flowBus: new FlowBus(),
        nodeName: 'n',
        options: { unixSocket: join(dir, 'h.sock') },
      });
    } catch (err) {
      // Another process holds 4244: the address tried still shows the default.
      expect((err as Error).message).toContain('127.0.0.1:4244');
      return;
    }
    try {
      expect(server.tcpPort).toBe(4244);
      expect(server.tls).toBe(false);
      expect(listeningAddresses(4244)).toContain('0100007F'); // 127.0.0.1
      expect(listeningAddresses(4244)).not.toContain('00000000');
    } finally {
      await server.stop(100);
    }
  });

  it('turns on mutual TLS with the chart’s file paths from hubble-disable-tls: "false" alone', async () => {
    const { options, warnings } = optionsOf({ 'hubble-disable-tls': 'false' });
    expect(warnings).toEqual([]);
    expect(options.tls).toEqual({
      certFile: HUBBLE_TLS_DEFAULT_FILES.certFile,
      keyFile: HUBBLE_TLS_DEFAULT_FILES.keyFile,
      clientCaFiles: [HUBBLE_TLS_DEFAULT_FILES.clientCaFile],
    });
    // Named files win; missing files fail the start instead of serving plaintext.
    const named = optionsOf({
      'hubble-disable-tls': 'false',
      'hubble-tls-cert-file': '/nonexistent/s.crt',
      'hubble-tls-key-file': '/nonexistent/s.key',
    });
    expect(named.options.tls?.certFile).toBe('/nonexistent/s.crt');
    await expect(
      startHubble({
        flowBus: new FlowBus(),
        nodeName: 'n',
        options: { ...named.options, unixSocket: false, listenAddress: '127.0.0.1:0' },
      }),
    ).rejects.toThrow('/nonexistent/s.crt');
  });

  it('warns when a plaintext listener is named on every interface', () => {
    const { options, warnings } = optionsOf({
      'hubble-disable-tls': 'true',
      'hubble-listen-address': ':4244',
    });
    expect(options.tls).toBeUndefined();
    expect(warnings.join('\n')).toMatch(/":4244" serves plaintext gRPC on every interface/);
    expect(optionsOf({ 'hubble-listen-address': '127.0.0.1:4244' }).warnings).toEqual([]);
  });
});
