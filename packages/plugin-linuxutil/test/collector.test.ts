import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { LinuxUtilCollector } from '../src/collector.js';
import { parseLinuxUtilOptions } from '../src/options.js';
import { FakeEthtool, exposedText, series, testContext } from './context.js';
import { PROC_ROOT } from './fixtures.js';

describe('LinuxUtilCollector', () => {
  it('reads through the injected file reader, relative to the proc root', async () => {
    const t = testContext({});
    const read: string[] = [];
    const collector = new LinuxUtilCollector({
      options: parseLinuxUtilOptions({ procRoot: PROC_ROOT }).options,
      gauges: t.metrics.basic,
      logger: t.ctx.logger,
      ethtool: new FakeEthtool({}),
      readText: (file) => {
        read.push(file.slice(PROC_ROOT.length));
        return readFile(file, 'utf8');
      },
    });
    await collector.poll();
    expect(read.sort()).toEqual(
      ['/net/dev', '/net/netstat', '/net/snmp', '/net/tcp', '/net/tcp6', '/net/udp', '/net/udp6'].sort(),
    );
    expect((await series(t.metrics, 'networkobservability_tcp_state')).get('state=ESTABLISHED')).toBe(16);
  });

  it('sets nothing when closed while a poll is still reading', async () => {
    const t = testContext({});
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const ethtool = new FakeEthtool({ rluv0: { peer_ifindex: 4 } });
    const collector = new LinuxUtilCollector({
      options: parseLinuxUtilOptions({ procRoot: PROC_ROOT }).options,
      gauges: t.metrics.basic,
      logger: t.ctx.logger,
      ethtool,
      readText: async (file) => {
        await gate;
        return readFile(file, 'utf8');
      },
    });
    const inFlight = collector.poll();
    collector.close();
    release();
    await inFlight;
    expect(ethtool.calls).toEqual([]);
    expect(await exposedText(t.metrics)).not.toMatch(/^networkobservability_/m);
  });
});
