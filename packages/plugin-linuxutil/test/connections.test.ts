import { describe, expect, it } from 'vitest';
import {
  OTHER_REMOTE_ADDRESS,
  countRemoteAddresses,
  countTcpStates,
  foldTopRemoteAddresses,
} from '../src/connections.js';
import { parseSocketTable, type SocketEntry } from '../src/proc/sockets.js';
import { procFile } from './fixtures.js';

const fixtureSockets = (): SocketEntry[] => [
  ...parseSocketTable(procFile('net/tcp'), 'net/tcp', 4, 'LE'),
  ...parseSocketTable(procFile('net/tcp6'), 'net/tcp6', 6, 'LE'),
];

const sock = (state: number, remote = '10.0.0.1:80', hasPeer = true): SocketEntry => ({
  remote,
  hasPeer,
  state,
});

describe('countTcpStates', () => {
  it('counts the fixture sockets per Retina state label, listing every state', () => {
    expect(Object.fromEntries(countTcpStates(fixtureSockets()))).toEqual({
      ESTABLISHED: 16,
      SYN_SENT: 2,
      SYN_RECV: 0,
      FIN_WAIT1: 0,
      FIN_WAIT2: 1,
      TIME_WAIT: 3,
      '': 0,
      CLOSE_WAIT: 1,
      LAST_ACK: 0,
      LISTEN: 2,
      CLOSING: 0,
      UNKNOWN: 0,
    });
  });

  it('labels CLOSE as the empty string and states the kernel adds later as UNKNOWN', () => {
    const counts = countTcpStates([
      sock(7),
      sock(7),
      sock(0x0c),
      sock(0),
      sock(0xff),
      sock(3),
      sock(4),
      sock(9),
      sock(11),
    ]);
    expect(counts.get('')).toBe(2);
    expect(counts.get('UNKNOWN')).toBe(3);
    expect(counts.get('SYN_RECV')).toBe(1);
    expect(counts.get('FIN_WAIT1')).toBe(1);
    expect(counts.get('LAST_ACK')).toBe(1);
    expect(counts.get('CLOSING')).toBe(1);
    expect([...counts.values()].reduce((a, b) => a + b, 0)).toBe(9);
  });
});

describe('countRemoteAddresses', () => {
  it('counts connections per peer across IPv4 and IPv6 tables, skipping listeners', () => {
    expect(Object.fromEntries(countRemoteAddresses(fixtureSockets()))).toEqual({
      '10.250.0.2:80': 1,
      '127.0.0.1:44388': 1,
      '127.0.0.1:8080': 5,
      '127.0.0.1:44384': 1,
      '127.0.0.1:44362': 1,
      '[::1]:55736': 1,
      '127.0.0.1:60068': 1,
      '[::1]:55748': 1,
      '127.0.0.1:60076': 1,
      '[fd00:77::1]:56342': 1,
      // IPv4-mapped peers on the dual-stack listener count with their IPv4 form.
      '127.0.0.1:8443': 2,
      '[fd00:77::1]:8443': 2,
      '[fd00:77::1]:56326': 1,
      '[fd00:77::2]:80': 1,
      '[::1]:8443': 3,
    });
  });
});

describe('foldTopRemoteAddresses', () => {
  const counts = new Map([
    ['10.0.0.3:443', 2],
    ['10.0.0.1:443', 9],
    ['[fd00::1]:443', 2],
    ['10.0.0.2:443', 2],
    ['10.0.0.4:53', 1],
  ]);

  it('keeps the busiest addresses, ties broken by address, and sums the rest into "other"', () => {
    expect([...foldTopRemoteAddresses(counts, 3)]).toEqual([
      ['10.0.0.1:443', 9],
      ['10.0.0.2:443', 2],
      ['10.0.0.3:443', 2],
      [OTHER_REMOTE_ADDRESS, 3],
    ]);
  });

  it('gives the same answer whatever the input order', () => {
    const reversed = new Map([...counts].reverse());
    expect([...foldTopRemoteAddresses(reversed, 3)]).toEqual([...foldTopRemoteAddresses(counts, 3)]);
  });

  it('leaves counts alone when they fit, with no "other" entry', () => {
    expect(foldTopRemoteAddresses(counts, 5)).toEqual(counts);
    expect(foldTopRemoteAddresses(counts, 500).has(OTHER_REMOTE_ADDRESS)).toBe(false);
    expect(foldTopRemoteAddresses(new Map(), 0)).toEqual(new Map());
  });

  it('with a cap of 0 reports only the total as "other"', () => {
    expect([...foldTopRemoteAddresses(counts, 0)]).toEqual([[OTHER_REMOTE_ADDRESS, 16]]);
  });

  it('preserves the total number of connections', () => {
    const many = new Map(
      Array.from({ length: 1000 }, (_, i) => [`10.0.${i >> 8}.${i & 255}:443`, (i % 7) + 1] as const),
    );
    const total = [...many.values()].reduce((a, b) => a + b, 0);
    const folded = foldTopRemoteAddresses(many, 100);
    expect(folded.size).toBe(101);
    expect([...folded.values()].reduce((a, b) => a + b, 0)).toBe(total);
    // More than 100 addresses have the maximum of 7 connections, so every kept one must have 7.
    expect(Math.min(...[...folded].filter(([k]) => k !== OTHER_REMOTE_ADDRESS).map(([, v]) => v))).toBe(7);
  });
});
