// The address helpers of bpf-runtime's public API and its struct field kinds: one implementation, in a package
// without native code so that plugins which only read /proc can format addresses without the addon.
export { formatIpv4, formatIpv6, formatMac, writeIpv4, writeIpv6, writeMac } from '@retina-ts/net-address';
