import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { matchesPattern, wildcardMatch } from '../../src/shared/layout';

describe('layout source pattern wildcards', () => {
  it('match * and ? as globs, literally otherwise', () => {
    const cases: Array<[string, string, boolean]> = [
      ['*', '', true],
      ['*', 'abc', true],
      ['?', '', false],
      ['?', 'a', true],
      ['a*c', 'abbbc', true],
      ['a*c', 'abbbd', false],
      ['a?c', 'abc', true],
      ['a?c', 'ac', false],
      ['*b*', 'abc', true],
      ['*.webm', 'cam.webm', true],
      ['*.webm', 'camxwebm', false],
      ['a.c', 'abc', false],
      ['(x)+', '(x)+', true],
      ['[ab]', 'a', false],
      ['**a**', 'a', true],
      ['a*b*c', 'aXbYbZc', true],
      ['a*b*c', 'aXcYb', false],
      ['', '', true],
      ['', 'a', false],
    ];
    for (const [glob, text, expected] of cases)
      assert.equal(wildcardMatch(glob, text), expected, `${glob} vs ${text}`);
  });

  it('answer the worst cases of a backtracking regex at once', () => {
    const id = 'a'.repeat(199) + 'b';
    const worst = [
      '*?'.repeat(15) + 'c',
      '*a'.repeat(30) + 'c',
      '?*'.repeat(100) + 'c',
      'a*'.repeat(30) + 'c',
    ];
    const started = process.hrtime.bigint();
    for (const glob of worst) {
      assert.equal(wildcardMatch(glob, id), false);
      assert.equal(matchesPattern(`stream:${glob}`, { streamId: id }), false);
      assert.equal(matchesPattern(`data:${glob}`, { streamId: 'x', connectionData: id }), false);
    }
    assert.equal(wildcardMatch('*?'.repeat(15) + 'b', id), true);
    // Generous bound: a backtracking regex takes minutes on these; this takes microseconds.
    assert.ok(process.hrtime.bigint() - started < 2_000_000_000n);
  });
});
