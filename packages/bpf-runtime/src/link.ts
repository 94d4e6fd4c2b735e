import type { NativeLinkHandle } from './native.js';

/** How a program is attached. `clsact` filters are netlink objects; every other kind is owned by a file descriptor. */
export type LinkKind =
  | 'tracepoint'
  | 'raw_tracepoint'
  | 'tp_btf'
  | 'tcx'
  | 'clsact'
  | 'xdp'
  | 'cgroup'
  | 'socket_filter'
  | (string & {});

/** Anything an object releases when it is closed. */
export interface Releasable {
  release(): void;
}

/** Something that owns links and readers (a BpfObject). */
export interface ResourceOwner {
  track(resource: Releasable): void;
  untrack(resource: Releasable): void;
}

/**
 * One attachment of a program. Created by the BpfProgram attach methods; released by detach(), by closing the
 * object, when garbage collected together with its object, and (for clsact filters) at process exit.
 */
export class BpfLink implements Releasable {
  /** Attachment kind. */
  readonly kind: LinkKind;
  /** Name of the attached program. */
  readonly program: string;
  readonly #native: NativeLinkHandle;
  readonly #owner: ResourceOwner;
  readonly #onDetach: (() => void) | undefined;

  /** Wraps a native link; use the BpfProgram attach methods instead of calling this. */
  constructor(native: NativeLinkHandle, program: string, owner: ResourceOwner, onDetach?: () => void) {
    this.#native = native;
    this.kind = native.kind;
    this.program = program;
    this.#owner = owner;
    this.#onDetach = onDetach;
    owner.track(this);
  }

  /** False once detached. */
  get attached(): boolean {
    return this.#native.attached;
  }

  /** Link file descriptor, or -1 (detached, or not a BPF link: clsact and socket filters). */
  get fd(): number {
    return this.#native.fd;
  }

  /** Kernel link id as `bpftool link` shows it; 0 for attachments that are not BPF links. */
  get id(): number {
    return this.#native.id;
  }

  /** clsact only: the filter's handle (encodes this process's pid, see README). */
  get tcHandle(): number | undefined {
    return this.#native.handle;
  }

  /** clsact only: the filter's priority. */
  get tcPriority(): number | undefined {
    return this.#native.priority;
  }

  /** Removes the attachment; calling it again does nothing. */
  detach(): void {
    if (!this.#native.attached) return;
    try {
      this.#native.detach();
    } finally {
      this.#owner.untrack(this);
      this.#onDetach?.();
    }
  }

  /** Same as detach(); called when the owning object closes. */
  release(): void {
    this.detach();
  }
}
