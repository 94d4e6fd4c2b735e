import { describe, expect, it } from 'vitest';
import { ApiException } from '@kubernetes/client-node';
import { describeError, httpStatusOf } from '../src/index.js';

describe('describeError', () => {
  it('uses the Status message of API errors and adds a hint', () => {
    const err = new ApiException(403, 'Forbidden', JSON.stringify({ kind: 'Status', message: 'pods is forbidden: User "x" cannot list' }), {});
    expect(httpStatusOf(err)).toBe(403);
    expect(describeError('pods', err)).toBe(
      "pods: HTTP 403 pods is forbidden: User \"x\" cannot list (the agent's ClusterRole lacks this permission: grant get/list/watch on the resource)",
    );
  });

  it('reads the status of watch errors and says when the server is unreachable', () => {
    expect(describeError('pods', Object.assign(new Error('Gone'), { statusCode: 410 }))).toMatch(/^pods: HTTP 410 Gone \(the resourceVersion is too old/);
    const refused = Object.assign(new Error('request to http://127.0.0.1:1/api failed'), { code: 'ECONNREFUSED' });
    expect(describeError('nodes', refused)).toBe('nodes: API server unreachable (ECONNREFUSED): request to http://127.0.0.1:1/api failed; retrying with backoff');
    expect(describeError('x', 'plain')).toBe('x: plain');
  });
});
