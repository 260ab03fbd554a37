/**
 * The top entries of a V8 CPU profile (`--cpu-prof`) by self time, optionally only over a window
 * of the machine's monotonic clock (the benches print `profileWindowMs` with `--cpu-prof`).
 * `--long <ms>`: the thread's long tasks — runs of busy samples without an idle one between, at
 * least that long — how many, how long, and what ran in them (by the task's entry and by self
 * time): what a packet arriving meanwhile waits behind.
 *   node --import tsx bench/load/profileTop.ts <file.cpuprofile> [--from ms --to ms] [--top 25] [--long 3]
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { ROOT } from '../../test/helpers/headless';
import { numberArgs } from '../lib';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
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
const { from, to, top, long } = numberArgs({ from: 0, to: Infinity, top: 25, long: 0 });
const profile = JSON.parse(readFileSync(path, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parentOf = new Map<number, number>();
for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);

const where = (url: string) => {
  if (url === '') return '';
  const file = url.replace(/^file:\/\//, '');
  const rel = relative(ROOT, file);
  const inModules = rel.lastIndexOf('node_modules/');
  return inModules >= 0 ? rel.slice(inModules + 'node_modules/'.length) : rel;
};
const label = (node: ProfileNode) => {
  const { functionName, url, lineNumber } = node.callFrame;
  return `${functionName || '(anonymous)'} ${where(url)}${url ? `:${lineNumber + 1}` : ''}`;
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
  const { functionName, url } = node.callFrame;
  const dt = profile.timeDeltas[i + 1] ?? 0;
  if (functionName === '(idle)') continue;
  total += dt;
  const key = label(node);
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

if (long > 0) longTasks(long);

/**
 * Runs of busy samples (no `(idle)` sample between) of at least `minMs`. A task's entry is the
 * first frame under `(root)` that is not Node's own dispatch (timers, the message port, the UDP
 * socket's callback), named with the frame below it so that `processTimers` shows which timer.
 */
function longTasks(minMs: number): void {
  const entryOf = (id: number): string => {
    const chain: ProfileNode[] = [];
    for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at))
      chain.unshift(byId.get(at)!);
    const frames = chain.filter((n) => n.callFrame.functionName !== '(root)');
    if (frames.length === 0) return '(none)';
    const dispatch =
      /^(processTimers|listOnTimeout|processTicksAndRejections|emit|onMessage|\[worker eval\])$/;
    let i = 0;
    while (i < frames.length - 1 && dispatch.test(frames[i]!.callFrame.functionName)) i++;
    return frames
      .slice(i, i + 2)
      .map((n) => label(n).trim())
      .join(' > ');
  };
  const runs: Array<{ start: number; ms: number; samples: number[] }> = [];
  let run: { start: number; ms: number; samples: number[] } | null = null;
  let at = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i]!;
    const ms = at / 1000;
    const id = profile.samples[i]!;
    const idle = byId.get(id)!.callFrame.functionName === '(idle)';
    if (ms < from || ms > to || idle) {
      if (run !== null && run.ms >= minMs) runs.push(run);
      run = null;
      continue;
    }
    const dt = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    run ??= { start: ms, ms: 0, samples: [] };
    run.ms += dt;
    run.samples.push(id);
  }
  if (run !== null && run.ms >= minMs) runs.push(run);
  const span = (Math.min(to, at / 1000) - Math.max(from, profile.startTime / 1000)) / 1000;
  const lengths = runs.map((r) => r.ms).sort((a, b) => a - b);
  console.log(
    `\ntasks of ${minMs} ms or more: ${runs.length} in ${span.toFixed(1)} s` +
      (runs.length > 0
        ? `, median ${lengths[Math.floor(lengths.length / 2)]!.toFixed(1)} ms, longest ${lengths.at(-1)!.toFixed(1)} ms, ` +
          `${lengths.reduce((a, b) => a + b, 0).toFixed(0)} ms in all`
        : ''),
  );
  if (runs.length === 0) return;
  const byEntry = new Map<string, number>();
  const bySelf = new Map<string, number>();
  let samples = 0;
  for (const r of runs)
    for (const id of r.samples) {
      samples++;
      const entry = entryOf(id);
      byEntry.set(entry, (byEntry.get(entry) ?? 0) + 1);
      const key = label(byId.get(id)!);
      bySelf.set(key, (bySelf.get(key) ?? 0) + 1);
    }
  const share = (n: number) => `${((n / samples) * 100).toFixed(1)} %`.padStart(7);
  console.log('in them, by entry:');
  for (const [key, n] of [...byEntry].sort((a, b) => b[1] - a[1]).slice(0, top))
    console.log(`${share(n)}  ${key}`);
  console.log('in them, by self time:');
  for (const [key, n] of [...bySelf].sort((a, b) => b[1] - a[1]).slice(0, top))
    console.log(`${share(n)}  ${key}`);
}
