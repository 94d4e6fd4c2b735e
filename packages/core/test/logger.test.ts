import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { createLogger, toPinoLevel } from '../src/index.js';

function sink(): { stream: Writable; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { stream, lines };
}

describe('createLogger', () => {
  it('writes one JSON object per line with ISO time, level name, name and child bindings', () => {
    const { stream, lines } = sink();
    const logger = createLogger({ level: 'info', name: 'retina-agent', destination: stream });
    logger.debug('hidden');
    logger.child({ plugin: 'dns' }).warn({ drops: 3 }, 'queue full');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'warn', name: 'retina-agent', plugin: 'dns', drops: 3, msg: 'queue full' });
    expect(new Date(lines[0]?.['time'] as string).toISOString()).toBe(lines[0]?.['time']);
  });

  it('maps Retina level names', () => {
    expect(toPinoLevel('panic')).toBe('fatal');
    expect(toPinoLevel('dpanic')).toBe('fatal');
    expect(toPinoLevel('debug')).toBe('debug');
    const { stream, lines } = sink();
    const logger = createLogger({ level: 'panic', destination: stream });
    logger.error('not shown');
    logger.fatal('shown');
    expect(lines.map((l) => l['msg'])).toEqual(['shown']);
  });
});
