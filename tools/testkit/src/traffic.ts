// Real traffic between test namespaces: ICMP echo with ping, UDP datagrams with a short Node script.
import { run, type CommandResult } from './exec.js';
import type { Netns } from './netns.js';

/** Options of ping(). */
export interface PingOptions {
  count?: number;
  /** Seconds between echo requests (default 0.05; below 0.2 needs root). */
  interval?: number;
  /** Seconds to wait for each reply (default 1). */
  timeout?: number;
  /** ICMP payload bytes (ping -s; default 56). */
  size?: number;
}

/** Sends ICMP echo requests from namespace `from` to `address`; throws when no reply came back. */
export function ping(from: Netns, address: string, options: PingOptions = {}): CommandResult {
  const count = options.count ?? 3;
  return from.exec('ping', [
    address.includes(':') ? '-6' : '-4',
    '-c',
    String(count),
    '-i',
    String(options.interval ?? 0.05),
    '-W',
    String(options.timeout ?? 1),
    '-s',
    String(options.size ?? 56),
    '-n',
    '-q',
    address,
  ]);
}

/** Options of sendUdp(). */
export interface UdpOptions {
  address: string;
  port: number;
  count?: number;
  /** Payload text (default `retina-test`). */
  payload?: string;
}

const SENDER = `
const dgram = require('node:dgram');
const [address, port, count, payload] = process.argv.slice(1);
const sock = dgram.createSocket(address.includes(':') ? 'udp6' : 'udp4');
let left = Number(count);
const next = () => {
  if (left-- === 0) { sock.close(); return; }
  sock.send(Buffer.from(payload), Number(port), address, (err) => { if (err) { console.error(err.message); process.exit(1); } next(); });
};
next();
`;

/** Sends `count` UDP datagrams from namespace `from` (or the current one) with the running Node binary. */
export function sendUdp(from: Netns | undefined, options: UdpOptions): CommandResult {
  const args = [
    '-e',
    SENDER,
    options.address,
    String(options.port),
    String(options.count ?? 1),
    options.payload ?? 'retina-test',
  ];
  return from ? from.exec(process.execPath, args) : run(process.execPath, args);
}
