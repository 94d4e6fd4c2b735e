// PerfBufferReader fed through BPF_PROG_TEST_RUN: a TC program (many runs per call) and a raw tracepoint program
// run on a chosen CPU, which fills that CPU's buffer so the kernel reports lost records.
import { describeKernel, waitFor } from '@retina-ts/testkit';
import { afterEach, expect, it } from 'vitest';

import {
  BpfError,
  PerfBufferReader,
  possibleCpus,
  type BpfObject,
  type PerfRecordBatch,
} from '../src/index.js';
import { addonMissing, count, Event, markedPacket, openFixture, Slot } from './helpers.js';

let obj: BpfObject | undefined;

afterEach(() => {
  obj?.close();
  obj = undefined;
});

function load(): BpfObject {
  obj = openFixture().setConstant('record_cookie', 0xfeed).load();
  return obj;
}

/** Raw tracepoint arguments for rtp_perf (it reads none; the kernel wants a context). */
const RAW_TP_ARGS = Buffer.alloc(16);

/** Runs rtp_perf `times` times on `cpu`; each run writes one record to that CPU's perf buffer or fails. */
function emitOnCpu(o: BpfObject, cpu: number, times: number): void {
  const prog = o.program('rtp_perf');
  for (let i = 0; i < times; i++) prog.testRun(Buffer.alloc(0), { ctxIn: RAW_TP_ARGS, cpu });
}

describeKernel(
  'PerfBufferReader',
  () => {
    it('delivers every record once, with the CPU that wrote it, decoded with a struct layout', async () => {
      const o = load();
      const total = 5000;
      const seen = new Uint8Array(total);
      const cpus = possibleCpus();
      let decoded = 0;
      let problem: string | undefined;
      const reader = new PerfBufferReader(o.map('perf_events'), {
        maxBatch: 512,
        onBatch(batch: PerfRecordBatch) {
          expect(batch.cpus.length).toBe(batch.count);
          expect(batch.buffer.buffer).toBe(batch.cpus.buffer);
          for (let i = 0; i < batch.count; i++) {
            // The kernel pads each record so that it and its 4-byte size header fill a multiple of 8 bytes.
            const len = batch.lengths[i] ?? 0;
            if (len < Event.size || len >= Event.size + 8) problem ??= `record ${i} has length ${len}`;
            if ((batch.cpus[i] ?? cpus) >= cpus) problem ??= `record ${i} from CPU ${batch.cpus[i]}`;
          }
          Event.forEach(batch, (e) => {
            if (e.cookie !== 0xfeed || e.marker !== 0xabcd0123 || e.pktLen !== 64 || e.kind !== 9) {
              problem ??= JSON.stringify({ ...e, seq: String(e.seq) });
            }
            const seq = Number(e.seq);
            if (seq < total) seen[seq] = (seen[seq] ?? 0) + 1;
            else problem ??= `sequence ${seq} beyond ${total}`;
            decoded++;
          });
        },
      }).start();

      const prog = o.program('tc_perf');
      for (let done = 0; done < total; done += 500) prog.testRun(markedPacket(0xabcd0123), { repeat: 500 });
      await waitFor(() => decoded >= total, { description: `${total} records`, timeoutMs: 10_000 });
      reader.stop();

      expect(problem).toBeUndefined();
      expect(count(o, Slot.perfSent)).toBe(BigInt(total));
      expect(count(o, Slot.perfFailed)).toBe(0n);
      expect(decoded).toBe(total);
      expect(seen.every((n) => n === 1)).toBe(true);
      expect(reader.stats()).toMatchObject({ records: total, dropped: 0, lost: 0 });
    });

    it('with recycleBatches, delivers every record once and detaches each batch after onBatch', async () => {
      const o = load();
      const total = 3000;
      const seen = new Uint8Array(total);
      let decoded = 0;
      let kept: PerfRecordBatch | undefined;
      const reader = new PerfBufferReader(o.map('perf_events'), {
        maxBatch: 256,
        recycleBatches: true,
        onBatch(batch: PerfRecordBatch) {
          kept ??= batch;
          expect(batch.cpus.length).toBe(batch.count);
          Event.forEach(batch, (e) => {
            const seq = Number(e.seq);
            if (seq < total && e.cookie === 0xfeed) seen[seq] = (seen[seq] ?? 0) + 1;
            decoded++;
          });
        },
      }).start();
      const prog = o.program('tc_perf');
      for (let done = 0; done < total; done += 500) prog.testRun(markedPacket(0xabcd0123), { repeat: 500 });
      await waitFor(() => decoded >= total, { description: `${total} records`, timeoutMs: 10_000 });
      reader.stop();

      expect(decoded).toBe(total);
      expect(seen.every((n) => n === 1)).toBe(true);
      // Every view of a batch reads as empty once its onBatch has returned.
      expect(kept?.buffer.length).toBe(0);
      expect(kept?.cpus.length).toBe(0);
      expect(reader.stats()).toMatchObject({ records: total, dropped: 0, lost: 0 });
    });

    it('counts records the kernel could not write as lost (PERF_RECORD_LOST)', async () => {
      const o = load();
      let delivered = 0;
      // One page per CPU holds about a hundred records. The buffers exist from construction on, and nothing
      // drains them before start(): most of the thousand runs find CPU 0's buffer full.
      const reader = new PerfBufferReader(o.map('perf_events'), {
        pageCount: 1,
        onBatch: (batch) => {
          delivered += batch.count;
        },
      });
      emitOnCpu(o, 0, 1000);
      const sent = Number(count(o, Slot.perfSent));
      const failed = Number(count(o, Slot.perfFailed));
      expect(sent + failed).toBe(1000);
      expect(failed).toBeGreaterThan(0);

      reader.start();
      await waitFor(() => delivered === sent, { description: `the ${sent} records that fitted` });
      expect(reader.stats().lost).toBe(0);
      // The kernel writes the PERF_RECORD_LOST record ahead of the next record that fits.
      emitOnCpu(o, 0, 1);
      await waitFor(() => delivered === sent + 1, { description: 'the record after the loss' });
      reader.stop();
      expect(reader.stats()).toMatchObject({ records: sent + 1, lost: failed, dropped: 0 });
    });

    it("with whenQueueFull: 'pause' leaves records in the kernel buffer instead of dropping them", async () => {
      const o = load();
      let delivered = 0;
      let lastSeq = -1;
      let outOfOrder = 0;
      const reader = new PerfBufferReader(o.map('perf_events'), {
        pageCount: 1,
        maxBatch: 1,
        queueCapacity: 1,
        whenQueueFull: 'pause',
        onBatch: (batch) => {
          Event.forEach(batch, (e) => {
            if (Number(e.seq) <= lastSeq) outOfOrder++;
            lastSeq = Number(e.seq);
          });
          delivered += batch.count;
        },
      }).start();
      // JavaScript is busy in this loop: no batch can be handed over until it ends.
      emitOnCpu(o, 0, 1000);
      const sent = Number(count(o, Slot.perfSent));
      const failed = Number(count(o, Slot.perfFailed));
      await waitFor(() => delivered === sent, { description: `${sent} records`, timeoutMs: 10_000 });
      emitOnCpu(o, 0, 1);
      await waitFor(() => delivered === sent + 1, { description: 'the record after the loss' });
      reader.stop();
      expect(outOfOrder).toBe(0);
      expect(reader.stats()).toMatchObject({ records: sent + 1, dropped: 0, lost: failed });
    });

    it('with a wakeup interval still delivers the few records that never reach it', async () => {
      const o = load();
      let delivered = 0;
      const reader = new PerfBufferReader(o.map('perf_events'), {
        wakeupEvents: 64,
        onBatch: (batch) => {
          delivered += batch.count;
        },
      }).start();
      emitOnCpu(o, 0, 3);
      await waitFor(() => delivered === 3, { description: '3 records (fewer than the wakeup interval)' });
      reader.stop();
      expect(reader.stats()).toMatchObject({ records: 3, lost: 0, dropped: 0 });
    });

    it('rejects maps that are not perf event arrays and bad options', () => {
      const o = load();
      expect(() => new PerfBufferReader(o.map('events'), { onBatch: () => undefined })).toThrow(
        /needs a perf_event_array map; 'events' is ringbuf/,
      );
      expect(
        () => new PerfBufferReader(o.map('perf_events'), { onBatch: () => undefined, pageCount: 3 }),
      ).toThrow(/pageCount must be a power of two, got 3/);
      expect(
        () => new PerfBufferReader(o.map('perf_events'), { onBatch: () => undefined, wakeupEvents: 0 }),
      ).toThrow(/wakeupEvents must be a positive integer, got 0/);
      expect(
        () =>
          new PerfBufferReader(o.map('perf_events'), {
            onBatch: () => undefined,
            whenQueueFull: 'block' as never,
          }),
      ).toThrow(BpfError);
    });

    it("limits testRun's cpu option to raw tracepoints, which run once per call", () => {
      const o = load();
      expect(() => o.program('tc_perf').testRun(markedPacket(1), { cpu: 0 })).toThrow(
        /cpu applies to raw tracepoint programs only; 'tc_perf' is sched_cls/,
      );
      expect(() => o.program('rtp_perf').testRun(Buffer.alloc(0), { ctxIn: RAW_TP_ARGS, repeat: 2 })).toThrow(
        /run once per call/,
      );
      expect(() => o.program('rtp_perf').testRun(Buffer.alloc(0), { ctxIn: RAW_TP_ARGS, cpu: -1 })).toThrow(
        /cpu must be a non-negative integer/,
      );
    });

    it('stops with its object, and a stopped reader cannot restart', () => {
      const o = load();
      const reader = new PerfBufferReader(o.map('perf_events'), { onBatch: () => undefined }).start();
      expect(reader.running).toBe(true);
      o.close();
      expect(reader.running).toBe(false);
      expect(() => reader.start()).toThrow(/was stopped/);
    });
  },
  { requires: addonMissing },
);
