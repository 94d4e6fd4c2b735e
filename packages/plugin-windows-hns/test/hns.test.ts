import { describe, expect, it } from 'vitest';
import {
  HnsCallError,
  HnsDecodeError,
  HnsRequestError,
  HnsUnsupportedPlatformError,
  describeErrorRecord,
  describeHcnFailure,
  formatHresult,
} from '../src/errors.js';
import {
  decodeEndpoint,
  decodeEndpointIdList,
  decodeEndpointStats,
  decodeHnsEnvelope,
  normalizeMac,
} from '../src/hns/decode.js';
import { canonicalGuid, guidStruct, isGuid } from '../src/hns/guid.js';
import { endpointQuery, endpointStatsPath } from '../src/hns/query.js';
import { EP, WEB_HNS_STATS, fixture, short } from './fixtures.js';

describe('GUIDs', () => {
  it('accepts the 8-4-4-4-12 form with or without braces and canonicalises to lower case', () => {
    expect(isGuid('3F1C9A2E-6B7D-4C1E-9A55-0E2B7C1D4F10')).toBe(true);
    expect(isGuid('{3f1c9a2e-6b7d-4c1e-9a55-0e2b7c1d4f10}')).toBe(true);
    expect(isGuid('3F1C9A2E6B7D4C1E9A550E2B7C1D4F10')).toBe(false);
    expect(isGuid('not-a-guid')).toBe(false);
    expect(canonicalGuid(' {3F1C9A2E-6B7D-4C1E-9A55-0E2B7C1D4F10} ')).toBe(
      '3f1c9a2e-6b7d-4c1e-9a55-0e2b7c1d4f10',
    );
    expect(() => canonicalGuid('3F1C9A2E')).toThrow(/"3F1C9A2E" is not a GUID/);
  });

  it('builds the Windows GUID struct field by field', () => {
    expect(guidStruct('3F1C9A2E-6B7D-4C1E-9A55-0E2B7C1D4F10')).toEqual({
      Data1: 0x3f1c9a2e,
      Data2: 0x6b7d,
      Data3: 0x4c1e,
      Data4: [0x9a, 0x55, 0x0e, 0x2b, 0x7c, 0x1d, 0x4f, 0x10],
    });
    expect(guidStruct('ffffffff-0000-ffff-0000-000000000001').Data1).toBe(0xffffffff);
  });
});

describe('endpoint query', () => {
  it('filters on the AttachedSharing state by default, with the filter as a JSON string', () => {
    const q = JSON.parse(endpointQuery({ attachedOnly: true })) as Record<string, unknown>;
    expect(q).toEqual({ SchemaVersion: { Major: 2, Minor: 0 }, Flags: 0, Filter: '{"State":3}' });
    expect(JSON.parse(endpointQuery({ attachedOnly: false }))).toEqual({
      SchemaVersion: { Major: 2, Minor: 0 },
      Flags: 0,
    });
    expect(endpointStatsPath('abc')).toBe('/endpointstats/abc');
  });
});

describe('decodeEndpointIdList', () => {
  it('returns canonical IDs from the recorded list', () => {
    expect(decodeEndpointIdList(fixture('hns/endpoints.json'))).toEqual([
      canonicalGuid(EP.web),
      canonicalGuid(EP.api),
      canonicalGuid(EP.unknown),
      canonicalGuid(EP.noIp),
    ]);
  });

  it('treats an empty array, empty output and null as no endpoints', () => {
    expect(decodeEndpointIdList(fixture('hns/endpoints-empty.json'))).toEqual([]);
    expect(decodeEndpointIdList('')).toEqual([]);
    expect(decodeEndpointIdList(' null ')).toEqual([]);
  });

  it('drops duplicates', () => {
    expect(decodeEndpointIdList(`["${EP.web}","${EP.web.toLowerCase()}"]`)).toEqual([canonicalGuid(EP.web)]);
  });

  it('rejects malformed lists naming what is wrong', () => {
    expect(() => decodeEndpointIdList(fixture('malformed/endpoints-not-array.json'))).toThrow(
      /must be a JSON array of endpoint GUIDs, got "\{\\"Endpoints\\"/,
    );
    expect(() => decodeEndpointIdList(fixture('malformed/endpoints-bad-guid.json'))).toThrow(
      'HcnEnumerateEndpoints output: element 1 must be an endpoint GUID, got "not-a-guid"',
    );
    expect(() => decodeEndpointIdList('["3F1C9A2E-6B7D')).toThrow(HnsDecodeError);
    expect(() => decodeEndpointIdList('["3F1C9A2E-6B7D')).toThrow(/HcnEnumerateEndpoints output is not JSON/);
  });
});

describe('decodeEndpoint', () => {
  it('reads ID, IPs and MAC of a pod endpoint (PowerShell-style formatting)', () => {
    expect(decodeEndpoint(fixture(`hns/endpoint-${short(EP.web)}.json`), EP.web)).toEqual({
      id: '3f1c9a2e-6b7d-4c1e-9a55-0e2b7c1d4f10',
      name: '9d4c2a71e6b3-eth0',
      ips: ['10.240.0.23'],
      mac: '00-15-5D-4A-2B-11',
      remote: false,
    });
  });

  it('keeps every IP of a dual-stack endpoint in order and upper-cases the MAC', () => {
    const ep = decodeEndpoint(fixture(`hns/endpoint-${short(EP.api)}.json`), EP.api);
    expect(ep.ips).toEqual(['10.240.0.41', 'fd00:10:240::29']);
    expect(ep.mac).toBe('00-15-5D-4A-2B-12');
  });

  it('takes the VFP port GUID from the "Endpoint Port" allocator when HCN reports it', () => {
    const ep = decodeEndpoint(fixture(`hns/endpoint-${short(EP.unknown)}.json`), EP.unknown);
    expect(ep.portId).toBe('5d9f1b3e-7a2c-4e6d-8b0f-1c3e5a7b9d2f');
    expect(ep.ips).toEqual(['10.240.0.57']);
  });

  it('reports endpoints without IPs and remote endpoints as such', () => {
    expect(decodeEndpoint(fixture(`hns/endpoint-${short(EP.noIp)}.json`), EP.noIp)).toMatchObject({
      ips: [],
      remote: false,
    });
    expect(decodeEndpoint(fixture(`hns/endpoint-${short(EP.remote)}.json`), EP.remote)).toMatchObject({
      ips: ['10.240.1.12'],
      remote: true,
    });
  });

  it('accepts a minimal document and falls back to the requested ID', () => {
    expect(decodeEndpoint('{"IpConfigurations":null,"MacAddress":"bogus"}', EP.web)).toEqual({
      id: canonicalGuid(EP.web),
      ips: [],
      remote: false,
    });
  });

  it('rejects malformed properties naming the field and the value', () => {
    expect(() => decodeEndpoint(fixture('malformed/endpoint-bad-ip.json'), EP.unknown)).toThrow(
      `properties of endpoint ${EP.unknown}: IpConfigurations.0.IpAddress must be an IPv4 or IPv6 address (got "10.240.0.257")`,
    );
    expect(() => decodeEndpoint(fixture('malformed/endpoint-truncated.json'), EP.unknown)).toThrow(
      new RegExp(`properties of endpoint ${EP.unknown} is not JSON`),
    );
    expect(() => decodeEndpoint(fixture('malformed/endpoint-other-id.json'), EP.unknown)).toThrow(
      `properties of endpoint ${EP.unknown}: ID is "${EP.api}", expected ${canonicalGuid(EP.unknown)}`,
    );
    expect(() => decodeEndpoint('[1,2]', EP.web)).toThrow(/must be a JSON object, got "\[1,2\]"/);
    expect(() => decodeEndpoint('{"Flags":"remote"}', EP.web)).toThrow(
      /Flags must be a number \(got "remote"\)/,
    );
  });
});

describe('decodeEndpointStats', () => {
  it('reads the six HNS counters from the envelope', () => {
    expect(decodeEndpointStats(fixture(`hns/stats-${short(EP.web)}.json`), EP.web)).toEqual(WEB_HNS_STATS);
  });

  it('keeps counters HNS left out absent rather than zero', () => {
    expect(decodeEndpointStats(fixture('hns/stats-partial.json'), EP.unknown)).toEqual({
      PacketsReceived: 77,
      PacketsSent: 66,
    });
  });

  it('keeps counters beyond 2^53 as the nearest number', () => {
    const text = `{"Success":true,"Output":{"BytesReceived":18446744073709551615,"PacketsReceived":1}}`;
    expect(decodeEndpointStats(text, EP.web).BytesReceived).toBe(18446744073709551615);
  });

  it('turns Success:false into an HnsRequestError that knows "not found"', () => {
    let err: unknown;
    try {
      decodeEndpointStats(fixture('hns/stats-not-found.json'), EP.web);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(HnsRequestError);
    expect((err as HnsRequestError).message).toBe(`HNS /endpointstats/${EP.web} failed: Element not found. `);
    expect((err as HnsRequestError).notFound).toBe(true);
  });

  it('rejects malformed statistics naming every bad field', () => {
    expect(() => decodeEndpointStats(fixture('malformed/stats-negative.json'), EP.unknown)).toThrow(
      `statistics of endpoint ${EP.unknown}: Output: PacketsReceived must be a number (got "77"); BytesReceived must not be negative (got -1)`,
    );
    expect(() => decodeEndpointStats(fixture('malformed/stats-no-envelope.json'), EP.unknown)).toThrow(
      `HNS response to GET /endpointstats/${EP.unknown}: Success must be true or false (got nothing)`,
    );
    expect(() => decodeEndpointStats(fixture(`hns/stats-${short(EP.web)}.json`), EP.api)).toThrow(
      `statistics of endpoint ${EP.api}: EndpointId is "3f1c9a2e-6b7d-4c1e-9a55-0e2b7c1d4f10", expected ${canonicalGuid(EP.api)}`,
    );
    expect(() => decodeEndpointStats('{"Success":true,"Output":{"EndpointId":""}}', EP.web)).toThrow(
      /Output has none of the counters PacketsReceived/,
    );
    expect(() => decodeEndpointStats('{"Success":true}', EP.web)).toThrow(
      /Output must be a JSON object, got nothing/,
    );
  });

  it('unwraps any envelope', () => {
    expect(decodeHnsEnvelope('{"Success":true,"Output":[1]}', '/x')).toEqual([1]);
    expect(() => decodeHnsEnvelope('{"Success":false}', '/x')).toThrow('HNS /x failed: (no error text)');
  });
});

describe('MAC addresses', () => {
  it('normalises the spellings HNS and vfpctrl use', () => {
    expect(normalizeMac('00-15-5d-4a-2b-12')).toBe('00-15-5D-4A-2B-12');
    expect(normalizeMac('00:15:5D:4A:2B:12')).toBe('00-15-5D-4A-2B-12');
    expect(normalizeMac('00155D4A2B12')).toBe('00-15-5D-4A-2B-12');
    expect(normalizeMac('00-15-5D-4A-2B')).toBeUndefined();
    expect(normalizeMac('')).toBeUndefined();
  });
});

describe('errors', () => {
  it('formats HRESULTs as unsigned hex', () => {
    expect(formatHresult(-2147023728)).toBe('0x80070490');
    expect(formatHresult(0x80070005)).toBe('0x80070005');
    expect(formatHresult(0)).toBe('0x00000000');
  });

  it('reads the message of JSON error records, and passes plain text through', () => {
    expect(describeErrorRecord(fixture('hns/error-record-not-found.json'))).toBe('Element not found.');
    expect(describeErrorRecord('  The endpoint is busy.  ')).toBe('The endpoint is busy.');
    expect(describeErrorRecord('')).toBe('');
    expect(describeErrorRecord('{"Error":-1}')).toBe('{"Error":-1}');
  });

  it('describes an HCN failure with the function, code, hint, subject and record', () => {
    expect(describeHcnFailure('HcnOpenEndpoint', -2147024891, 'endpoint x', '')).toBe(
      'HcnOpenEndpoint failed with HRESULT 0x80070005 (access denied: run the agent as a HostProcess container with a SYSTEM or administrator account) for endpoint x',
    );
    const err = new HnsCallError(
      'HcnOpenEndpoint',
      -2147023728,
      'endpoint x',
      fixture('hns/error-record-not-found.json'),
    );
    expect(err.message).toBe(
      'HcnOpenEndpoint failed with HRESULT 0x80070490 (element not found) for endpoint x: Element not found.',
    );
    expect(err.notFound).toBe(true);
    expect(
      new HnsCallError('HcnEnumerateEndpoints', 0, 'the endpoint list', 'Access is denied.').message,
    ).toBe('HcnEnumerateEndpoints failed for the endpoint list: Access is denied.');
    expect(new HnsCallError('HNSCall', -2147024891, 'GET /x', '').notFound).toBe(false);
  });

  it('says the plugin requires Windows and where to enable it', () => {
    expect(new HnsUnsupportedPlatformError('linux').message).toMatch(
      /^hnsstats requires Windows .*this node runs linux.*enabledPlugin_win/,
    );
  });
});
