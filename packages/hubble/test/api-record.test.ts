/**
 * The recorded official Hubble API (api-record/hubble-api.json) keeps every fact it is made from, matches the
 * official .proto files when they are at hand (HUBBLE_API_PROTOS), and rebuilds into working definitions.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  OFFICIAL_FILES,
  formatRecord,
  readRecord,
  recordFromProtos,
  recordPackageDefinition,
  recordRoot,
  writeRecordProtos,
} from '../api-record/record.mjs';

const TOOL = fileURLToPath(new URL('../../../tools/hubble-api-record.mjs', import.meta.url));
const record = readRecord();

/** The record written back as .proto files, in a fresh folder. */
function protosOfRecord(): string {
  const dir = mkdtempSync(join(tmpdir(), 'hubble-api-record-'));
  writeRecordProtos(record, dir);
  return dir;
}

describe('Hubble API record', () => {
  it('holds the official files, packages and services', () => {
    expect(Object.keys(record.files)).toEqual([...OFFICIAL_FILES]);
    expect(Object.values(record.files).map((f) => f.package)).toEqual(['flow', 'observer', 'peer', 'relay']);
    expect(Object.keys(record.files['observer/observer.proto']!.services['Observer']!.methods).sort()).toEqual([
      'GetAgentEvents',
      'GetDebugEvents',
      'GetFlows',
      'GetNamespaces',
      'GetNodes',
      'ServerStatus',
    ]);
    expect(record.files['observer/observer.proto']!.services['Observer']!.methods['GetFlows']).toEqual({
      request: 'observer.GetFlowsRequest',
      response: 'observer.GetFlowsResponse',
      responseStream: true,
    });
    expect(record.files['peer/peer.proto']!.services['Peer']!.methods['Notify']!.responseStream).toBe(true);
    expect(record.files['flow/flow.proto']!.messages['Flow']!.fields['IP']).toEqual({ id: 5, type: 'flow.IP' });
    expect(record.files['flow/flow.proto']!.enums['Verdict']!.values['DROPPED']).toBe(2);
  });

  it('keeps every fact: recorded again from the .proto files it describes, it is the same record', () => {
    expect(recordFromProtos(protosOfRecord())).toEqual(record);
  });

  it('matches the official .proto files at HUBBLE_API_PROTOS, else the protos written from it', () => {
    // With the official files at hand the record cannot go stale; without them this is the round trip above
    // through the command line tool, which must then agree byte for byte with the committed file.
    const source = process.env['HUBBLE_API_PROTOS'] ? resolve(process.env['HUBBLE_API_PROTOS']) : protosOfRecord();
    expect(formatRecord(recordFromProtos(source))).toBe(readFileSync(fileURLToPath(new URL('../api-record/hubble-api.json', import.meta.url)), 'utf8'));
    const out = execFileSync(process.execPath, [TOOL, '--check', source], { encoding: 'utf8' });
    expect(out).toContain('matches');
  });

  it('the tool reports a changed field number', () => {
    const dir = protosOfRecord();
    const file = join(dir, 'flow/flow.proto');
    const text = readFileSync(file, 'utf8');
    expect(text).toContain(' node_name = 11;');
    writeFileSync(file, text.replace(' node_name = 11;', ' node_name = 111;'));
    const res = spawnSync(process.execPath, [TOOL, '--check', dir], { encoding: 'utf8' });
    expect(res.status).toBe(1);
    expect(res.stderr).toContain('differs from');
  });

  it('rebuilds into descriptors that encode and decode the official wire format', () => {
    const root = recordRoot();
    const response = root.lookupType('observer.GetFlowsResponse');
    const bytes = response
      .encode(response.fromObject({ node_name: 'node-a', flow: { verdict: 2, IP: { source: '10.0.0.1' }, Summary: 'UDP' } }))
      .finish();
    // Official numbers on the wire: flow is field 1 (key 0x0a), node_name field 1000 (key varint 0xc2 0x3e).
    expect(bytes[0]).toBe(0x0a);
    expect(Buffer.from(bytes).includes(Buffer.from([0xc2, 0x3e, 6, ...Buffer.from('node-a')]))).toBe(true);
    const back = response.toObject(response.decode(bytes), { enums: String }) as {
      node_name: string;
      flow: { verdict: string; IP: { source: string }; Summary: string };
    };
    expect(back).toEqual({ node_name: 'node-a', flow: { verdict: 'DROPPED', IP: { source: '10.0.0.1' }, Summary: 'UDP' } });
    const def = recordPackageDefinition({ keepCase: true });
    expect(Object.keys(def['observer.Observer'] as object).sort()).toContain('GetFlows');
    expect(Object.keys(def['peer.Peer'] as object)).toEqual(['Notify']);
  });
});
