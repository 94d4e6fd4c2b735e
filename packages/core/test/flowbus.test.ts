import { describe, expect, it } from 'vitest';
import { createMetricsModule, FlowBus, type Flow } from '../src/index.js';
import { captureLogger, flowBetween } from './helpers.js';

const nextTurn = () => new Promise<void>((r) => setImmediate(r));
async function settle(bus: FlowBus): Promise<void> {
  while (bus.size > 0) await nextTurn();
  await nextTurn();
}

describe('FlowBus', () => {
  it('drops and counts when full, never growing beyond capacity', async () => {
    const metrics = createMetricsModule();
    const bus = new FlowBus({ capacity: 4, metrics });
    const results = Array.from({ length: 10 }, (_, i) => bus.publish(flowBetween('10.0.0.1', `10.0.0.${i}`)));
    expect(results).toEqual([true, true, true, true, false, false, false, false, false, false]);
    expect(bus.size).toBe(4);
    expect(bus.dropped).toBe(6);
    const { body } = await metrics.expose();
    expect(body).toContain('controlplane_networkobservability_lost_events_counter{type="buffered_channel",reason="flowbus"} 6\n');
  });

  it('delivers in order, in batches, asynchronously', async () => {
    const bus = new FlowBus({ capacity: 100, maxBatch: 3 });
    const batches: Flow[][] = [];
    bus.subscribe((flows) => batches.push([...flows]));
    for (let i = 0; i < 7; i++) bus.publish(flowBetween('10.0.0.1', `10.0.0.${i}`));
    expect(batches).toEqual([]);
    await settle(bus);
    expect(batches.map((b) => b.length)).toEqual([3, 3, 1]);
    expect(batches.flat().map((f) => f.ip?.destination)).toEqual(Array.from({ length: 7 }, (_, i) => `10.0.0.${i}`));
  });

  it('delivers in one turn what was queued before it, and later flows in the next', async () => {
    const bus = new FlowBus({ capacity: 100, maxBatch: 4 });
    const batches: number[] = [];
    let republished = false;
    bus.subscribe((flows) => {
      batches.push(flows.length);
      // A flow published during delivery (as a reader callback might) waits for the next turn.
      if (!republished) {
        republished = true;
        bus.publish(flowBetween('10.0.0.9', '10.0.0.10'));
      }
    });
    for (let i = 0; i < 10; i++) bus.publish(flowBetween('10.0.0.1', `10.0.1.${i}`));
    await nextTurn();
    expect(batches).toEqual([4, 4, 2]);
    expect(bus.size).toBe(1);
    await nextTurn();
    expect(batches).toEqual([4, 4, 2, 1]);
    expect(bus.size).toBe(0);
  });

  it('wraps around the ring after draining', async () => {
    const bus = new FlowBus({ capacity: 3 });
    const seen: string[] = [];
    bus.subscribe((flows) => seen.push(...flows.map((f) => f.ip?.destination ?? '')));
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 3; i++) expect(bus.publish(flowBetween('10.0.0.1', `10.0.${round}.${i}`))).toBe(true);
      await settle(bus);
    }
    expect(seen).toHaveLength(12);
    expect(seen.at(-1)).toBe('10.0.3.2');
    expect(bus.dropped).toBe(0);
  });

  it('keeps delivering to other subscribers when one throws, and logs it', async () => {
    const { logger, lines } = captureLogger();
    const bus = new FlowBus({ capacity: 10, logger });
    const got: number[] = [];
    bus.subscribe(() => {
      throw new Error('bad subscriber');
    });
    bus.subscribe((flows) => got.push(flows.length));
    bus.publish(flowBetween('10.0.0.1', '10.0.0.2'));
    await settle(bus);
    bus.publish(flowBetween('10.0.0.1', '10.0.0.3'));
    await settle(bus);
    expect(got).toEqual([1, 1]);
    expect(lines.filter((l) => l['msg'] === 'flow subscriber threw; other subscribers still received the batch')).toHaveLength(2);
  });

  it('holds flows until the first subscriber arrives; unsubscribe stops delivery', async () => {
    const bus = new FlowBus({ capacity: 10 });
    bus.publish(flowBetween('10.0.0.1', '10.0.0.2'));
    await nextTurn();
    expect(bus.size).toBe(1);
    const got: Flow[] = [];
    const off = bus.subscribe((flows) => got.push(...flows));
    await settle(bus);
    expect(got).toHaveLength(1);
    off();
    bus.publish(flowBetween('10.0.0.1', '10.0.0.3'));
    await nextTurn();
    expect(got).toHaveLength(1);
  });

  it('close delivers what is queued and then refuses flows', () => {
    const bus = new FlowBus({ capacity: 10 });
    const got: Flow[] = [];
    bus.subscribe((flows) => got.push(...flows));
    bus.publish(flowBetween('10.0.0.1', '10.0.0.2'));
    bus.close();
    expect(got).toHaveLength(1);
    expect(bus.publish(flowBetween('10.0.0.1', '10.0.0.2'))).toBe(false);
    expect(bus.dropped).toBe(0);
  });

  it('rejects a bad capacity', () => {
    expect(() => new FlowBus({ capacity: 0 })).toThrow('FlowBus: capacity 0 must be a positive integer');
  });
});
