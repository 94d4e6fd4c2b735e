import { describe, expect, it } from 'vitest';
import { DropReasonOptionsError, parseOptions } from '../src/options.js';

describe('parseOptions', () => {
  it('fills defaults from nothing', () => {
    expect(parseOptions(undefined)).toEqual({
      hook: 'auto',
      netnsInode: 0,
      eventIntervalMs: 1000,
      eventsPerCpuPerSecond: 2000,
      ringBufferBytes: 1048576,
      reasonNames: 'kernel',
      btfPath: '/sys/kernel/btf/vmlinux',
    });
  });

  it('accepts reasonNames kernel or retina and names anything else', () => {
    expect(parseOptions({ reasonNames: 'retina' }).reasonNames).toBe('retina');
    expect(() => parseOptions({ reasonNames: 'cilium' })).toThrow(
      /^plugins\.dropreason\.reasonNames = "cilium": .*"kernel".*"retina"/,
    );
  });

  it('keeps given values', () => {
    const o = parseOptions({
      hook: 'tracepoint',
      netnsInode: 4026531840,
      flowEvents: true,
      eventIntervalMs: 0,
      ringBufferBytes: 4096,
    });
    expect(o).toMatchObject({
      hook: 'tracepoint',
      netnsInode: 4026531840,
      flowEvents: true,
      eventIntervalMs: 0,
      ringBufferBytes: 4096,
    });
  });

  it('names the key, the value and the rule', () => {
    expect(() => parseOptions({ hook: 'kprobe' })).toThrow(DropReasonOptionsError);
    expect(() => parseOptions({ hook: 'kprobe' })).toThrow(
      /^plugins\.dropreason\.hook = "kprobe": .*"auto".*"tp_btf".*"tracepoint"/,
    );
    expect(() => parseOptions({ ringBufferBytes: 5000 })).toThrow(
      'plugins.dropreason.ringBufferBytes = 5000: must be a power of two (e.g. 1048576)',
    );
    expect(() => parseOptions({ netnsInode: -1 })).toThrow(/^plugins\.dropreason\.netnsInode = -1: /);
    expect(() => parseOptions({ eventsPerCpuPerSecond: 1.5 })).toThrow(
      /^plugins\.dropreason\.eventsPerCpuPerSecond = 1\.5: /,
    );
  });

  it('rejects unknown keys, naming them', () => {
    expect(() => parseOptions({ hookk: 'auto' })).toThrow(
      'plugins.dropreason: Unrecognized key: "hookk" (known keys: hook, netnsInode, flowEvents, eventIntervalMs, eventsPerCpuPerSecond, ringBufferBytes, objectPath, reasonNames, btfPath)',
    );
    expect(() => parseOptions('fast')).toThrow(/^plugins\.dropreason = "fast": /);
  });
});
