/** A process started inside a test's network namespace, its stdout read line by line. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { waitFor, type Netns } from '@retina-ts/testkit';
import { stopChild } from './helpers.js';

/** A child process inside a namespace whose stdout lines are kept. */
export class NsChild {
  readonly lines: string[] = [];
  readonly child: ChildProcess;
  #stderr = '';

  constructor(ns: Netns, command: string, args: readonly string[]) {
    this.child = spawn('ip', ['netns', 'exec', ns.name, command, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    createInterface({ input: this.child.stdout! }).on('line', (l) => this.lines.push(l));
    this.child.stderr!.on('data', (d: Buffer) => (this.#stderr += d.toString()));
  }

  /** Waits until a line matches `pattern` and returns it; fails early when the process exits. */
  async line(pattern: RegExp, description: string): Promise<string> {
    return waitFor(
      () => {
        const hit = this.lines.find((l) => pattern.test(l));
        if (hit === undefined && this.child.exitCode !== null) {
          throw new Error(`${description}: the process exited with ${this.child.exitCode}: ${this.#stderr}`);
        }
        return hit;
      },
      { timeoutMs: 10_000, description },
    );
  }

  /** Sends one line to the process's stdin. */
  send(line: string): void {
    this.child.stdin!.write(`${line}\n`);
  }

  /** Ends the process and waits for it. */
  close(): Promise<void> {
    return stopChild(this.child);
  }
}
