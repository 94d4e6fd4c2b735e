import { native } from './native.js';

/** libbpf version the addon is linked against, e.g. `v1.1`. */
export function libbpfVersion(): string {
  return native().libbpfVersion();
}
