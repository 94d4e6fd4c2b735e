import { existsSync } from 'node:fs';

import { afterAll, expect, it } from 'vitest';

import {
  createCgroup,
  createNetns,
  createNetnsPair,
  createVethPair,
  describeKernel,
  ping,
  run,
  sendUdp,
  startTcpServer,
  tcFilters,
  tcpConnections,
  tcQdiscs,
  type Netns,
  type VethPair,
} from '../src/index.js';

const cleanup: Array<{ destroy(): void }> = [];

afterAll(() => {
  for (const c of cleanup.reverse()) c.destroy();
});

describeKernel('network namespace helpers', () => {
  let a: Netns;
  let b: Netns;
  let pair: VethPair;

  it('creates namespaces and a veth pair between them with working addresses', () => {
    a = createNetns('tkA');
    b = createNetns('tkB');
    cleanup.push(a, b);
    pair = createVethPair({
      ns: a,
      peerNs: b,
      addresses: { local: ['10.232.0.1/24', 'fd00:232::1/64'], peer: ['10.232.0.2/24', 'fd00:232::2/64'] },
    });
    cleanup.push(pair);
    expect(pair.name.length).toBeLessThanOrEqual(15);
    expect(pair.ifindex()).toBeGreaterThan(0);
    expect(run('ip', ['link', 'show', pair.name], { allowFailure: true }).status).not.toBe(0);
    expect(ping(b, '10.232.0.1', { count: 2 }).status).toBe(0);
    expect(ping(a, 'fd00:232::2', { count: 1 }).status).toBe(0);
    expect(sendUdp(b, { address: '10.232.0.1', port: 9, count: 2 }).status).toBe(0);
    expect(tcFilters(pair.name, { netns: a })).toEqual([]);
    expect(tcQdiscs(pair.name, { netns: a }).map((q) => q.kind)).toEqual(['noqueue']);
  });

  it('destroy() removes the namespaces and is idempotent', () => {
    pair.destroy();
    pair.destroy();
    a.destroy();
    b.destroy();
    a.destroy();
    expect(existsSync(a.path)).toBe(false);
    expect(run('ip', ['netns', 'list']).stdout).not.toContain(b.name);
  });

  it('joins two namespaces with a veth pair, optionally without IPv6, and names their inodes', () => {
    const linked = createNetnsPair({
      prefix: 'tkC',
      peerPrefix: 'tkD',
      ipv6: false,
      addresses: { local: '10.232.1.1/24', peer: '10.232.1.2/24' },
    });
    cleanup.push(linked);
    expect(linked.ns.name.startsWith('tkC')).toBe(true);
    expect(linked.peerNs.name.startsWith('tkD')).toBe(true);
    expect(linked.veth.ns).toBe(linked.ns);
    expect(ping(linked.ns, '10.232.1.2', { count: 1 }).status).toBe(0);
    expect(linked.peerNs.exec('sysctl', ['-n', 'net.ipv6.conf.all.disable_ipv6']).stdout.trim()).toBe('1');
    expect(linked.peerNs.ip(['-6', 'addr', 'show', 'dev', linked.veth.peerName]).stdout.trim()).toBe('');
    expect(linked.ns.inode).toBe(Number(run('stat', ['-L', '-c', '%i', linked.ns.path]).stdout.trim()));
    expect(linked.ns.inode).not.toBe(linked.peerNs.inode);
    linked.destroy();
    linked.destroy();
    expect(existsSync(linked.ns.path)).toBe(false);
    expect(existsSync(linked.peerNs.path)).toBe(false);
  });

  it('serves TCP in one namespace and connects from another', async () => {
    const linked = createNetnsPair({
      prefix: 'tkE',
      peerPrefix: 'tkF',
      ipv6: false,
      addresses: { local: '10.232.2.1/24', peer: '10.232.2.2/24' },
    });
    cleanup.push(linked);
    const reader = await startTcpServer(linked.ns, { address: '10.232.2.1', port: 8080 });
    const echo = await startTcpServer(linked.ns, { address: '10.232.2.1', port: 8081, echo: true });
    try {
      expect(tcpConnections(linked.peerNs, { address: '10.232.2.1', port: 8080, count: 3 }).status).toBe(0);
      // Nothing listens on 8082: the connection is refused and that is an error.
      expect(() => tcpConnections(linked.peerNs, { address: '10.232.2.1', port: 8082 })).toThrow(
        /ECONNREFUSED/,
      );
      const said = linked.peerNs.exec(process.execPath, [
        '-e',
        `const s = require('node:net').connect(8081, '10.232.2.1', () => s.write('marco'));
         s.on('data', (d) => { console.log(String(d)); s.destroy(); });`,
      ]);
      expect(said.stdout.trim()).toBe('marco');
    } finally {
      reader.kill();
      echo.kill();
      linked.destroy();
    }
  });

  it('runs a process inside a fresh cgroup', () => {
    const cg = createCgroup();
    cleanup.push(cg);
    const out = cg.run('cat', ['/proc/self/cgroup']).stdout;
    expect(out).toContain(cg.path.split('/').pop());
    cg.destroy();
    expect(existsSync(cg.path)).toBe(false);
  });
});
