import { describe, expect, it } from 'vitest';
import { DEFAULT_OPERATOR_CONFIG, parseOperatorConfig } from '../src/index.js';

describe('operator configuration', () => {
  it('reads Retina operator-config.yaml keys and ignores the rest', () => {
    expect(
      parseOperatorConfig(
        'installCRDs: true\nenableTelemetry: false\ncaptureDebug: true\ncaptureJobNumLimit: 3\ncaptureHostPathBaseDir: /data/captures/\nlogLevel: debug\n',
      ),
    ).toEqual({
      captureJobNumLimit: 3,
      captureHostPathBaseDir: '/data/captures',
      captureDebug: true,
      logLevel: 'debug',
      installCRDs: true,
      remoteContext: false,
      enableRetinaEndpoint: true,
    });
    expect(parseOperatorConfig('remoteContext: true\nenableRetinaEndpoint: "false"\n')).toMatchObject({
      installCRDs: false,
      remoteContext: true,
      enableRetinaEndpoint: false,
    });
    expect(parseOperatorConfig('')).toEqual(DEFAULT_OPERATOR_CONFIG);
  });

  it.each([
    ['captureJobNumLimit: -1', /captureJobNumLimit "-1" must be a non-negative integer/],
    ['captureHostPathBaseDir: relative', /captureHostPathBaseDir "relative" must be an absolute path/],
    ['logLevel: loud', /logLevel "loud"/],
    ['- a list', /expected a mapping/],
    ['remoteContext: yes please', /remoteContext "yes please" must be true or false/],
    ['a: [', /not valid YAML/],
  ])('rejects %j', (text, message) => {
    expect(() => parseOperatorConfig(text, 'cfg.yaml')).toThrow(message);
  });
});
