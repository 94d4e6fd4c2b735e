// RingBufferReader fed by a TC program run with BPF_PROG_TEST_RUN: every record must arrive once, decoded.
import { describeKernel, waitFor } from '@retina-ts/testkit';
import { afterEach, expect, it } from 'vitest';

import { BpfError, readerQueues, RingBufferReader, type BpfObject, type RecordBatch } from '../src/index.js';
import { addonMissing, Event, markedPacket, openFixture } from './helpers.js';

let obj: BpfObject | undefined;

afterEach(() => {
  obj?.close();
  obj = undefined;
});

function load(): BpfObject {
  obj = openFixture().setConstant('record_cookie', 0xc0ffee).load();
  return obj;
}

describeKernel(
  'RingBufferReader',
  () => {
    it('delivers every record once, in batches of views into one buffer, decoded with a struct layout', async () => {
      const o = load();
      const total = 5000;
      const seen = new Uint8Array(total);
      const batchSizes: number[] = [];
      let decoded = 0;
      let badRecord: string | undefined;
      const reader = new RingBufferReader(o.map('events'), {
        maxBatch: 512,
        onBatch(batch: RecordBatch) {
          batchSizes.push(batch.count);
          expect(batch.offsets.length).toBe(batch.count);
          expect(batch.buffer.buffer).toBe(batch.offsets.buffer);
          for (const e of Event.decodeBatch(batch)) {
            if (e.cookie !== 0xc0ffee || e.marker !== 0xabcd0123 || e.pktLen !== 64 || e.kind !== 7) {
              badRecord ??= JSON.stringify({ ...e, seq: String(e.seq) });
            }
            const seq = Number(e.seq);
            if (seq < total) seen[seq] = (seen[seq] ?? 0) + 1;
            else badRecord ??= `sequence ${seq} beyond ${total}`;
            decoded++;
          }
        },
      }).start();

      const prog = o.program('tc_ringbuf');
      for (let done = 0; done < total; done += 1000) prog.testRun(markedPacket(0xabcd0123), { repeat: 1000 });
      await waitFor(() => decoded >= total, { description: `${total} records`, timeoutMs: 10_000 });
      reader.stop();

      expect(badRecord).toBeUndefined();
      expect(decoded).toBe(total);
      expect(seen.every((n) => n === 1)).toBe(true);
      expect(Math.max(...batchSizes)).toBeLessThanOrEqual(512);
      expect(reader.stats()).toMatchObject({ records: total, batches: batchSizes.length, dropped: 0 });
    });

    it('lists a running reader in readerQueues() with what it read, delivered and holds, until it stops', async () => {
      const o = load();
      let delivered = 0;
      const reader = new RingBufferReader(o.map('events'), { onBatch: (b) => void (delivered += b.count) }).start();
      const mine = () => readerQueues().filter((q) => q.map === 'events');
      expect(mine()).toEqual([{ kind: 'ring buffer', map: 'events', read: 0, delivered: 0, dropped: 0, queued: 0 }]);
      o.program('tc_ringbuf').testRun(markedPacket(0xabcd0123), { repeat: 100 });
      await waitFor(() => delivered >= 100, { description: '100 records', timeoutMs: 10_000 });
      expect(mine()).toEqual([{ kind: 'ring buffer', map: 'events', read: 100, delivered: 100, dropped: 0, queued: 0 }]);
      reader.stop();
      expect(mine()).toEqual([]);
    });

    it('counts records as dropped instead of blocking when JavaScript does not keep up', async () => {
      const o = load();
      let delivered = 0;
      // One record per batch, one batch may wait: at most two records can be held for a busy JS thread.
      const reader = new RingBufferReader(o.map('events'), {
        maxBatch: 1,
        queueCapacity: 1,
        onBatch: (batch) => {
          delivered += batch.count;
        },
      }).start();
      o.program('tc_ringbuf').testRun(markedPacket(1), { repeat: 1000 });
      // Keep the JS thread busy (no batch can be handed back) until the poller has drained the ring.
      const deadline = Date.now() + 10_000;
      while (reader.stats().dropped < 998 && Date.now() < deadline) {
        // spin
      }
      expect(reader.stats().dropped).toBe(998);
      await waitFor(() => delivered === 2, { description: 'the two queued records' });
      reader.stop();
      expect(reader.stats()).toMatchObject({ records: 2, batches: 2, dropped: 998 });
    });

    it("with whenQueueFull: 'pause' leaves records in the ring instead of dropping them", async () => {
      const o = load();
      const seqs: number[] = [];
      const reader = new RingBufferReader(o.map('events'), {
        maxBatch: 1,
        queueCapacity: 1,
        whenQueueFull: 'pause',
        onBatch: (batch) => Event.forEach(batch, (e) => seqs.push(Number(e.seq))),
      }).start();
      o.program('tc_ringbuf').testRun(markedPacket(1), { repeat: 1000 });
      // Keep the JS thread busy a while: the thread takes two records, then must leave the rest in the ring.
      const until = Date.now() + 100;
      while (Date.now() < until) {
        // spin
      }
      expect(reader.stats().dropped).toBe(0);
      await waitFor(() => seqs.length === 1000, { description: '1000 records', timeoutMs: 10_000 });
      reader.stop();
      expect(seqs).toEqual(Array.from({ length: 1000 }, (_, i) => i));
      expect(reader.stats()).toMatchObject({ records: 1000, batches: 1000, dropped: 0 });
    });

    it('with recycleBatches, delivers every record once across ring wrap-arounds and detaches each batch after onBatch', async () => {
      const o = load();
      // 30,000 records of 40 bytes (with the ring's header) pass through a 256 KiB ring: it wraps around 4 times.
      const total = 30_000;
      let next = 0;
      let badRecord: string | undefined;
      let kept: RecordBatch | undefined;
      let keptLength = 0;
      const reader = new RingBufferReader(o.map('events'), {
        maxBatch: 512,
        recycleBatches: true,
        onBatch(batch) {
          if (kept === undefined) {
            kept = batch;
            keptLength = batch.buffer.length;
          }
          Event.forEach(batch, (e) => {
            if (Number(e.seq) !== next || e.cookie !== 0xc0ffee || e.marker !== 0xabcd0123) {
              badRecord ??= JSON.stringify({ ...e, seq: String(e.seq), expected: next });
            }
            next++;
          });
        },
      }).start();
      const prog = o.program('tc_ringbuf');
      // 5000 records (200 KB) at a time: one drain crosses several 64 KiB steps at which the reader frees space.
      for (let done = 0; done < total; done += 5000) {
        prog.testRun(markedPacket(0xabcd0123), { repeat: 5000 });
        await waitFor(() => next >= done + 5000, { description: `${done + 5000} records`, timeoutMs: 10_000 });
      }
      reader.stop();

      expect(badRecord).toBeUndefined();
      expect(next).toBe(total);
      expect(reader.stats()).toMatchObject({ records: total, dropped: 0 });
      // The first batch's memory went back to the reader when its onBatch returned: every view of it is empty.
      expect(keptLength).toBeGreaterThan(0);
      expect(kept?.buffer.length).toBe(0);
      expect(kept?.offsets.length).toBe(0);
    });

    it('skips records the program reserved and then discarded', async () => {
      const o = load();
      const seqs: number[] = [];
      const reader = new RingBufferReader(o.map('events'), {
        onBatch: (batch) => Event.forEach(batch, (e) => seqs.push(Number(e.seq))),
      }).start();
      const prog = o.program('tc_ringbuf');
      for (let i = 0; i < 5; i++) {
        prog.testRun(markedPacket(0xd15ca4d0), { repeat: 100 });
        prog.testRun(markedPacket(1), { repeat: 100 });
      }
      await waitFor(() => seqs.length >= 500, { description: '500 records', timeoutMs: 10_000 });
      reader.stop();
      expect(seqs).toEqual(Array.from({ length: 500 }, (_, i) => i));
      expect(reader.stats()).toMatchObject({ records: 500, dropped: 0 });
    });

    it('stop() is idempotent, a stopped reader cannot restart, and closing the object stops readers', () => {
      const o = load();
      const reader = new RingBufferReader(o.map('events'), { onBatch: () => undefined }).start();
      expect(reader.running).toBe(true);
      reader.stop();
      reader.stop();
      expect(reader.running).toBe(false);
      expect(() => reader.start()).toThrow(/was stopped/);

      const second = new RingBufferReader(o.map('events'), { onBatch: () => undefined }).start();
      o.close();
      expect(second.running).toBe(false);
    });

    it('rejects maps that are not ring buffers and bad options', () => {
      const o = load();
      expect(() => new RingBufferReader(o.map('kv'), { onBatch: () => undefined })).toThrow(
        /needs a ringbuf map; 'kv' is hash/,
      );
      expect(() => new RingBufferReader(o.map('events'), { onBatch: () => undefined, maxBatch: 0 })).toThrow(
        BpfError,
      );
      expect(
        () => new RingBufferReader(o.map('events'), { onBatch: () => undefined, recycleBatches: 'yes' as never }),
      ).toThrow(/recycleBatches must be a boolean, got yes/);
    });
  },
  { requires: addonMissing },
);
