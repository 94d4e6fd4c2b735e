/**
 * Keys of Retina's configuration that retina-ts accepts but does not act on. Retina's charts render some of them in
 * every ConfigMap (`enableTelemetry: false`, `telemetryInterval`, `leader-election: "false"`, ...), so the value
 * that asks for nothing is accepted without a word; a value that asks for something retina-ts does not do gets a
 * warning saying so (the agent still starts: none of them changes what it observes).
 */

/** Cilium/Hubble ConfigMap keys some part of retina-ts reads (core, the agent or @retina-ts/hubble). */
export const SUPPORTED_CILIUM_KEYS: readonly string[] = [
  'enable-hubble',
  'cluster-name',
  'enable-hubble-open-metrics',
  'hubble-disable-tls',
  'hubble-event-buffer-capacity',
  'hubble-export-allowlist',
  'hubble-export-denylist',
  'hubble-export-fieldmask',
  'hubble-export-file-max-backups',
  'hubble-export-file-max-size-mb',
  'hubble-export-file-path',
  'hubble-listen-address',
  'hubble-metrics',
  'hubble-metrics-server',
  'hubble-socket-path',
  'hubble-tls-cert-file',
  'hubble-tls-client-ca-files',
  'hubble-tls-key-file',
];

/**
 * Cilium keys with no effect in retina-ts, and the values that ask for nothing (accepted silently). Values are
 * compared trimmed and lower-cased; the empty string always counts as unset.
 */
export const IGNORED_CILIUM_KEYS: Readonly<Record<string, { quiet: readonly string[]; why: string }>> = {
  'leader-election': { quiet: ['false', '0'], why: 'retina-ts agents do not elect a leader' },
  'cluster-id': { quiet: ['0'], why: 'retina-ts has no Cilium cluster mesh' },
  // Retina's hubble chart renders 16383; retina-ts's queue between plugins and consumers is `flowBusCapacity`.
  'hubble-event-queue-size': {
    quiet: ['0', '16383'],
    why: "Cilium's observer queue has no counterpart; retina-ts's flow queue is sized by flowBusCapacity",
  },
};

/** Retina plugins retina-ts does not have, with what they did. */
export const MISSING_RETINA_PLUGINS: Readonly<Record<string, string>> = {
  ciliumeventobserver: "reads an existing Cilium agent's monitor socket (monitorSockPath)",
};

/** The parts of a configuration the checks read. */
export interface UnsupportedInput {
  enableTelemetry: boolean;
  ciliumOptions: Readonly<Record<string, string>>;
  /** Every plugin list given (`enabledPlugin`, `enabledPlugin_linux`, `enabledPlugin_win`). */
  pluginLists: ReadonlyArray<readonly string[] | undefined>;
}

/** Warnings for values that ask for something retina-ts does not do (each names the key, the value and why). */
export function unsupportedKeyWarnings(input: UnsupportedInput, where = ''): string[] {
  const out: string[] = [];
  if (input.enableTelemetry) {
    out.push(
      `config: ${where}enableTelemetry: true is not supported: retina-ts sends no telemetry (Retina's Application Insights heartbeat); the agent runs without it (telemetryInterval is unused)`,
    );
  }
  for (const [key, raw] of Object.entries(input.ciliumOptions)) {
    const value = raw.trim().toLowerCase();
    if (SUPPORTED_CILIUM_KEYS.includes(key) || value === '') continue;
    const ignored = IGNORED_CILIUM_KEYS[key];
    if (ignored) {
      if (!ignored.quiet.includes(value)) {
        out.push(`config: ${where}${key}: ${JSON.stringify(raw)} is not supported: ${ignored.why}; ignored`);
      }
      continue;
    }
    out.push(`config: ${where}${key}: ${JSON.stringify(raw)} is not supported by retina-ts; ignored`);
  }
  const named = new Set(input.pluginLists.flatMap((l) => l ?? []));
  for (const [plugin, what] of Object.entries(MISSING_RETINA_PLUGINS)) {
    if (named.has(plugin)) {
      out.push(`config: ${where}plugin ${plugin} is not supported: it ${what}, and retina-ts has no such plugin`);
    }
  }
  return out;
}
