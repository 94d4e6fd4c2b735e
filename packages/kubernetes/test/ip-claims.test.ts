import { describe, expect, it } from 'vitest';
import { IpClaims } from '../src/index.js';

describe('IpClaims', () => {
  it('gives an IP to the pod that reported it most recently for the first time', () => {
    const c = new IpClaims();
    expect([...c.update('ns/old', ['10.0.0.1'], 1, 100)]).toEqual(['ns/old']);
    expect([...c.update('ns/new', ['10.0.0.1'], 2, 200)].sort()).toEqual(['ns/new', 'ns/old']);
    expect(c.ownerOf('10.0.0.1')).toBe('ns/new');
    expect(c.owned('ns/old')).toEqual([]);
    // A later update of the old pod keeps its first-seen order: it does not win the IP back.
    expect([...c.update('ns/old', ['10.0.0.1'], 3, 100)]).toEqual([]);
    expect(c.ownerOf('10.0.0.1')).toBe('ns/new');
  });

  it('orders pods first seen in one list by creation time', () => {
    const c = new IpClaims();
    c.update('ns/b', ['10.0.0.2'], 5, 2000);
    c.update('ns/a', ['10.0.0.2'], 5, 1000);
    expect(c.ownerOf('10.0.0.2')).toBe('ns/b');
  });

  it('hands an IP back to the remaining claimant when the owner goes', () => {
    const c = new IpClaims();
    c.update('ns/old', ['10.0.0.3', '10.0.0.4'], 1, 1);
    c.update('ns/new', ['10.0.0.3'], 2, 2);
    expect(c.owned('ns/old')).toEqual(['10.0.0.4']);
    expect([...c.remove('ns/new')]).toEqual(['ns/new', 'ns/old']);
    expect(c.owned('ns/old')).toEqual(['10.0.0.3', '10.0.0.4']);
    expect([...c.remove('ns/old')]).toEqual(['ns/old']);
    expect(c.ownerOf('10.0.0.3')).toBeUndefined();
    expect([...c.remove('ns/unknown')]).toEqual([]);
  });

  it('releases IPs a pod stops reporting', () => {
    const c = new IpClaims();
    c.update('ns/p', ['10.0.0.5', 'fd00:1::5'], 1, 1);
    expect([...c.update('ns/p', ['fd00:1::5'], 2, 1)]).toEqual(['ns/p']);
    expect(c.ownerOf('10.0.0.5')).toBeUndefined();
    expect(c.owned('ns/p')).toEqual(['fd00:1::5']);
  });
});
