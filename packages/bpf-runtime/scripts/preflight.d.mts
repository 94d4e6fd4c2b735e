/** A header and the Debian package that provides it. */
export interface HeaderRequirement {
  header: string;
  pkg: string;
}
/** A command and the Debian package that provides it. */
export interface ToolRequirement {
  cmd: string;
  pkg: string;
}
/** What findMissing() reports. */
export interface Missing {
  headers: HeaderRequirement[];
  tools: ToolRequirement[];
}
export const REQUIRED_HEADERS: HeaderRequirement[];
export const REQUIRED_TOOLS: ToolRequirement[];
export function includeDirs(cpath?: string): string[];
export function findMissing(system: {
  dirs: readonly string[];
  exists: (path: string) => boolean;
  hasCommand: (name: string) => boolean;
}): Missing;
export function missingMessage(missing: Missing): string | undefined;
