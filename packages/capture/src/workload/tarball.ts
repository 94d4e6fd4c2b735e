/**
 * The artifact: `<base>.tar.gz`, a gzip'd tar holding the capture directory `<base>/` (pcap files, tcpdump.log,
 * metadata), so extracting it never scatters files into the current directory.
 */
import { basename, dirname } from 'node:path';
import { create, list } from 'tar';

/** Packs `dir` into `<dir>.tar.gz` beside it and returns the tarball path. */
export async function packCaptureDirectory(dir: string): Promise<string> {
  const file = `${dir}.tar.gz`;
  await create({ gzip: true, file, cwd: dirname(dir), portable: true }, [basename(dir)]);
  return file;
}

/** The entry paths of a tarball, in archive order (for checks and `capture download`). */
export async function tarballEntries(file: string): Promise<string[]> {
  const entries: string[] = [];
  await list({ file, onReadEntry: (e) => entries.push(e.path) });
  return entries;
}
