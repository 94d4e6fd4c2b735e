/** Retina keys retina-ts does not act on: silent for the values that ask for nothing, a warning otherwise. */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';

const warningsOf = (doc: Record<string, unknown>): string[] => parseConfig(doc, { platform: 'linux' }).warnings;

describe('Retina keys retina-ts does not act on', () => {
  it('accepts what Retina charts render, without a warning', () => {
    expect(
      warningsOf({
        enableTelemetry: false,
        telemetryInterval: '15m',
        monitorSockPath: '/var/run/cilium/monitor1_2.sock',
        'leader-election': 'false',
        'hubble-event-queue-size': '16383',
        'cluster-id': '',
        'enable-hubble': 'true',
        'hubble-listen-address': ':4244',
      }),
    ).toEqual([]);
    // The interval is still validated as Retina does.
    expect(() => parseConfig({ telemetryInterval: '1m' })).toThrow(/telemetryInterval/);
  });

  it('warns that telemetry is not supported when enableTelemetry is true', () => {
    expect(warningsOf({ enableTelemetry: true, telemetryInterval: '15m' })).toEqual([
      "config: enableTelemetry: true is not supported: retina-ts sends no telemetry (Retina's Application Insights heartbeat); the agent runs without it (telemetryInterval is unused)",
    ]);
    // From the environment too (Go spellings).
    expect(parseConfig({}, { env: { RETINA_ENABLE_TELEMETRY: 't' } }).warnings).toHaveLength(1);
  });

  it('warns for Hubble keys that ask for something retina-ts does not do, naming key and value', () => {
    expect(
      warningsOf({
        'leader-election': 'true',
        'cluster-id': '7',
        'hubble-event-queue-size': '65535',
        'hubble-redact-enabled': 'true',
        'monitor-aggregation': 'medium',
        'hubble-drop-events': '',
      }),
    ).toEqual([
      'config: leader-election: "true" is not supported: retina-ts agents do not elect a leader; ignored',
      'config: cluster-id: "7" is not supported: retina-ts has no Cilium cluster mesh; ignored',
      'config: hubble-event-queue-size: "65535" is not supported: Cilium\'s observer queue has no counterpart; retina-ts\'s flow queue is sized by flowBusCapacity; ignored',
      'config: hubble-redact-enabled: "true" is not supported by retina-ts; ignored',
      'config: monitor-aggregation: "medium" is not supported by retina-ts; ignored',
    ]);
  });

  it('says ciliumeventobserver (the reader of monitorSockPath) is not a retina-ts plugin', () => {
    expect(warningsOf({ enabledPlugin: ['dns', 'ciliumeventobserver'], monitorSockPath: '/run/m.sock' })).toEqual([
      "config: plugin ciliumeventobserver is not supported: it reads an existing Cilium agent's monitor socket (monitorSockPath), and retina-ts has no such plugin",
    ]);
  });

  it('names the source file in the warning', () => {
    expect(parseConfig({ enableTelemetry: true }, { source: '/etc/retina/config.yaml' }).warnings[0]).toMatch(
      /^config: \/etc\/retina\/config\.yaml: enableTelemetry: true is not supported/,
    );
  });
});
