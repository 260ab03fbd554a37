/**
 * Composition speed: a 60 s archive of four 640x480 VP8/Opus sources (moving test patterns, a
 * tone each) composed to a bestFit grid at 1280x720 and at 1920x1080 through the Composer (the
 * service's path: probe, plan, one ffmpeg graph, progress). For each size it reports:
 *   - realtime: media seconds per wall second (best of `--runs`), CPU seconds, peak RSS, bitrate;
 *   - plainRatio: the same ffmpeg command run directly (no service around it), ours / plain time;
 *   - veryfast: the same graph encoded with x264 `veryfast` CRF 23 (the reference of the target):
 *     its realtime, and our size relative to it;
 *   - SSIM of both encodes against a lossless render of the first 10 s (unless `--quick`).
 * Targets: ≥ 6× realtime at 1280x720 with a file no larger than veryfast CRF 23, ≥ 3× at 1080p.
 * The machine's load average is printed too: other work on the cores slows every number alike.
 * Prints one JSON line.
 *
 *   node --import tsx bench/compose.ts [--runs 2] [--quick]
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Composer, type ComposeRequest } from '../src/main/composition/Composer';
import type { CompositionPlan } from '../src/main/composition/compositionPlan';
import { X264_TUNED, type EncodeSettings } from '../src/main/composition/encoding';
import { buildFfmpegArgs } from '../src/main/composition/filterGraph';
import { createLogger } from '../src/main/logger';
import { resolveFfmpeg, type Ffmpeg } from '../src/main/media/ffmpeg';
import type { Manifest } from '../src/shared/archive';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '2' },
    quick: { type: 'boolean', default: false },
  },
});
const RUNS = values.quick ? 1 : Math.max(1, Number(values.runs));
const SSIM = !values.quick;
const SECONDS = 60;
const SOURCES = 4;
const TICKS = 100; // USER_HZ

const log = (message: string) => process.stderr.write(`[compose bench] ${message}\n`);
const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

/** CPU seconds of this process's children that have exited (cutime + cstime). */
function childCpuSeconds(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[13]) + Number(fields[14])) / TICKS;
}

/** Samples a process's peak resident memory (VmHWM) until stopped. */
function peakRss(pid: number | undefined): { stop(): number } {
  let peak = 0;
  const sample = () => {
    if (pid === undefined) return;
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      peak = Math.max(peak, Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
    } catch {
      // the process has ended
    }
  };
  const timer = setInterval(sample, 100);
  return {
    stop() {
      clearInterval(timer);
      return Math.round(peak);
    },
  };
}

function run(ffmpeg: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(ffmpeg, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`ffmpeg exited ${code}: ${stderr}`)),
    );
  });
}

/** The four sources, made once and kept in the temp folder (they take a while on 2 cores). */
function makeSources(ffmpeg: Ffmpeg, dir: string): Manifest {
  mkdirSync(dir, { recursive: true });
  const files = [];
  for (let i = 0; i < SOURCES; i++) {
    const filename = `s${i}.webm`;
    const path = join(dir, filename);
    if (!existsSync(path)) {
      log(`making ${filename} (60 s 640x480 VP8 + Opus)`);
      const result = spawnSync(
        ffmpeg.path,
        [
          '-hide_banner',
          '-nostdin',
          '-loglevel',
          'error',
          '-y',
          '-f',
          'lavfi',
          '-i',
          `testsrc2=s=640x480:r=30:d=${SECONDS},hue=h=${i * 90}`,
          '-f',
          'lavfi',
          '-i',
          `sine=f=${300 + 110 * i}:r=48000:d=${SECONDS}`,
          '-c:v',
          'libvpx',
          '-deadline',
          'realtime',
          '-cpu-used',
          '8',
          '-b:v',
          '800k',
          '-g',
          '60',
          '-c:a',
          'libopus',
          '-b:a',
          '48k',
          '-ac',
          '1',
          `${path}.tmp.webm`,
        ],
        { stdio: 'inherit' },
      );
      if (result.status !== 0) throw new Error(`cannot make ${filename}`);
      spawnSync('mv', [`${path}.tmp.webm`, path]);
    }
    files.push({
      streamId: `s${i}`,
      filename,
      size: statSync(path).size,
      startTimeOffset: 0,
      stopTimeOffset: SECONDS * 1000,
      connectionData: `name=guest${i}`,
      videoType: 'camera' as const,
    });
  }
  return { createdAt: Date.now(), id: 'bench', name: 'bench', partnerId: 0, sessionId: 'bench', files };
}

interface Timed {
  wall: number;
  cpu: number;
  peakRssMB: number;
  size: number;
}

function best<T extends Timed>(runs: T[]): T {
  return runs.reduce((a, b) => (b.wall < a.wall ? b : a));
}

async function ssimOf(ffmpeg: Ffmpeg, file: string, reference: string): Promise<number> {
  const result = spawnSync(
    ffmpeg.path,
    [
      '-hide_banner',
      '-nostdin',
      '-t',
      '10',
      '-i',
      file,
      '-t',
      '10',
      '-i',
      reference,
      // Pair frames by index: containers round timestamps differently (Matroska to 1 ms).
      '-lavfi',
      '[0:v]setpts=N/(30*TB)[a];[1:v]setpts=N/(30*TB)[b];[a][b]ssim',
      '-f',
      'null',
      '-',
    ],
    { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
  );
  const match = /All:([\d.]+)/.exec(result.stderr);
  if (!match) throw new Error(`no SSIM for ${file}: ${result.stderr.slice(-500)}`);
  return Number(match[1]);
}

async function main(): Promise<void> {
  const ffmpeg = await resolveFfmpeg(null);
  const dir = join(tmpdir(), 'spool-bench-compose-v1');
  const manifest = makeSources(ffmpeg, dir);
  const composer = new Composer({ ffmpeg, logger: createLogger({ level: 'silent' }) });
  const load = loadavg()[0]!;
  const results = [];

  for (const [width, height, target] of [
    [1280, 720, 6],
    [1920, 1080, 3],
  ] as const) {
    const canvas = `${width}x${height}`;
    const request = (encode: EncodeSettings, output: string): ComposeRequest => ({
      archiveDir: dir,
      manifest,
      layouts: [{ atMs: 0, layout: { type: 'bestFit' } }],
      canvas: { width, height },
      encode,
      audioSources: ['*'],
      audioSourcesExcluded: [],
      trim: false,
      video: true,
      audio: true,
      output,
    });
    const tuned: EncodeSettings = {
      format: 'mp4',
      videoCodec: 'h264',
      maxBitrate: null,
      cores: availableParallelism(),
    };
    const ours = join(dir, `ours-${canvas}.mp4`);

    /** Composes through the Composer: wall time from the call to the file in place. */
    const viaComposer = async (
      encode: EncodeSettings,
      output: string,
    ): Promise<Timed & { plan: CompositionPlan }> => {
      const cpu0 = childCpuSeconds();
      const started = process.hrtime.bigint();
      let rss = { stop: () => 0 };
      const result = await composer.compose(request(encode, output), {
        onJob: (job) => (rss = peakRss(job.pid)),
      });
      const wall = Number(process.hrtime.bigint() - started) / 1e9;
      return {
        wall,
        cpu: childCpuSeconds() - cpu0,
        peakRssMB: rss.stop(),
        size: result.size,
        plan: result.plan,
      };
    };

    const oursRuns: Array<Timed & { plan: CompositionPlan }> = [];
    const plainRuns: Timed[] = [];
    for (let r = 0; r < RUNS; r++) {
      log(`${canvas}: composing through the service (run ${r + 1}/${RUNS})`);
      oursRuns.push(await viaComposer(tuned, ours));
      // The very same ffmpeg command, run directly.
      const plainOut = join(dir, `plain-${canvas}.mp4`);
      const script = join(dir, `plain-${canvas}.graph.txt`);
      const { args, filterGraph } = buildFfmpegArgs(oursRuns[0]!.plan, tuned, plainOut, script);
      writeFileSync(script, filterGraph);
      log(`${canvas}: the same command with plain ffmpeg (run ${r + 1}/${RUNS})`);
      const cpu0 = childCpuSeconds();
      const started = process.hrtime.bigint();
      await run(ffmpeg.path, args);
      plainRuns.push({
        wall: Number(process.hrtime.bigint() - started) / 1e9,
        cpu: childCpuSeconds() - cpu0,
        peakRssMB: 0,
        size: statSync(plainOut).size,
      });
      rmSync(plainOut, { force: true });
    }
    log(`${canvas}: the same graph with x264 veryfast CRF 23`);
    const veryfastOut = join(dir, `veryfast-${canvas}.mp4`);
    const veryfast = await viaComposer({ ...tuned, x264Preset: 'veryfast' }, veryfastOut);

    const o = best(oursRuns);
    const p = best(plainRuns);
    let ssim: { ours: number; veryfast: number } | null = null;
    if (SSIM) {
      log(`${canvas}: lossless render of the first 10 s for SSIM`);
      const reference = join(dir, `reference-${canvas}.mp4`);
      const script = join(dir, `reference-${canvas}.graph.txt`);
      const { args, filterGraph } = buildFfmpegArgs(
        o.plan,
        { ...tuned, x264Preset: 'ultrafast' },
        reference,
        script,
      );
      writeFileSync(script, filterGraph);
      const lossless = args.map((a, i) => (args[i - 1] === '-crf' ? '0' : a === '-crf' ? '-qp' : a));
      const out = lossless.indexOf('-movflags');
      await run(ffmpeg.path, [...lossless.slice(0, out), '-t', '10', '-f', 'mp4', reference]);
      ssim = {
        ours: round(await ssimOf(ffmpeg, ours, reference), 5),
        veryfast: round(await ssimOf(ffmpeg, veryfastOut, reference), 5),
      };
      rmSync(reference, { force: true });
    }
    rmSync(veryfastOut, { force: true });
    const realtime = SECONDS / o.wall;
    const sizeVsVeryfast = o.size / veryfast.size;
    results.push({
      canvas,
      realtime: round(realtime),
      wallSec: round(o.wall),
      cpuSec: round(o.cpu),
      cpuCores: round(o.cpu / o.wall),
      peakRssMB: o.peakRssMB,
      bitrateKbps: Math.round((o.size * 8) / SECONDS / 1000),
      sizeBytes: o.size,
      plainRealtime: round(SECONDS / p.wall),
      plainRatio: round(o.wall / p.wall, 3),
      veryfast: {
        realtime: round(SECONDS / veryfast.wall),
        cpuSec: round(veryfast.cpu),
        sizeBytes: veryfast.size,
        bitrateKbps: Math.round((veryfast.size * 8) / SECONDS / 1000),
      },
      sizeVsVeryfast: round(sizeVsVeryfast, 3),
      speedupVsVeryfast: round(veryfast.wall / o.wall),
      ssim,
      target: { realtime: target, met: realtime >= target && (target !== 6 || sizeVsVeryfast <= 1) },
    });
    rmSync(ours, { force: true });
  }

  process.stdout.write(
    `${JSON.stringify({
      bench: 'compose',
      sources: { count: SOURCES, size: '640x480', seconds: SECONDS, codec: 'vp8+opus', content: 'testsrc2' },
      layout: 'bestFit',
      x264: X264_TUNED,
      runs: RUNS,
      cores: cpus().length,
      loadBefore: round(load),
      loadAfter: round(loadavg()[0]!),
      results,
    })}\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
