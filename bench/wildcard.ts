/**
 * Layout source patterns against long ids: the time for 30 wildcards against a 200-character
 * id that almost matches (the worst case of a backtracking regex). Prints one JSON line.
 */
import { performance } from 'node:perf_hooks';
import { wildcardMatch } from '../src/shared/layout';

const id = 'a'.repeat(199) + 'b';
const glob = '*?'.repeat(15) + 'c';
const runs = 1000;
const start = performance.now();
let matched = 0;
for (let i = 0; i < runs; i++) if (wildcardMatch(glob, id)) matched++;
const perMatchUs = ((performance.now() - start) * 1000) / runs;
console.log(
  JSON.stringify({
    bench: 'wildcard',
    wildcards: (glob.match(/[*?]/g) ?? []).length,
    idLength: id.length,
    matched,
    perMatchUs: Math.round(perMatchUs * 10) / 10,
  }),
);
