/**
 * Artifact names: `<captureName>-<node>-<YYYYMMDDhhmmss>UTC`, the same on every output, so a user can find a
 * node's tarball from the capture name and start time alone.
 */

/** Formats a time as `YYYYMMDDhhmmssUTC` (UTC, whole seconds). */
export function formatCaptureTimestamp(t: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return (
    `${p(t.getUTCFullYear(), 4)}${p(t.getUTCMonth() + 1)}${p(t.getUTCDate())}` +
    `${p(t.getUTCHours())}${p(t.getUTCMinutes())}${p(t.getUTCSeconds())}UTC`
  );
}

/** Parses `YYYYMMDDhhmmssUTC`; throws naming the value when it is not one. */
export function parseCaptureTimestamp(text: string): Date {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})UTC$/.exec(text.trim());
  if (!m) throw new Error(`capture timestamp "${text}" is not in the form YYYYMMDDhhmmssUTC (e.g. 20240131235959UTC)`);
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  return new Date(Date.UTC(y, mo - 1, d, h, mi, s));
}

/** The base name of a node's artifacts (no extension). */
export function captureBaseName(captureName: string, nodeName: string, start: Date): string {
  return `${captureName}-${nodeName}-${formatCaptureTimestamp(start)}`;
}

/** The tarball file name of a node's capture. */
export function captureTarballName(captureName: string, nodeName: string, start: Date): string {
  return `${captureBaseName(captureName, nodeName, start)}.tar.gz`;
}
