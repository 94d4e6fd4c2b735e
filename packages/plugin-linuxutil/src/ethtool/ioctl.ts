/**
 * EthtoolStatsReader over the SIOCETHTOOL ioctl (GSSET_INFO, GSTRINGS, GSTATS: what `ethtool -S` does), called
 * through koffi into libc. These three commands need no privilege. koffi is loaded on first use so a host where
 * the FFI cannot load still runs the rest of the plugin.
 */
import { constants as osConstants, endianness } from 'node:os';
import type * as KoffiModule from 'koffi';
import { EthtoolError, type EthtoolReadResult, type EthtoolStatsReader } from './reader.js';
import {
  SIOCETHTOOL,
  decodeStatNames,
  decodeStatValues,
  decodeStatsCount,
  encodeStatNamesRequest,
  encodeStatValuesRequest,
  encodeStatsCountRequest,
  pairStatistics,
  statsBufferSize,
} from './layout.js';

type Koffi = typeof KoffiModule;

const AF_UNIX = 1;
const AF_INET = 2;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const IFNAMSIZ = 16;
const LIBC_NAMES = ['libc.so.6', 'libc.so', 'libc.musl-x86_64.so.1', 'libc.musl-aarch64.so.1'];

interface LibcBindings {
  koffi: Koffi;
  socket: (domain: number, type: number, protocol: number) => number;
  ioctl: (fd: number, request: number, ...typedArgs: unknown[]) => number;
  close: (fd: number) => number;
  ifreqPointer: ReturnType<Koffi['pointer']>;
}

let bindings: Promise<LibcBindings> | undefined;

/** Loads koffi and binds libc once per process (koffi types and libraries are process-wide). */
function libcBindings(): Promise<LibcBindings> {
  bindings ??= (async () => {
    // koffi is CommonJS: its API is the default export of the ES module namespace.
    const { default: koffi } = (await import('koffi')) as unknown as { default: Koffi };
    const libc = loadLibc(koffi);
    const ifreq = koffi.struct({
      ifr_name: koffi.array('char', IFNAMSIZ, 'String'),
      ifr_data: 'void *',
      // struct ifreq is 40 bytes on 64-bit (its union holds struct ifmap); the kernel copies all of it.
      ifr_pad: koffi.array('uint8_t', 16),
    });
    return {
      koffi,
      socket: libc.func('int socket(int domain, int type, int protocol)'),
      // ioctl is variadic in libc; declaring it so keeps the call correct on every ABI.
      ioctl: libc.func('int ioctl(int fd, unsigned long request, ...)'),
      close: libc.func('int close(int fd)'),
      ifreqPointer: koffi.pointer(ifreq),
    };
  })();
  // A failed load is not cached, so a later init can try again.
  bindings.catch(() => {
    bindings = undefined;
  });
  return bindings;
}

/** Opens a socket for ethtool ioctls. Throws an Error naming what failed (FFI or libc not loadable, socket refused). */
export async function openEthtoolStatsReader(): Promise<EthtoolStatsReader> {
  const { koffi, socket, ioctl, close, ifreqPointer } = await libcBindings();

  let fd = -1;
  for (const family of [AF_INET, AF_UNIX]) {
    fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd >= 0) break;
  }
  if (fd < 0) throw new Error(`cannot open a socket for ethtool ioctls: ${errnoText(koffi.errno())}`);

  const le = endianness() === 'LE';
  const padding = new Array<number>(16).fill(0);
  let capacity = 0;
  let memory: unknown = null;
  let view: Buffer = Buffer.alloc(0);

  const ensureCapacity = (bytes: number): void => {
    if (bytes <= capacity) return;
    if (memory !== null) koffi.free(memory);
    capacity = Math.max(bytes, 4096);
    memory = koffi.alloc('uint8_t', capacity);
    view = Buffer.from(koffi.view(memory, capacity));
  };

  const call = (ifname: string, command: string): number => {
    const rc = ioctl(fd, SIOCETHTOOL, ifreqPointer, { ifr_name: ifname, ifr_data: memory, ifr_pad: padding });
    if (rc >= 0) return 0;
    const errno = koffi.errno();
    if (errno === osConstants.errno.EOPNOTSUPP) return errno;
    if (errno === osConstants.errno.ENODEV) return errno;
    throw new EthtoolError(ifname, command, errno, errnoText(errno));
  };

  const outcome = (errno: number): EthtoolReadResult =>
    errno === osConstants.errno.ENODEV ? { kind: 'gone' } : { kind: 'unsupported' };

  let closed = false;
  return {
    read(ifname: string): EthtoolReadResult {
      if (closed) throw new Error('ethtool reader used after close()');
      if (ifname.length === 0 || Buffer.byteLength(ifname) >= IFNAMSIZ) {
        throw new EthtoolError(
          ifname,
          'GSSET_INFO',
          osConstants.errno.EINVAL,
          'interface names have 1 to 15 bytes',
        );
      }
      ensureCapacity(statsBufferSize(0));
      encodeStatsCountRequest(view, le);
      let errno = call(ifname, 'GSSET_INFO');
      if (errno !== 0) return outcome(errno);
      const count = decodeStatsCount(view, le);
      if (count === undefined || count === 0) return { kind: 'unsupported' };
      // The kernel writes as many entries as the driver has *now*, not as many as we asked for: room for twice
      // the count keeps a set that grew between the calls inside our buffer, and pairStatistics accepts the two
      // replies only when they have the same length.
      ensureCapacity(statsBufferSize(count * 2 + 64));
      encodeStatNamesRequest(view, count, le);
      errno = call(ifname, 'GSTRINGS');
      if (errno !== 0) return outcome(errno);
      const names = decodeStatNames(view, le);
      encodeStatValuesRequest(view, count, le);
      errno = call(ifname, 'GSTATS');
      if (errno !== 0) return outcome(errno);
      const values = decodeStatValues(view, le);
      return { kind: 'statistics', statistics: pairStatistics(names, values) };
    },
    close(): void {
      if (closed) return;
      closed = true;
      close(fd);
      if (memory !== null) koffi.free(memory);
      memory = null;
    },
  };
}

function loadLibc(koffi: Koffi): ReturnType<Koffi['load']> {
  const failures: string[] = [];
  for (const name of LIBC_NAMES) {
    try {
      return koffi.load(name);
    } catch (err) {
      failures.push(`${name}: ${(err as Error).message}`);
    }
  }
  throw new Error(`cannot load the C library for ethtool ioctls (${failures.join('; ')})`);
}

function errnoText(errno: number): string {
  const name = Object.entries(osConstants.errno).find(([, v]) => v === errno)?.[0];
  return name ? `${name} (errno ${errno})` : `errno ${errno}`;
}
