import { describe, expect, it } from 'vitest';
import { VfpError } from '../src/errors.js';
import { parseVfpPortCounters, portCounterArgs, VFP_COUNTER_LABELS } from '../src/vfp/counters.js';
import { parseVmSwitchPorts, portsByMac } from '../src/vfp/ports.js';
import { PORT, fixture, short } from './fixtures.js';

/** The same report with LF line ends: vfpctrl prints CRLF, but output may reach us converted. */
const lf = (text: string) => text.replace(/\r\n/g, '\n');

describe('parseVmSwitchPorts', () => {
  const text = fixture('vfp/list-vmswitch-port.txt');

  it('lists every port of the recorded vSwitch with its GUID, friendly name and MAC', () => {
    expect(parseVmSwitchPorts(text)).toEqual([
      { id: 'c2d4e6f8-0a1b-4c3d-8e5f-7a9b1c3d5e7f', friendlyName: 'ExternalPort', mac: '00-0D-3A-12-34-56' },
      { id: 'd3e5f7a9-1b2c-4d4e-9f6a-8b0c2d4e6f80', friendlyName: 'Host Vnic', mac: '00-0D-3A-12-34-56' },
      {
        id: '7f3c2d1a-9b8e-4a6f-b1c2-3d4e5f607182',
        friendlyName: 'Container NIC 9d4c2a71',
        mac: '00-15-5D-4A-2B-11',
      },
      {
        id: '2b6e8c4d-1f3a-4b5c-9d7e-8f9012a3b4c5',
        friendlyName: 'Container NIC 41b7e09c',
        mac: '00-15-5D-4A-2B-12',
      },
      {
        id: '5d9f1b3e-7a2c-4e6d-8b0f-1c3e5a7b9d2f',
        friendlyName: 'Container NIC 7a0c3e5f',
        mac: '00-15-5D-4A-2B-13',
      },
    ]);
  });

  it('reads LF output the same way', () => {
    expect(parseVmSwitchPorts(lf(text))).toEqual(parseVmSwitchPorts(text));
  });

  it('maps MACs to ports, leaving out a MAC shared by two ports (external port and host vNIC)', () => {
    const byMac = portsByMac(parseVmSwitchPorts(text));
    expect(Object.fromEntries(byMac)).toEqual({
      '00-15-5D-4A-2B-11': '7f3c2d1a-9b8e-4a6f-b1c2-3d4e5f607182',
      '00-15-5D-4A-2B-12': '2b6e8c4d-1f3a-4b5c-9d7e-8f9012a3b4c5',
      '00-15-5D-4A-2B-13': '5d9f1b3e-7a2c-4e6d-8b0f-1c3e5a7b9d2f',
    });
  });

  it('returns no ports for an empty switch or empty output', () => {
    expect(parseVmSwitchPorts(fixture('vfp/list-vmswitch-port-empty.txt'))).toEqual([]);
    expect(parseVmSwitchPorts('')).toEqual([]);
  });

  it('skips ports not named by a GUID and ignores fields before the first port', () => {
    const odd = [
      'MAC address : 00-15-5D-00-00-01',
      'Port name : Dynamic Ethernet Switch Port',
      'MAC address : 00-15-5D-00-00-02',
    ].join('\r\n');
    expect(parseVmSwitchPorts(odd)).toEqual([]);
  });

  it('throws on an ERROR line', () => {
    expect(() => parseVmSwitchPorts('ERROR: failed to open VFP device: Access is denied.\r\n')).toThrow(
      'vfpctrl /list-vmswitch-port reported an error (line 1): ERROR: failed to open VFP device: Access is denied.',
    );
  });
});

describe('parseVfpPortCounters', () => {
  it('reads both directions of a recorded report', () => {
    expect(parseVfpPortCounters(fixture(`vfp/port-counter-${short(PORT.web)}.txt`), PORT.web)).toEqual({
      out: {
        synPackets: 311,
        synAckPackets: 402,
        finPackets: 298,
        rstPackets: 7,
        tcpConnectionsVerified: 309,
        tcpConnectionsTimedOut: 2,
        tcpConnectionsReset: 5,
        tcpConnectionsResetBySyn: 1,
        tcpConnectionsClosedByFin: 290,
        tcpHalfOpenTimeouts: 3,
        tcpConnectionsExpiredToTimeWait: 281,
        droppedAclPackets: 0,
      },
      in: {
        synPackets: 405,
        synAckPackets: 309,
        finPackets: 300,
        rstPackets: 4,
        tcpConnectionsVerified: 402,
        tcpConnectionsTimedOut: 1,
        tcpConnectionsReset: 6,
        tcpConnectionsResetBySyn: 0,
        tcpConnectionsClosedByFin: 388,
        tcpHalfOpenTimeouts: 2,
        tcpConnectionsExpiredToTimeWait: 377,
        droppedAclPackets: 17,
      },
    });
  });

  it('reads LF output and output with the spaces removed the same way', () => {
    const text = fixture(`vfp/port-counter-${short(PORT.api)}.txt`);
    const expected = parseVfpPortCounters(text, PORT.api);
    expect(parseVfpPortCounters(lf(text), PORT.api)).toEqual(expected);
    expect(parseVfpPortCounters(text.replace(/ /g, ''), PORT.api)).toEqual(expected);
    expect(expected.in.tcpConnectionsResetBySyn).toBe(1);
    expect(expected.out.droppedAclPackets).toBe(4);
  });

  it('leaves out counters a partial report does not list', () => {
    expect(parseVfpPortCounters(fixture('vfp/port-counter-partial.txt'), PORT.unknown)).toEqual({
      out: { droppedAclPackets: 0, synPackets: 10, synAckPackets: 0, finPackets: 9, rstPackets: 1 },
      in: { droppedAclPackets: 2, synPackets: 0, synAckPackets: 10, finPackets: 9, rstPackets: 0 },
    });
  });

  it('counts lines before any direction heading as OUT', () => {
    expect(
      parseVfpPortCounters('SYN packets : 3\r\nDirection - IN\r\nSYN packets : 4\r\n', PORT.web),
    ).toEqual({
      out: { synPackets: 3 },
      in: { synPackets: 4 },
    });
  });

  it('rejects empty, error and malformed reports with the port and the reason', () => {
    expect(() => parseVfpPortCounters('', PORT.web)).toThrow(
      `vfpctrl /port ${PORT.web} /get-port-counter printed nothing`,
    );
    expect(() => parseVfpPortCounters(fixture('vfp/port-counter-empty.txt'), PORT.web)).toThrow(
      new RegExp(
        `vfpctrl /port ${PORT.web} /get-port-counter listed none of the expected counters \\(SYN packets, SYN-ACK packets`,
      ),
    );
    expect(() => parseVfpPortCounters(fixture('vfp/port-counter-error.txt'), PORT.unknown)).toThrow(
      `vfpctrl /port ${PORT.unknown} /get-port-counter reported an error (line 1): ERROR: failed to execute get-port-counter`,
    );
    expect(() => parseVfpPortCounters(fixture('malformed/port-counter-bad-value.txt'), PORT.unknown)).toThrow(
      `vfpctrl /port ${PORT.unknown} /get-port-counter: "TCP Connections Verified" has the value "n/a" on line 47; expected a whole number`,
    );
    expect(() => parseVfpPortCounters('SYN packets : -3', PORT.web)).toThrow(VfpError);
  });

  it('knows the label of every counter it reads', () => {
    expect(Object.keys(VFP_COUNTER_LABELS)).toHaveLength(12);
    expect(portCounterArgs('p')).toEqual(['/port', 'p', '/get-port-counter']);
  });
});
