/**
 * Orders strings by UTF-16 code units, the same on every host. Unlike `localeCompare` it does not depend on the
 * locale and does not load ICU collation data, which costs the agent several MB of resident memory.
 */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
