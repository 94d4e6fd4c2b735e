// Network-namespace and interface helpers. Interface names and indexes are per namespace, so attach calls resolve
// them in the namespace the calling thread is in; runInNetns() moves the JS thread for the duration of a callback.
import { native } from './native.js';

/** Path of a network namespace given by name (`ip netns add NAME`) or path. */
export function netnsPath(nameOrPath: string): string {
  return nameOrPath.includes('/') ? nameOrPath : `/var/run/netns/${nameOrPath}`;
}

/**
 * Runs `fn` synchronously with the JS thread inside a network namespace, then returns to the original one.
 * Everything `fn` does synchronously (resolving interfaces, attaching TC/XDP programs, opening raw sockets)
 * happens in that namespace; attachments stay after it returns. `fn` must not rely on awaited work: code after
 * an `await` runs back in the original namespace.
 */
export function runInNetns<T>(nameOrPath: string, fn: () => T): T {
  const api = native();
  const token = api.enterNetns(netnsPath(nameOrPath));
  try {
    const result = fn();
    if (result instanceof Promise) {
      throw new TypeError('runInNetns() needs a synchronous function; it returned a Promise');
    }
    return result;
  } finally {
    api.leaveNetns(token);
  }
}

/** Index of interface `name` in the calling thread's network namespace. */
export function interfaceIndex(name: string): number {
  return native().interfaceIndex(name);
}

/** Inode number identifying the calling thread's network namespace. */
export function currentNetnsInode(): number {
  return native().currentNetnsInode();
}
