/** GUID text ↔ the Windows GUID structure that HcnOpenEndpoint takes by reference. */

/** The fields of a Windows `GUID` struct. */
export interface GuidStruct {
  Data1: number;
  Data2: number;
  Data3: number;
  Data4: number[];
}

const GUID_RE = /^\{?([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})\}?$/i;

/** True when `text` is a GUID in its usual 8-4-4-4-12 form, with or without braces. */
export function isGuid(text: string): boolean {
  return GUID_RE.test(text.trim());
}

/** Lower-case 8-4-4-4-12 form without braces, so IDs from HNS, HCN and vfpctrl compare equal. */
export function canonicalGuid(text: string): string {
  const m = GUID_RE.exec(text.trim());
  if (!m)
    throw new RangeError(
      `${JSON.stringify(text)} is not a GUID (expected xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)`,
    );
  return `${m[1]}-${m[2]}-${m[3]}-${m[4]}-${m[5]}`.toLowerCase();
}

/** The GUID struct for `text`: Data1..Data3 are numbers, Data4 the last eight bytes in order. */
export function guidStruct(text: string): GuidStruct {
  const hex = canonicalGuid(text).replaceAll('-', '');
  const data4: number[] = [];
  for (let i = 16; i < 32; i += 2) data4.push(Number.parseInt(hex.slice(i, i + 2), 16));
  return {
    Data1: Number.parseInt(hex.slice(0, 8), 16),
    Data2: Number.parseInt(hex.slice(8, 12), 16),
    Data3: Number.parseInt(hex.slice(12, 16), 16),
    Data4: data4,
  };
}
