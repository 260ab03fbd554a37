import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { closest, wrapped } from '../../src/main/util/wrapped';

describe('wrapped numbers (RTP sequence numbers and timestamps)', () => {
  it('finds the unwrapped value nearest the reference, across the wrap and below zero', () => {
    const period = 65536;
    assert.equal(closest(1, 16 * period + 65534, period), 17 * period + 1, 'forward across the wrap');
    assert.equal(closest(65535, 17 * period + 2, period), 16 * period + 65535, 'back across the wrap');
    assert.equal(closest(5, 16 * period + 5 + period / 2, period), 16 * period + 5, 'half a period: its own');
    // A negative reference: the nearest, not merely one period off (65000 ≡ −536 ≡ −66072).
    assert.equal(closest(65000, -40000, period), -66072);
    assert.equal(closest(3, -1, period), 3);
    assert.equal(closest(0xfffffff0, 16 * 2 ** 32 + 5, 2 ** 32), 16 * 2 ** 32 - 16, 'timestamps');
  });

  it('takes a value mod the period in [0, period), also below zero', () => {
    assert.equal(wrapped(-1, 65536), 65535);
    assert.equal(wrapped(-65536 * 3 + 7, 65536), 7);
    assert.equal(wrapped(65536 * 20 + 9, 65536), 9);
  });
});
