/**
 * The top entries of a V8 CPU profile (`--cpu-prof`) by self time, optionally only over a window
 * of the machine's monotonic clock (the benches print `profileWindowMs` with `--cpu-prof`).
 *   node --import tsx bench/load/profileTop.ts <file.cpuprofile> [--from ms --to ms] [--top 25]
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { ROOT } from '../../test/helpers/headless';
import { numberArgs } from '../lib';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

const path = process.argv[2];
if (path === undefined || path.startsWith('--')) {
  console.error('usage: profileTop.ts <file.cpuprofile> [--from ms --to ms] [--top 25]');
  process.exit(2);
}
const { from, to, top } = numberArgs({ from: 0, to: Infinity, top: 25 });
const profile = JSON.parse(readFileSync(path, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));

const where = (url: string) => {
  if (url === '') return '';
  const file = url.replace(/^file:\/\//, '');
  const rel = relative(ROOT, file);
  const inModules = rel.lastIndexOf('node_modules/');
  return inModules >= 0 ? rel.slice(inModules + 'node_modules/'.length) : rel;
};
const self = new Map<string, number>();
const byArea = new Map<string, number>();
let total = 0;
let t = profile.startTime;
for (let i = 0; i < profile.samples.length; i++) {
  t += profile.timeDeltas[i]!;
  const ms = t / 1000;
  if (ms < from || ms > to) continue;
  const node = byId.get(profile.samples[i]!)!;
  const { functionName, url, lineNumber } = node.callFrame;
  const dt = profile.timeDeltas[i + 1] ?? 0;
  if (functionName === '(idle)') continue;
  total += dt;
  const key = `${functionName || '(anonymous)'} ${where(url)}${url ? `:${lineNumber + 1}` : ''}`;
  self.set(key, (self.get(key) ?? 0) + dt);
  const file = where(url);
  const area =
    file === ''
      ? functionName
      : file.startsWith('werift/')
        ? `werift/${file.split('/').slice(2, 4).join('/')}`
        : file.startsWith('src/')
          ? file
          : file.split('/')[0]!;
  byArea.set(area, (byArea.get(area) ?? 0) + dt);
}
const pct = (n: number) => `${((n / total) * 100).toFixed(1)} %`;
console.log(`busy samples: ${(total / 1000).toFixed(0)} ms`);
console.log('\nself time by function:');
for (const [key, dt] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top))
  console.log(`${pct(dt).padStart(7)}  ${key}`);
console.log('\nself time by area:');
for (const [key, dt] of [...byArea].sort((a, b) => b[1] - a[1]).slice(0, 15))
  console.log(`${pct(dt).padStart(7)}  ${key}`);
