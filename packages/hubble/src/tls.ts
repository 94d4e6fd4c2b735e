/**
 * Server TLS for the TCP listener, from PEM files: TLS with a server certificate, and mutual TLS when client CA files
 * are given (clients without a certificate signed by one of them are refused during the handshake). TLS 1.3 is the
 * minimum, as in Hubble. The files are re-read periodically, so rotated certificates (Kubernetes secrets) take
 * effect for new connections without a restart.
 */
import { readFile } from 'node:fs/promises';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '@retina-ts/core';

/** TLS settings of the TCP listener. */
export interface TlsOptions {
  /** Server certificate (PEM, may hold the chain). */
  certFile: string;
  /** Server private key (PEM). */
  keyFile: string;
  /** CA bundles for client certificates; when given, clients must present a certificate (mutual TLS). */
  clientCaFiles?: string[];
  /** How often the files are re-read, in ms (default 60000; 0 never). */
  reloadIntervalMs?: number;
  /** Lowest TLS version accepted (default TLSv1.3). */
  minVersion?: 'TLSv1.2' | 'TLSv1.3';
}

interface Material {
  cert: Buffer;
  key: Buffer;
  ca?: Buffer;
}

async function readMaterial(options: TlsOptions): Promise<Material> {
  const read = async (file: string, what: string) => {
    try {
      return await readFile(file);
    } catch (err) {
      throw new Error(`hubble TLS: cannot read ${what} ${JSON.stringify(file)}: ${(err as Error).message}`);
    }
  };
  const cert = await read(options.certFile, 'certificate file');
  const key = await read(options.keyFile, 'key file');
  const material: Material = { cert, key };
  if (options.clientCaFiles && options.clientCaFiles.length > 0) {
    const cas = await Promise.all(options.clientCaFiles.map((f) => read(f, 'client CA file')));
    material.ca = Buffer.concat(cas.flatMap((c) => [c, Buffer.from('\n')]));
  }
  try {
    createSecureContext(contextOptions(material));
  } catch (err) {
    throw new Error(
      `hubble TLS: certificate ${JSON.stringify(options.certFile)} and key ${JSON.stringify(options.keyFile)} ` +
        `cannot be used together: ${(err as Error).message}`,
    );
  }
  return material;
}

function contextOptions(m: Material): SecureContextOptions {
  return m.ca ? { cert: m.cert, key: m.key, ca: m.ca } : { cert: m.cert, key: m.key };
}

function sameMaterial(a: Material, b: Material): boolean {
  return (
    a.cert.equals(b.cert) && a.key.equals(b.key) && (a.ca ?? Buffer.alloc(0)).equals(b.ca ?? Buffer.alloc(0))
  );
}

/** grpc-js server credentials whose certificates are re-read from their files. */
export class ReloadingTlsCredentials extends grpc.ServerCredentials {
  readonly options: TlsOptions;
  #material: Material;
  #timer: NodeJS.Timeout | undefined;
  readonly #logger: Logger | undefined;

  private constructor(options: TlsOptions, material: Material, logger: Logger | undefined) {
    const mutual = material.ca !== undefined;
    super(
      { requestCert: mutual, rejectUnauthorized: mutual, minVersion: options.minVersion ?? 'TLSv1.3' },
      contextOptions(material),
    );
    this.options = options;
    this.#material = material;
    this.#logger = logger;
  }

  /** Reads and checks the files; throws naming the file and the problem. */
  static async create(options: TlsOptions, logger?: Logger): Promise<ReloadingTlsCredentials> {
    return new ReloadingTlsCredentials(options, await readMaterial(options), logger);
  }

  /** Whether clients must present a certificate. */
  get mutual(): boolean {
    return this.#material.ca !== undefined;
  }

  /** Starts the periodic re-read. */
  startReloading(): void {
    const interval = this.options.reloadIntervalMs ?? 60_000;
    if (interval <= 0 || this.#timer) return;
    this.#timer = setInterval(() => void this.reload(), interval);
    this.#timer.unref();
  }

  /** Re-reads the files now; keeps the current certificates when the new ones are unreadable or invalid. */
  async reload(): Promise<boolean> {
    let next: Material;
    try {
      next = await readMaterial(this.options);
    } catch (err) {
      this.#logger?.warn(
        { err },
        'hubble TLS: certificate reload failed; still serving the previous certificates',
      );
      return false;
    }
    if (sameMaterial(next, this.#material)) return false;
    if ((next.ca === undefined) !== (this.#material.ca === undefined)) {
      this.#logger?.warn(
        'hubble TLS: client CA files appeared or vanished; restart to switch between TLS and mutual TLS',
      );
      return false;
    }
    this.#material = next;
    this.updateSecureContextOptions(contextOptions(next));
    this.#logger?.info('hubble TLS: reloaded certificates');
    return true;
  }

  /** Stops the periodic re-read. */
  stopReloading(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  override _equals(other: grpc.ServerCredentials): boolean {
    return other === this;
  }
}
