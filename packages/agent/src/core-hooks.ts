/**
 * Module resolve hooks (registered by discovery with `module.register`): every import of `@retina-ts/core` or one
 * of its subpaths resolves as if the agent imported it, so a plugin installed in another folder with its own copy
 * of core still shares the agent's classes and registries.
 */
interface HookData {
  /** URL of a module of the agent; core is resolved from there. */
  parentURL: string;
}

interface ResolveContext {
  conditions: string[];
  importAttributes: Record<string, string>;
  parentURL?: string;
}

type NextResolve = (specifier: string, context?: Partial<ResolveContext>) => Promise<unknown>;

let agentURL: string | undefined;

export function initialize(data: HookData): void {
  agentURL = data.parentURL;
}

export function resolve(specifier: string, context: ResolveContext, next: NextResolve): Promise<unknown> {
  if (agentURL && (specifier === '@retina-ts/core' || specifier.startsWith('@retina-ts/core/'))) {
    return next(specifier, { ...context, parentURL: agentURL });
  }
  return next(specifier, context);
}
