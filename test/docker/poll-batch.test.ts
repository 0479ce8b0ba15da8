// The requests of a batch of event polls, as the heartbeat writes them: the
// times are written in place into a shared buffer, so every digit must come
// out as Docker's `seconds.nanoseconds` text would, batch after batch.

import { describe, expect, it } from 'vitest';
import { pollBatch } from '../../src/docker/engine.js';

const FILTERS = encodeURIComponent('{"type":["container","image"]}');
const request = (since: string, until: string) => `GET /events?since=${since}&until=${until}&filters=${FILTERS} HTTP/1.1\r\nHost: docker\r\nUser-Agent: fog-heartbeat\r\n\r\n`;

describe('pollBatch', () => {
  it('four polls, each from the one before it (50 ms back) to its until, one period apart, in Docker time text', () => {
    const text = pollBatch(1_796_000_000_123, 1_796_000_004_000, 4_000).toString('latin1');
    expect(text).toBe(
      request('1796000000.073000000', '1796000004.000000000') +
        request('1796000003.950000000', '1796000008.000000000') +
        request('1796000007.950000000', '1796000012.000000000') +
        request('1796000011.950000000', '1796000016.000000000'),
    );
  });

  it('the next batch overwrites every digit of the last (the buffer is reused)', () => {
    pollBatch(1_999_999_999_999, 1_999_999_999_999 + 2_500, 2_500);
    const text = pollBatch(1_700_000_000_007, 1_700_000_000_100, 100).toString('latin1');
    expect(text).toBe(
      request('1699999999.957000000', '1700000000.100000000') +
        request('1700000000.050000000', '1700000000.200000000') +
        request('1700000000.150000000', '1700000000.300000000') +
        request('1700000000.250000000', '1700000000.400000000'),
    );
  });

  it('an engine clock whose seconds are not 10 digits (a box that booted in 1970) gets the same text, built as text', () => {
    const text = pollBatch(5_000, 7_000, 2_000).toString('latin1');
    expect(text).toBe(request('4.950000000', '7.000000000') + request('6.950000000', '9.000000000') + request('8.950000000', '11.000000000') + request('10.950000000', '13.000000000'));
  });
});
