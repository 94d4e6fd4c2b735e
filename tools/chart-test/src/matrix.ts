/** Values the chart tests render: one entry a way users install the chart. */
export const MATRIX: Record<string, Record<string, unknown>> = {
  standard: {},
  hubble: { controlPlane: 'hubble' },
  'hubble-no-tls': { controlPlane: 'hubble', hubble: { tls: { enabled: false }, ui: { enabled: false } } },
  'pod-level-remote': {
    enablePodLevel: true,
    remoteContext: true,
    enabledPlugin_linux: ['dropreason', 'packetforward', 'linuxutil', 'dns', 'packetparser'],
  },
  annotations: { enablePodLevel: true, enableAnnotations: true },
  windows: { os: { windows: true } },
  'operator-off': { operator: { enabled: false } },
  'operator-on': { operator: { enabled: true }, capture: { jobNumLimit: 2, hostPathBaseDir: '/var/log/captures' } },
  monitoring: {
    metrics: { podMonitor: { enabled: true }, serviceMonitor: { enabled: true }, prometheusRule: { enabled: true } },
  },
};

