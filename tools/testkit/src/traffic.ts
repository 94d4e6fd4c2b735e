// Real traffic between test namespaces: ICMP echo with ping, UDP datagrams and TCP connections with short Node
// scripts run by the running Node binary.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

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

/** Options of startTcpServer(). */
export interface TcpServerOptions {
  address: string;
  port: number;
  /** Write back what each connection sends (default false: only read, so the server sends no data). */
  echo?: boolean;
}

const TCP_SERVER = `
const [address, port, echo] = process.argv.slice(1);
require('node:net')
  .createServer((s) => { s.on('data', (d) => { if (echo === 'echo') s.write(d); }); s.on('end', () => s.end()); s.on('error', () => {}); })
  .listen(Number(port), address, () => console.log('listening'));
`;

/**
 * Starts a TCP server in namespace `ns` that reads each connection until the client closes it; resolves once it
 * listens, rejects if it exits before. Kill the returned process to stop it.
 */
export function startTcpServer(ns: Netns, options: TcpServerOptions): Promise<ChildProcess> {
  const args = [TCP_SERVER, options.address, String(options.port), options.echo ? 'echo' : 'read'];
  const child = spawn('ip', ['netns', 'exec', ns.name, process.execPath, '-e', ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (l) => l === 'listening' && resolve(child));
    child.on('exit', (code) =>
      reject(
        new Error(
          `TCP server on ${options.address}:${options.port} in ${ns.name} exited with ${String(code)}`,
        ),
      ),
    );
  });
}

/** Options of tcpConnections(). */
export interface TcpConnectionOptions {
  address: string;
  port: number;
  count?: number;
  /** Text each connection sends before closing (default `hello\n`). */
  payload?: string;
}

const TCP_CLIENT = `
const net = require('node:net');
const [address, port, count, payload] = process.argv.slice(1);
let left = Number(count);
const next = () => {
  if (left-- === 0) return;
  const s = net.connect(Number(port), address, () => s.end(payload));
  s.on('data', () => {});
  s.on('close', next);
  s.on('error', (e) => { console.error(e.message); process.exit(1); });
};
next();
`;

/**
 * Opens `count` (default 1) TCP connections from namespace `ns`, one after the other, each sending `payload` and
 * closing; throws if one fails.
 */
export function tcpConnections(ns: Netns, options: TcpConnectionOptions): CommandResult {
  const args = [
    '-e',
    TCP_CLIENT,
    options.address,
    String(options.port),
    String(options.count ?? 1),
    options.payload ?? 'hello\n',
  ];
  return ns.exec(process.execPath, args, { timeoutMs: 10_000 });
}
