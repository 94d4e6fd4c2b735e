import { describe, expect, it } from 'vitest';
import { FlowType, IpVersion, TrafficDirection, Verdict } from '../src/index.js';
import { createTestContext, flowBetween, startTestPlugin } from '../src/testing.js';
import type { Plugin } from '../src/index.js';

const flow = flowBetween('10.0.0.1', '10.0.0.2', { nodeName: 'test-node' });

describe('flowBetween', () => {
  it('builds a forwarded egress L3/L4 flow, IPv4 or IPv6 by the source address, with extra fields on top', () => {
    expect(flow).toEqual({
      timeNs: 1n,
      verdict: Verdict.FORWARDED,
      type: FlowType.L3_L4,
      nodeName: 'test-node',
      trafficDirection: TrafficDirection.EGRESS,
      ip: { source: '10.0.0.1', destination: '10.0.0.2', ipVersion: IpVersion.IPv4 },
    });
    expect(flowBetween('fd00::1', 'fd00::2').ip?.ipVersion).toBe(IpVersion.IPv6);
    expect(flowBetween('10.0.0.1', '10.0.0.2', { verdict: Verdict.DROPPED }).verdict).toBe(Verdict.DROPPED);
  });
});

describe('createTestContext', () => {
  it('builds a context from defaults', () => {
    const { ctx, metrics, ipCache } = createTestContext({ name: 'dns' });
    expect(ctx.name).toBe('dns');
    expect(ctx.options).toEqual({});
    expect(ctx.nodeName).toBe('test-node');
    expect(ctx.config.enablePodLevel).toBe(false);
    expect(ctx.metrics).toBe(metrics);
    expect(ctx.ipCache).toBe(ipCache);
  });

  it('passes options, config, platform and node name through', () => {
    const { ctx } = createTestContext({
      name: 'hnsstats',
      options: { concurrency: 2 },
      config: { enablePodLevel: true },
      configOptions: { platform: 'win32' },
      nodeName: 'akswin000001',
    });
    expect(ctx.options).toEqual({ concurrency: 2 });
    expect(ctx.config.enablePodLevel).toBe(true);
    expect(ctx.nodeName).toBe('akswin000001');
  });

  it('captures log lines with the plugin name, from the chosen level up', () => {
    const debug = createTestContext({ name: 'dns' });
    debug.ctx.logger.debug({ port: 53 }, 'listening');
    expect(debug.logs).toEqual([expect.objectContaining({ level: 'debug', msg: 'listening', plugin: 'dns', port: 53 })]);

    const quiet = createTestContext({ name: 'dns', logLevel: 'warn' });
    quiet.ctx.logger.info('not kept');
    quiet.ctx.logger.warn('kept');
    expect(quiet.logs.map((l) => l.msg)).toEqual(['kept']);
  });

  it('captures emitted flows and accepts each one', () => {
    const { ctx, flows } = createTestContext({ name: 'dns' });
    expect(ctx.emit(flow)).toBe(true);
    expect(flows).toEqual([flow]);
  });
});

/** A plugin that records its lifecycle calls; start settles when aborted (or fails, when told to). */
function recordingPlugin(failInit = false, failStart = false): Plugin & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    init() {
      calls.push('init');
      if (failInit) throw new Error('init refused');
    },
    start(signal) {
      calls.push('start');
      if (failStart) return Promise.reject(new Error('start crashed'));
      return new Promise((resolve) =>
        signal.addEventListener('abort', () => {
          calls.push('start settled');
          resolve();
        }),
      );
    },
    stop() {
      calls.push('stop');
    },
  };
}

describe('startTestPlugin', () => {
  it('inits and starts; stop aborts start, waits for it, then stops, once', async () => {
    const plugin = recordingPlugin();
    const started = await startTestPlugin(plugin, createTestContext({ name: 'x' }).ctx);
    expect(plugin.calls).toEqual(['init', 'start']);
    await Promise.all([started.stop(), started.stop()]);
    await started.stop();
    expect(plugin.calls).toEqual(['init', 'start', 'start settled', 'stop']);
  });

  it('stops the plugin when init fails, and rethrows', async () => {
    const plugin = recordingPlugin(true);
    await expect(startTestPlugin(plugin, createTestContext({ name: 'x' }).ctx)).rejects.toThrow('init refused');
    expect(plugin.calls).toEqual(['init', 'stop']);
  });

  it('still stops the plugin when start failed, and reports the failure', async () => {
    const plugin = recordingPlugin(false, true);
    const started = await startTestPlugin(plugin, createTestContext({ name: 'x' }).ctx);
    await expect(started.stop()).rejects.toThrow('start crashed');
    expect(plugin.calls).toEqual(['init', 'start', 'stop']);
  });
});
