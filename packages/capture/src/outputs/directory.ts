/** The hostPath and PVC outputs: a copy of the tarball in a directory (created when missing). */
import { copyFile, mkdir, rename } from 'node:fs/promises';
import { basename, join } from 'node:path';

/**
 * Copies `file` into `dir` under the same name; writes to a temporary name first and renames, so a reader never
 * sees half a tarball. Returns the destination path.
 */
export async function copyToDirectory(file: string, dir: string): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o750 });
  const dest = join(dir, basename(file));
  const partial = `${dest}.partial`;
  await copyFile(file, partial);
  await rename(partial, dest);
  return dest;
}
