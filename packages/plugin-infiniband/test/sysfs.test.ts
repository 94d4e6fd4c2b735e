import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseSysfsValue, readInfiniband } from '../src/sysfs.js';
import { buildSysfs, IPOIB_DEBUG, MLX5_PORT_COUNTERS, type SysfsFixture } from './fixture.js';

let sys: SysfsFixture;
beforeEach(async () => {
  sys = await buildSysfs();
});
afterEach(async () => {
  await sys.remove();
});

describe('parseSysfsValue', () => {
  it('reads one unsigned decimal with white space around it', () => {
    expect(parseSysfsValue('42\n')).toBe(42);
    expect(parseSysfsValue(' 0 ')).toBe(0);
    expect(parseSysfsValue('18446744073709551615\n')).toBe(18446744073709551615);
  });

  it('refuses anything else', () => {
    for (const t of ['', 'N/A', '-1', '0x10', '4: ACTIVE', '1.5', '1 2', '123456789012345678901']) {
      expect(parseSysfsValue(t)).toBeUndefined();
    }
  });
});

describe('readInfiniband', () => {
  it('reads every port counter of every device through the class symlinks, and nothing else', async () => {
    const snap = await readInfiniband(sys.root, 10_000);
    expect(snap.problems).toEqual([]);
    expect(snap.truncated).toBe(0);
    const names = Object.keys(MLX5_PORT_COUNTERS).sort();
    expect(snap.counters).toEqual(
      ['mlx5_0', 'mlx5_1'].flatMap((device) =>
        names.map((name) => ({ name, device, port: '1', value: sys.counters[device]![name] })),
      ),
    );
    // hw_counters/ and the port's attribute files are not counters.
    expect(snap.counters.some((c) => c.name === 'out_of_buffer' || c.name === 'rate')).toBe(false);
  });

  it('reads the debug parameters of ib* interfaces only', async () => {
    const snap = await readInfiniband(sys.root, 10_000);
    expect(snap.statusParams).toEqual([
      { name: 'link_down_reason', iface: 'ib0', value: IPOIB_DEBUG.ib0!.link_down_reason },
      { name: 'lro_timeout', iface: 'ib0', value: IPOIB_DEBUG.ib0!.lro_timeout },
      { name: 'link_down_reason', iface: 'ib1', value: IPOIB_DEBUG.ib1!.link_down_reason },
      { name: 'lro_timeout', iface: 'ib1', value: IPOIB_DEBUG.ib1!.lro_timeout },
    ]);
  });

  it('skips a file that does not hold a number or cannot be read, naming it, and keeps the rest', async () => {
    await sys.write('class/infiniband/mlx5_0/ports/1/counters/port_xmit_wait', 'N/A\n');
    await rm(path.join(sys.root, 'class/infiniband/mlx5_1/ports/1/counters/symbol_error'));
    await mkdir(path.join(sys.root, 'class/infiniband/mlx5_1/ports/1/counters/symbol_error'));
    const snap = await readInfiniband(sys.root, 10_000);
    expect(snap.problems).toEqual([
      'class/infiniband/mlx5_0/ports/1/counters/port_xmit_wait: "N/A" is not a counter value',
      'class/infiniband/mlx5_1/ports/1/counters/symbol_error: EISDIR',
    ]);
    const total = Object.keys(MLX5_PORT_COUNTERS).length * 2;
    expect(snap.counters).toHaveLength(total - 2);
  });

  it('names a device without ports as a problem', async () => {
    await rm(path.join(sys.root, 'devices/pci0000:00/0000:86:00.0/infiniband/mlx5_1/ports'), { recursive: true });
    const snap = await readInfiniband(sys.root, 10_000);
    expect(snap.problems).toEqual(['class/infiniband/mlx5_1/ports: ENOENT']);
    expect(new Set(snap.counters.map((c) => c.device))).toEqual(new Set(['mlx5_0']));
  });

  it('finds nothing, and no problem, on a node without InfiniBand', async () => {
    const bare = await buildSysfs({ infiniband: false });
    try {
      expect(await readInfiniband(bare.root, 10_000)).toEqual({ counters: [], statusParams: [], problems: [], truncated: 0 });
    } finally {
      await bare.remove();
    }
  });

  it('stops at maxSeries and says how many were left out', async () => {
    const snap = await readInfiniband(sys.root, 25);
    const all = Object.keys(MLX5_PORT_COUNTERS).length * 2 + 4;
    expect(snap.counters.length + snap.statusParams.length).toBe(25);
    expect(snap.truncated).toBe(all - 25);
    // Sorted reading makes the kept set stable: the first device whole, then the second's first counters.
    expect(snap.counters.filter((c) => c.device === 'mlx5_0')).toHaveLength(Object.keys(MLX5_PORT_COUNTERS).length);
  });
});
