import { describe, expect, it } from 'vitest';

import {
  BpfError,
  BpfVerifierError,
  errnoName,
  errorFromNative,
  logTail,
  parseVerifierLog,
} from '../src/errors.js';

// libbpf 1.1's output for a program the verifier refused (captured from the test object verifier_reject).
const LIBBPF_OUTPUT = `libbpf: prog 'bad_access': BPF program load failed: Permission denied
libbpf: prog 'bad_access': -- BEGIN PROG LOAD LOG --
0: R1=ctx() R10=fp0
; __u32 *p = (__u32 *)((long)skb->data + 100); @ verifier_reject.bpf.c:11
0: (61) r1 = *(u32 *)(r1 +76)         ; R1=pkt(r=0)
; return *p; @ verifier_reject.bpf.c:12
1: (61) r0 = *(u32 *)(r1 +100)
invalid access to packet, off=100 size=4, R1(id=0,off=100,r=0)
R1 offset is outside of the packet
processed 2 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0
-- END PROG LOAD LOG --
libbpf: prog 'bad_access': failed to load: -13
libbpf: failed to load object 'verifier_reject'
`;

describe('verifier log parsing', () => {
  it('extracts the program and its log', () => {
    const parsed = parseVerifierLog(LIBBPF_OUTPUT);
    expect(parsed?.program).toBe('bad_access');
    expect(parsed?.log).toContain('invalid access to packet');
    expect(parsed?.log.startsWith('0: R1=ctx()')).toBe(true);
  });

  it('returns undefined when there is no verifier output', () => {
    expect(parseVerifierLog('libbpf: failed to open x.o: No such file or directory\n')).toBeUndefined();
  });

  it('keeps the last lines of a log', () => {
    expect(logTail('a\n\nb\nc\n', 2)).toBe('b\nc');
  });
});

describe('errorFromNative', () => {
  const base = { errno: 13, target: 'verifier_reject', detail: '', message: 'Permission denied' };
  /** The addon's report of `op` failing with `errno` (`message`: the C library's text for it), without libbpf output. */
  const failure = (op: string, errno: number, message: string, target = base.target) =>
    errorFromNative({ ...base, op, errno, message, target, log: '' });

  it('makes a BpfVerifierError for a refused program, naming the reason', () => {
    const err = errorFromNative({ ...base, op: 'load', log: LIBBPF_OUTPUT });
    expect(err).toBeInstanceOf(BpfVerifierError);
    const v = err as BpfVerifierError;
    expect(v.program).toBe('bad_access');
    expect(v.errno).toBe(13);
    expect(v.code).toBe('EACCES');
    expect(v.log).toContain('R1 offset is outside of the packet');
    expect(v.message).toContain(
      "the verifier refused program 'bad_access': R1 offset is outside of the packet",
    );
  });

  it('makes a plain BpfError for other failures, with op, target and code', () => {
    const err = failure('open', 2, 'No such file or directory', '/x.o');
    expect(err).toBeInstanceOf(BpfError);
    expect(err).not.toBeInstanceOf(BpfVerifierError);
    expect(err.message).toBe('open /x.o failed: ENOENT (No such file or directory)');
    expect(err.operation).toBe('open');
  });

  it('adds a capability hint to EPERM and names kernel-only errno values', () => {
    const err = failure('load', 1, 'Operation not permitted');
    expect(err.message).toMatch(/CAP_BPF/);
    expect(errnoName(524)).toBe('ENOTSUPP');
    expect(errnoName(95)).toBe('EOPNOTSUPP');
  });
});
