/**
 * The requirement checker the agent hands the PluginManager: a plugin's declared `requires` checked with
 * bpf-runtime's probes before its first init, so a kernel or process that cannot run it leaves it `unsupported`
 * with the reason instead of failing and retrying forever.
 */
import type { PluginRequirements, RequirementChecker } from '@retina-ts/core';

/** Kernel features the probes can check (bpf-runtime's `Feature`). */
export const PROBED_FEATURES = ['btf', 'tp_btf', 'tcx', 'tracefs', 'bpffs'] as const;
type ProbedFeature = (typeof PROBED_FEATURES)[number];

/** The part of bpf-runtime's `probes` the checker uses. */
export interface RequirementProbes {
  hasCapabilities(wanted: readonly string[]): boolean;
  explainUnsupported(requirement: { capabilities: readonly string[] }): string;
  unmetRequirements(req: {
    programTypes?: readonly string[];
    mapTypes?: readonly string[];
    features?: readonly ProbedFeature[];
  }): string[];
}

const isProbed = (f: string): f is ProbedFeature => (PROBED_FEATURES as readonly string[]).includes(f);

/** bpf-runtime's probes, loaded on first use (it is an optional peer: Windows nodes do not have it). */
async function loadProbes(): Promise<RequirementProbes> {
  const { probes } = await import('@retina-ts/bpf-runtime');
  return probes;
}

/**
 * A checker over `load()`'s probes. Capabilities come first: without them the kernel refuses the probes
 * themselves, so only the missing capabilities are reported then. A requirement that names nothing to probe
 * (only `minKernel` or `notes`) is met without loading bpf-runtime.
 */
export function probeRequirementChecker(load: () => Promise<RequirementProbes> = loadProbes): RequirementChecker {
  return async (req: PluginRequirements) => {
    const capabilities = req.capabilities ?? [];
    const features = (req.features ?? []).filter(isProbed);
    const unknown = (req.features ?? []).filter((f) => !isProbed(f));
    if (unknown.length > 0) {
      return [`requires.features ${unknown.map((f) => JSON.stringify(f)).join(', ')} cannot be checked (known: ${PROBED_FEATURES.join(', ')})`];
    }
    if (!capabilities.length && !req.programTypes?.length && !req.mapTypes?.length && !features.length) return [];
    let probes: RequirementProbes;
    try {
      probes = await load();
    } catch (err) {
      return [`@retina-ts/bpf-runtime, which checks the kernel, cannot be loaded: ${err instanceof Error ? err.message : String(err)}`];
    }
    const missing: string[] = [];
    for (const entry of capabilities) {
      const anyOf = typeof entry === 'string' ? [entry] : [...entry];
      if (anyOf.some((cap) => probes.hasCapabilities([cap]))) continue;
      const [first = '', ...others] = anyOf;
      const reason = probes.explainUnsupported({ capabilities: [first] });
      missing.push(others.length ? `${reason} (or ${others.join(', ')})` : reason);
    }
    if (missing.length > 0) return missing;
    return probes.unmetRequirements({
      ...(req.programTypes ? { programTypes: req.programTypes } : {}),
      ...(req.mapTypes ? { mapTypes: req.mapTypes } : {}),
      ...(features.length ? { features } : {}),
    });
  };
}
