/**
 * A sysfs tree laid out as on a node with two ConnectX (mlx5) InfiniBand adapters on PCI and their IPoIB
 * interfaces: class entries are symbolic links into `devices/`, each port holds its attribute files, `counters/`
 * (what is read), `hw_counters/` (driver extras, not read) and `gids/`. Built in a temporary folder because the
 * tree is made of symbolic links, which the repository does not hold.
 */
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** The port counters of an mlx5 InfiniBand port (`ports/<n>/counters/`), with test values. */
export const MLX5_PORT_COUNTERS: Readonly<Record<string, number>> = {
  VL15_dropped: 0,
  excessive_buffer_overrun_errors: 0,
  link_downed: 1,
  link_error_recovery: 0,
  local_link_integrity_errors: 0,
  multicast_rcv_packets: 1204,
  multicast_xmit_packets: 7,
  port_rcv_constraint_errors: 0,
  port_rcv_data: 98_765_432_100,
  port_rcv_errors: 3,
  port_rcv_packets: 123_456_789,
  port_rcv_remote_physical_errors: 0,
  port_rcv_switch_relay_errors: 0,
  port_xmit_constraint_errors: 0,
  port_xmit_data: 87_654_321_000,
  port_xmit_discards: 2,
  port_xmit_packets: 111_222_333,
  port_xmit_wait: 4096,
  symbol_error: 0,
  unicast_rcv_packets: 123_455_585,
  unicast_xmit_packets: 111_222_326,
};

/** Driver extras in `hw_counters/`, which the plugin does not read (Retina reads `counters/` only). */
const HW_COUNTERS = { out_of_buffer: 5, duplicate_request: 0, local_ack_timeout_err: 9, rx_write_requests: 77 };

/** Port attribute files (text, not counters). */
const PORT_ATTRIBUTES = {
  state: '4: ACTIVE',
  phys_state: '5: LinkUp',
  rate: '200 Gb/sec (4X HDR)',
  link_layer: 'InfiniBand',
  lid: '0x1f',
  sm_lid: '0x1',
  cap_mask: '0xa651e848',
};

/** IPoIB status parameters under `class/net/ib<n>/debug/`, as Retina reads them. */
export const IPOIB_DEBUG: Readonly<Record<string, Record<string, number>>> = {
  ib0: { lro_timeout: 32, link_down_reason: 0 },
  ib1: { lro_timeout: 16, link_down_reason: 2 },
};

/** A built tree; `root` is what `sysfsRoot` names. */
export interface SysfsFixture {
  root: string;
  /** Value of each device's counters: device → counter → value (device mlx5_1 has every value + 1000). */
  counters: Record<string, Record<string, number>>;
  write(rel: string, text: string): Promise<void>;
  remove(): Promise<void>;
}

const PCI = ['0000:3b:00.0', '0000:86:00.0'];

async function files(dir: string, entries: Record<string, string | number>): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const [name, v] of Object.entries(entries)) await writeFile(path.join(dir, name), `${String(v)}\n`);
}

/** Builds the tree; `infiniband: false` leaves out the adapters (a node without InfiniBand). */
export async function buildSysfs(opts: { infiniband?: boolean } = {}): Promise<SysfsFixture> {
  const root = await mkdtemp(path.join(tmpdir(), 'rts-ib-sysfs-'));
  const counters: Record<string, Record<string, number>> = {};
  await mkdir(path.join(root, 'class', 'net'), { recursive: true });
  if (opts.infiniband !== false) {
    await mkdir(path.join(root, 'class', 'infiniband'), { recursive: true });
    for (const [i, pci] of PCI.entries()) {
      const device = `mlx5_${i}`;
      const pciDir = path.join(root, 'devices', 'pci0000:00', pci);
      const devDir = path.join(pciDir, 'infiniband', device);
      await files(devDir, {
        fw_ver: '20.38.1002',
        hca_type: 'MT4123',
        node_type: '1: CA',
        node_guid: `0c42:a103:00a2:${i}f3e`,
      });
      const values = Object.fromEntries(Object.entries(MLX5_PORT_COUNTERS).map(([k, v]) => [k, v + i * 1000]));
      counters[device] = values;
      const port = path.join(devDir, 'ports', '1');
      await files(port, PORT_ATTRIBUTES);
      await files(path.join(port, 'counters'), values);
      await files(path.join(port, 'hw_counters'), HW_COUNTERS);
      await files(path.join(port, 'gids'), { '0': 'fe80:0000:0000:0000:0c42:a103:00a2:1f3e' });
      await symlink(path.join('..', '..', 'devices', 'pci0000:00', pci, 'infiniband', device), path.join(root, 'class', 'infiniband', device));
      // The IPoIB interface of the same adapter, with its status parameters.
      const iface = `ib${i}`;
      const netDir = path.join(pciDir, 'net', iface);
      await files(netDir, { mtu: 2044, operstate: 'up', type: 32 });
      await files(path.join(netDir, 'debug'), IPOIB_DEBUG[iface] ?? {});
      await symlink(path.join('..', '..', 'devices', 'pci0000:00', pci, 'net', iface), path.join(root, 'class', 'net', iface));
    }
  }
  // Interfaces that are not InfiniBand: never read for status parameters, even with a debug/ folder.
  const eth = path.join(root, 'devices', 'pci0000:00', '0000:00:03.0', 'net', 'eth0');
  await files(path.join(eth, 'debug'), { lro_timeout: 99 });
  await symlink(path.join('..', '..', 'devices', 'pci0000:00', '0000:00:03.0', 'net', 'eth0'), path.join(root, 'class', 'net', 'eth0'));
  const lo = path.join(root, 'devices', 'virtual', 'net', 'lo');
  await files(lo, { mtu: 65536 });
  await symlink(path.join('..', '..', 'devices', 'virtual', 'net', 'lo'), path.join(root, 'class', 'net', 'lo'));
  return {
    root,
    counters,
    write: (rel, text) => writeFile(path.join(root, rel), text),
    remove: () => rm(root, { recursive: true, force: true }),
  };
}
