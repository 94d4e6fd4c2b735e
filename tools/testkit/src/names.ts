import { randomBytes } from 'node:crypto';

let counter = 0;

/**
 * A name unique to this run: `<prefix><pid base36><counter><random>`, cut to `maxLength` (15 for interfaces,
 * the kernel's IFNAMSIZ - 1). Parallel test files get different pids, so their names never collide.
 */
export function uniqueName(prefix: string, maxLength = 15): string {
  const suffix = `${process.pid.toString(36)}${(counter++).toString(36)}${randomBytes(3).toString('hex')}`;
  const room = maxLength - prefix.length;
  if (room < 6)
    throw new RangeError(`prefix '${prefix}' leaves no room for a unique suffix within ${maxLength}`);
  return prefix + suffix.slice(-room);
}
