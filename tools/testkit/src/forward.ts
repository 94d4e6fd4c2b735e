/**
 * Byte forwarders that carry TCP across network namespaces through unix sockets (a unix socket path is reachable
 * from every network namespace), so a server on this process's loopback can be reached from inside a test
 * namespace without giving the root namespace an address.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import type { Netns } from './netns.js';

/**
 * A forwarder as a script for `node -e`: accepts on `listen` and pipes each connection to `target` (each a unix
 * socket path or `host:port`). Either side closing closes the other, so a connection dropped further along the
 * chain is dropped at this end too. Prints `listening` once bound.
 */
function forwarderScript(listen: string, target: string): string {
  return `
    const net = require('node:net');
    const where = (s) => s.startsWith('/') ? { path: s } : { host: s.slice(0, s.lastIndexOf(':')), port: Number(s.slice(s.lastIndexOf(':') + 1)) };
    const target = where(${JSON.stringify(target)});
    const listen = where(${JSON.stringify(listen)});
    net.createServer((a) => {
      const b = net.connect(target);
      a.pipe(b); b.pipe(a);
      const drop = () => { a.destroy(); b.destroy(); };
      for (const s of [a, b]) { s.on('error', drop); s.on('close', drop); }
    }).listen(listen, () => console.log('listening'));
    process.on('SIGTERM', () => process.exit(0));`;
}

/** Starts a forwarder process inside `ns` from `listen` to `target`; resolves once it listens. */
export function startForwarderIn(ns: Netns, listen: string, target: string): Promise<ChildProcess> {
  const child = spawn('ip', ['netns', 'exec', ns.name, process.execPath, '-e', forwarderScript(listen, target)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (l) => l === 'listening' && resolve(child));
    child.on('exit', (code) => reject(new Error(`forwarder ${listen} → ${target} in ${ns.name} exited with ${String(code)}`)));
  });
}

/** A forwarder in this process from a unix socket to a loopback port. */
export interface LocalForwarder {
  server: Server;
  /** Connections accepted so far. */
  accepted(): number;
  /** Destroys every open connection (both halves); returns how many there were. */
  dropAll(): number;
  close(): Promise<void>;
}

/** Listens on the unix socket `path` and pipes each connection to `127.0.0.1:port`. */
export function startLocalForwarder(path: string, port: number): Promise<LocalForwarder> {
  const open = new Set<Socket>();
  let accepted = 0;
  const server = createServer((a) => {
    accepted++;
    const b = connect(port, '127.0.0.1');
    a.pipe(b);
    b.pipe(a);
    open.add(a);
    const drop = (): void => {
      open.delete(a);
      a.destroy();
      b.destroy();
    };
    for (const s of [a, b]) {
      s.on('error', drop);
      s.on('close', drop);
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () =>
      resolve({
        server,
        accepted: () => accepted,
        dropAll: () => {
          const n = open.size;
          for (const s of [...open]) s.destroy();
          return n;
        },
        close: () =>
          new Promise<void>((done) => {
            for (const s of [...open]) s.destroy();
            server.close(() => done());
          }),
      }),
    );
  });
}

/** GET over a unix socket (a listener inside a namespace, reached through a forwarder); resolves status and body. */
export function getOverUnixSocket(socketPath: string, path: string, timeoutMs = 10_000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`GET ${path} over ${socketPath} timed out`)));
    req.end();
  });
}
