// How an engine's refusal becomes an action's outcome: the failure code and
// whether trying the same action again may help.

import { describe, expect, it } from 'vitest';
import { classify } from '../../src/apply/executor.js';
import { EngineError } from '../../src/docker/engine.js';

// The engines' own words (from a flapping-daemon run), and what each failure means for the next try.
describe('classify', () => {
  const http = (message: string, status = 500) => classify(new EngineError('http', message, status));
  it.each([
    ['task af64b479c04a1cc8783bb16a5230b59471a09cb60a031359b8a2904227ee72d9: already exists', 'container-stale', true],
    ['endpoint with name nodes_move-0-7eeed65b already exists in network none', 'container-stale', true],
    ['grpc: the client connection is closing: context canceled', 'engine-error', true],
    ['Bind for 0.0.0.0:8080 failed: port is already allocated', 'port-in-use', false],
    ['error gathering device information while adding custom device "/dev/ttyUSB0": no such file or directory', 'device-not-found', false],
  ])('%s → %s', (message, code, retryable) => {
    expect(http(message)).toMatchObject({ code, retryable });
  });
  it('keeps a name taken by another container a conflict (409), not stale state', () => {
    expect(http('Conflict. The container name "/x" is already in use by container "abc"', 409)).toMatchObject({ code: 'name-conflict', retryable: false });
  });
});
