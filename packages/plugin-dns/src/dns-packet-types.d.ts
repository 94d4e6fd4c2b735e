// dns-packet's type table (dns-packet/types.js), which @types/dns-packet does not declare.
declare module 'dns-packet/types.js' {
  /** The mnemonic of a record type number (`A`, `AAAA`, ...), or `UNKNOWN_<n>`. */
  export function toString(type: number): string;
  /** The number of a record type mnemonic. */
  export function toType(name: string): number;
  const types: { toString: typeof toString; toType: typeof toType };
  export default types;
}
