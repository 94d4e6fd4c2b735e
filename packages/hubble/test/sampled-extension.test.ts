import { describe, expect, it } from 'vitest';
import { extensionFields } from '../src/index.js';

describe('the sample_rate extension key', () => {
  it('is written for a record kept by cpuBudget sampling, beside the Retina keys', () => {
    expect(extensionFields({ bytes: 64, sampleRate: 32 })).toEqual({
      bytes: { numberValue: 64 },
      sample_rate: { numberValue: 32 },
    });
  });

  it('is left out for records that were not sampled', () => {
    expect(extensionFields({ bytes: 64 })).toEqual({ bytes: { numberValue: 64 } });
    expect(extensionFields({ bytes: 64, sampleRate: 1 })).toEqual({ bytes: { numberValue: 64 } });
  });
});
