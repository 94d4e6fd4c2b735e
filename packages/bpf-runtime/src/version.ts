import { native } from './native.js';

/** libbpf version the addon is linked against, e.g. `v1.1`. */
export function libbpfVersion(): string {
  return native().libbpfVersion();
}

/**
 * Gives the process's free native heap pages back to the system (glibc `malloc_trim(0)` over every arena): what
 * libbpf freed after loading objects and what threads freed in their own arenas. Returns true when memory was
 * released, false when there was none or the C library has no such call. Cheap enough to run every minute.
 */
export function trimNativeHeap(): boolean {
  return native().trimNativeHeap();
}
