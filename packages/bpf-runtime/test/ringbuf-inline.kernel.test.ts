// RingBufferReader with mode 'inline': the JS thread walks the ring's own memory. Fed by a TC program run with
// BPF_PROG_TEST_RUN; every record must arrive exactly once and in order, and what the reader has not taken must
// stay in the ring.
import { describeKernel, waitFor } from '@retina-ts/testkit';
import { afterEach, expect, it } from 'vitest';

import { BpfError, readerQueues, RingBufferReader, type BpfObject, type RecordBatch } from '../src/index.js';
import { addonMissing, Event, markedPacket, openFixture } from './helpers.js';

let obj: BpfObject | undefined;
const readers: RingBufferReader[] = [];

afterEach(() => {
  for (const r of readers.splice(0)) r.stop();
  obj?.close();
  obj = undefined;
});

function load(): BpfObject {
  obj = openFixture().setConstant('record_cookie', 0xc0ffee).load();
  return obj;
}

/** An inline reader that checks every record's fields and collects sequence numbers. */
function collect(
  o: BpfObject,
  maxBatch?: number,
): { reader: RingBufferReader; seqs: number[]; bad: string[] } {
  const seqs: number[] = [];
  const bad: string[] = [];
  const reader = new RingBufferReader(o.map('events'), {
    mode: 'inline',
    ...(maxBatch === undefined ? {} : { maxBatch }),
    onBatch: (batch) =>
      Event.forEach(batch, (e) => {
        if (e.cookie !== 0xc0ffee || e.kind !== 7 || e.pktLen !== 64)
          bad.push(JSON.stringify({ ...e, seq: 0 }));
        seqs.push(Number(e.seq));
      }),
  });
  readers.push(reader);
  return { reader, seqs, bad };
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

describeKernel(
  'RingBufferReader, inline mode',
  () => {
    it('delivers every record once and in order across ring wrap-arounds, with exact counts', async () => {
      const o = load();
      // 30,000 records of 32 bytes (with the ring's header) pass through a 256 KiB ring: it wraps around 3 times.
      const total = 30_000;
      const { reader, seqs, bad } = collect(o, 512);
      const spy = new RingBufferReader(o.map('events'), { mode: 'inline', onBatch: () => undefined });
      spy.stop(); // a reader that never started takes nothing
      reader.start();
      const prog = o.program('tc_ringbuf');
      for (let done = 0; done < total; done += 5000) {
        prog.testRun(markedPacket(0xabcd0123), { repeat: 5000 });
        await waitFor(() => seqs.length >= done + 5000, {
          description: `${done + 5000} records`,
          timeoutMs: 10_000,
        });
      }
      reader.stop();
      expect(bad).toEqual([]);
      expect(seqs).toEqual(range(0, total));
      const s = reader.stats();
      expect(s).toMatchObject({ records: total, dropped: 0, bytes: total * Event.size });
      expect(s.batches).toBeGreaterThanOrEqual(total / 512);
    });

    it('hands onBatch views into the ring itself, valid during the call and empty once the reader stops', async () => {
      const o = load();
      let kept: RecordBatch | undefined;
      let count = 0;
      let maxCount = 0;
      const reader = new RingBufferReader(o.map('events'), {
        mode: 'inline',
        maxBatch: 64,
        onBatch(batch) {
          kept ??= batch;
          expect(batch.offsets.length).toBe(batch.count);
          expect(batch.lengths.every((n) => n === Event.size)).toBe(true);
          // The data area is the ring mapped twice: twice the map's size.
          expect(batch.buffer.length).toBe(2 * 256 * 1024);
          maxCount = Math.max(maxCount, batch.count);
          count += batch.count;
        },
      }).start();
      readers.push(reader);
      o.program('tc_ringbuf').testRun(markedPacket(1), { repeat: 1000 });
      await waitFor(() => count === 1000, { description: '1000 records' });
      expect(maxCount).toBeLessThanOrEqual(64);
      expect(readerQueues().filter((q) => q.map === 'events')).toEqual([
        { kind: 'ring buffer', map: 'events', read: 1000, delivered: 1000, dropped: 0, queued: 0 },
      ]);
      reader.stop();
      expect(kept?.buffer.length).toBe(0);
    });

    it('skips records the program reserved and then discarded', async () => {
      const o = load();
      const { reader, seqs } = collect(o);
      reader.start();
      const prog = o.program('tc_ringbuf');
      for (let i = 0; i < 5; i++) {
        prog.testRun(markedPacket(0xd15ca4d0), { repeat: 100 });
        prog.testRun(markedPacket(1), { repeat: 100 });
      }
      await waitFor(() => seqs.length >= 500, { description: '500 records', timeoutMs: 10_000 });
      reader.stop();
      expect(seqs).toEqual(range(0, 500));
      expect(reader.stats()).toMatchObject({ records: 500, dropped: 0 });
    });

    it('leaves records in the ring while JavaScript is busy, and what the ring cannot hold is lost in the kernel', async () => {
      const o = load();
      const { reader, seqs } = collect(o);
      reader.start();
      const prog = o.program('tc_ringbuf');
      // 10,000 records into a 256 KiB ring while the JS thread is busy here: what fits stays (the kernel keeps the
      // ring one byte short of full), the producer's reservation fails for the rest (the program drops the packet).
      const step = (Event.size + 8 + 7) & ~7;
      const fits = Math.floor((256 * 1024 - 1) / step);
      let refused = 0;
      for (let i = 0; i < 10_000; i++) if (prog.testRun(markedPacket(1)).retval !== 0) refused++;
      expect(reader.stats()).toMatchObject({ records: 0, dropped: 0 });
      expect(refused).toBe(10_000 - fits);
      await waitFor(() => seqs.length === fits, { description: `${fits} records` });
      // With the ring drained, the producer has room again.
      prog.testRun(markedPacket(1), { repeat: 10 });
      await waitFor(() => seqs.length === fits + 10, { description: 'ten more records' });
      reader.stop();
      expect(seqs).toEqual(range(0, fits + 10));
      expect(reader.stats()).toMatchObject({ records: fits + 10, dropped: 0 });
    });

    it('stopped with records pending, leaves them in the ring for the next reader', async () => {
      const o = load();
      const first = collect(o);
      first.reader.start();
      o.program('tc_ringbuf').testRun(markedPacket(1), { repeat: 1000 });
      first.reader.stop();
      expect(first.reader.stats()).toMatchObject({ records: 0, dropped: 0 });

      // This one stops itself inside its second batch: that batch counts as taken, the rest stays in the ring.
      const second: number[] = [];
      const stopper: RingBufferReader = new RingBufferReader(o.map('events'), {
        mode: 'inline',
        maxBatch: 100,
        onBatch(batch) {
          Event.forEach(batch, (e) => second.push(Number(e.seq)));
          if (second.length >= 200) stopper.stop();
        },
      }).start();
      readers.push(stopper);
      await waitFor(() => !stopper.running, { description: 'the reader stopping itself' });
      expect(second).toEqual(range(0, 200));
      expect(stopper.stats()).toMatchObject({ records: 200, batches: 2, dropped: 0 });

      const third = collect(o);
      third.reader.start();
      await waitFor(() => third.seqs.length === 800, { description: 'the 800 records left' });
      expect(third.seqs).toEqual(range(200, 1000));
    });

    it('stop() is idempotent, a stopped reader cannot restart, and closing the object stops readers', () => {
      const o = load();
      const reader = new RingBufferReader(o.map('events'), {
        mode: 'inline',
        onBatch: () => undefined,
      }).start();
      expect(reader.running).toBe(true);
      reader.stop();
      reader.stop();
      expect(reader.running).toBe(false);
      expect(() => reader.start()).toThrow(/was stopped/);

      const second = new RingBufferReader(o.map('events'), {
        mode: 'inline',
        onBatch: () => undefined,
      }).start();
      const map = o.map('events');
      o.close();
      obj = undefined;
      expect(second.running).toBe(false);
      // A reader on the closed map is refused with the map's state named.
      expect(() => new RingBufferReader(map, { mode: 'inline', onBatch: () => undefined })).toThrow(
        /closed|open/,
      );
    });

    it('rejects bad options, naming them', () => {
      const o = load();
      expect(
        () => new RingBufferReader(o.map('events'), { mode: 'fast' as never, onBatch: () => undefined }),
      ).toThrow(/mode must be 'thread' or 'inline', got fast/);
      expect(
        () =>
          new RingBufferReader(o.map('events'), {
            mode: 'inline',
            whenQueueFull: 'drop',
            onBatch: () => undefined,
          }),
      ).toThrow(BpfError);
      expect(
        () =>
          new RingBufferReader(o.map('events'), { mode: 'inline', maxBatch: -1, onBatch: () => undefined }),
      ).toThrow(/maxBatch must be a positive integer, got -1/);
      expect(() => new RingBufferReader(o.map('kv'), { mode: 'inline', onBatch: () => undefined })).toThrow(
        /needs a ringbuf map; 'kv' is hash/,
      );
    });
  },
  { requires: addonMissing },
);
