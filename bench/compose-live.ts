/**
 * bench/compose-live: a composed archive rendered while it records (docs/composition.md).
 * Four synthetic guests (640×480 VP8 test pattern + a steady tone, replayed by werift peers in
 * load processes of their own, as in bench/record) record a 1280×720 bestFit archive with two
 * layout changes, for each length (default 2 and 10 minutes; `--long` adds 30). Measured per
 * length: stop → `available` ms, CPU of the composition's processes while recording (cores),
 * video frames the recorder lost (counted against what each sender sent), SSIM of the live file
 * against an offline composition of the same archive (whole length, and its worst second), and
 * the audio at every chunk join (a jump in the tone's second difference means a gap or a step).
 * Prints one JSON line.
 *   node --import tsx bench/compose-live.ts [--minutes 2,10] [--long] [--chunk 6] [--keep <dir>]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, renameSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { Composer } from '../src/main/composition/Composer';
import type { TimedLayout } from '../src/main/composition/compositionPlan';
import { createLogger } from '../src/main/logger';
import { resolveFfmpeg } from '../src/main/media/ffmpeg';
import type { Manifest } from '../src/shared/archive';
import { normalizeLayout, type Layout } from '../src/shared/layout';
import { makeClip } from '../test/helpers/publisher';
import { ArchiveApi, OperatorClient, waitFor } from '../test/helpers/studio';
import { tempDir } from '../test/helpers/tmp';
import { fileFrames, matchFrames } from './load/frames';
import {
  CpuMeter,
  loadProblems,
  mainThreadDelay,
  publishWithRetry,
  startLoadPool,
  startStudio,
  threadHeaps,
  type LoadProcess,
} from './load/harness';
import type { LoadCollect } from './load/protocol';
import { nowMs } from './load/ReplayPublisher';
import { captureRtpClip } from './load/rtpClip';
import { cpuSeconds, round } from './lib';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '2,10' },
    long: { type: 'boolean', default: false },
    chunk: { type: 'string', default: '6' },
    /** Keeps each run's data folder (archive, offline.mp4) at <keep>-<minutes>m for inspection. */
    keep: { type: 'string' },
  },
});
const lengths = values.minutes.split(',').map(Number);
if (values.long) lengths.push(30);
const chunkSec = Number(values.chunk);
const FPS = 30;
const GUESTS = 4;
const CANVAS = { width: 1280, height: 720 };

const TICKS = 100;
/** CPU seconds of the core's children: those that ended (cutime + cstime) and those running. */
function childrenCpu(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  let total = (Number(fields[13]) + Number(fields[14])) / TICKS;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const s = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      if (Number(f[1]) === pid) total += cpuSeconds(Number(entry));
    } catch {
      // ended meanwhile
    }
  }
  return total;
}

/**
 * SSIM of two files frame by frame (frame n of each at exactly n/30 s): the mean over the whole
 * length, and the worst one-second mean (a stretch a frame off shows there, not in the mean).
 */
function ssim(a: string, b: string): { mean: number; worstSecond: number; worstSecondAt: number } {
  const stats = `${a}.ssim.log`;
  const r = spawnSync('ffmpeg', [
    '-hide_banner',
    '-nostdin',
    '-i',
    a,
    '-i',
    b,
    '-lavfi',
    // `setpts=N/(30*TB)` is not exact: in the live file's 90 kHz time base it truncates to 2999,
    // 5999, … and the ssim filter then pairs each live frame with the offline frame after it
    // (measured: 0.92 shifted, 0.99 paired right).
    `[0:v]settb=1/30,setpts=N[x];[1:v]settb=1/30,setpts=N[y];[x][y]ssim=stats_file=${stats}`,
    '-f',
    'null',
    '-',
  ]);
  const match = / All:([\d.]+)/.exec(r.stderr.toString());
  const perFrame = readFileSync(stats, 'utf8')
    .split('\n')
    .map((line) => / All:([\d.]+)/.exec(line))
    .filter((m) => m !== null)
    .map((m) => Number(m[1]));
  let worstSecond = 1;
  let worstSecondAt = 0;
  for (let i = 0; i + FPS <= perFrame.length; i += FPS) {
    const mean = perFrame.slice(i, i + FPS).reduce((n, v) => n + v, 0) / FPS;
    if (mean < worstSecond) {
      worstSecond = mean;
      worstSecondAt = i / FPS;
    }
  }
  return {
    mean: match ? round(Number(match[1]), 4) : NaN,
    worstSecond: round(worstSecond, 4),
    worstSecondAt,
  };
}

/** Worst second difference of the mixed tone within 3 ms of each chunk join, and overall. */
function audioJoins(
  file: string,
  joins: number[],
): { worstAtJoins: number; joinsOver: number; typical: number } {
  const pcm = execFileSync(
    'ffmpeg',
    ['-nostdin', '-v', 'error', '-i', file, '-map', '0:a', '-ac', '1', '-f', 'f32le', '-'],
    {
      maxBuffer: 1 << 30,
    },
  );
  const x = new Float32Array(pcm.buffer, pcm.byteOffset, Math.floor(pcm.length / 4));
  const d2 = (i: number) => Math.abs(x[i + 1]! - 2 * x[i]! + x[i - 1]!);
  const sample: number[] = [];
  for (let i = 48_000; i < x.length - 1; i += 997) sample.push(d2(i));
  sample.sort((a, b) => a - b);
  const typical = sample[Math.floor(sample.length * 0.999)] ?? 0;
  let worst = 0;
  let over = 0;
  for (const t of joins) {
    const c = Math.round(t * 48_000);
    let w = 0;
    for (let i = c - 144; i <= c + 144; i++) if (i > 0 && i < x.length - 1) w = Math.max(w, d2(i));
    worst = Math.max(worst, w);
    if (w > Math.max(0.02, typical * 4)) over++;
  }
  return { worstAtJoins: round(worst, 4), joinsOver: over, typical: round(typical, 4) };
}

/**
 * The archive on the studio's own timeline, as its compositions use it: manifest.json counts
 * offsets from when recording effectively began (OpenTok), layout changes from the start call
 * (`createdAt`), and the file rows keep each file's offset from the start call exactly (the
 * manifest's stop at 0). Taken from the rows, or every tile of a file whose time 0 came a few
 * ms before recording began is a frame off where its frames sit between two output frames.
 */
function studioTimeline(manifest: Manifest, db: Database.Database, archiveId: string): Manifest {
  const rows = db
    .prepare(
      "SELECT filename, start_offset_ms, stop_offset_ms FROM archive_files WHERE archive_id = ? AND kind = 'media'",
    )
    .all(archiveId) as Array<{ filename: string; start_offset_ms: number; stop_offset_ms: number | null }>;
  return {
    ...manifest,
    files: manifest.files.map((f) => {
      const row = rows.find((r) => r.filename === f.filename);
      if (row === undefined) throw new Error(`${f.filename} has no file row`);
      return {
        ...f,
        startTimeOffset: row.start_offset_ms,
        stopTimeOffset: row.stop_offset_ms ?? row.start_offset_ms,
      };
    }),
  };
}

// 47 s: the clip's loop points (where the tone restarts) never line up with chunk joins.
const clip = makeClip({ durationSec: 47, width: 640, height: 480, tone: true, videoKbps: 800 });
const capture = await captureRtpClip(clip);

async function run(minutes: number): Promise<Record<string, unknown>> {
  const seconds = minutes * 60;
  const dir = tempDir('spool-bench-');
  const core = await startStudio({
    dataDir: dir.path,
    env: { SPOOL_LIVE_COMPOSITION_CHUNK_SEC: String(chunkSec) },
  });
  let pool: LoadProcess[] = [];
  try {
    pool = await startLoadPool(2);
    await Promise.all(pool.map((p) => p.request({ op: 'clip', capture, fps: FPS })));
    const operator = await OperatorClient.login(core);
    const room = await operator.createRoom({ name: 'bench' });
    const connectionIds = new Set<string>();
    for (let i = 0; i < GUESTS; i++) {
      const proc = pool[i % pool.length]!;
      const { connectionId } = await publishWithRetry(proc, async () => {
        const token = await operator.createToken(room.id, { connectionData: `guest ${i}` });
        return { op: 'publish', whipUrl: token.whipUrl, token: token.token };
      });
      proc.publishers++;
      connectionIds.add(connectionId);
    }
    await waitFor(
      async () =>
        (await operator.room(room.id)).session?.streams.filter((s) => s.codecs.video).length === GUESTS,
      20_000,
      'all streams',
    );
    // The senders log every frame from just before the recording starts.
    await Promise.all(pool.map((p) => p.request({ op: 'window', sending: true })));
    await threadHeaps(operator); // the main thread's event-loop figures from here
    const api = new ArchiveApi(core.url);
    const pid = core.process.pid!;
    const meter = new CpuMeter([pid, ...pool.map((p) => p.pid)]);
    const startedAt = nowMs();
    const archive = await api.start({
      sessionId: room.id,
      outputMode: 'composed',
      resolution: '1280x720',
      layout: { type: 'bestFit' },
    });
    const cpu0 = childrenCpu(pid);
    const t0 = Date.now();
    const changes: Array<[number, Layout | Record<string, unknown>]> = [
      [seconds / 3, { type: 'pip' }],
      [(2 * seconds) / 3, { type: 'horizontalPresentation' }],
    ];
    for (const [at, layout] of changes) {
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, t0 + at * 1000 - Date.now())));
      await api.call('PUT', `/archive/${archive.id}/layout`, layout);
    }
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, t0 + seconds * 1000 - Date.now())));
    const cpu1 = childrenCpu(pid);
    const wall = (Date.now() - t0) / 1000;
    // Frames sent from here on are not counted; media keeps flowing until the stop, as in use.
    await Promise.all(pool.map((p) => p.request({ op: 'window', sending: false })));
    const cpu = meter.read();
    const mainDelay = mainThreadDelay(await threadHeaps(operator));
    const stopAt = Date.now();
    await api.stop(archive.id);
    await api.waitStatus(archive.id, 'available', 30 * 60_000);
    const stopToAvailableMs = Date.now() - stopAt;
    const collects = await Promise.all(pool.map((p) => p.request<LoadCollect>({ op: 'collect' })));
    const loadPids = pool.map((p) => p.pid);
    await Promise.all(pool.map((p) => p.close()));
    pool = [];

    const archiveDir = join(dir.path, 'archives', archive.id);
    const db = new Database(join(dir.path, 'studio.db'), { readonly: true });
    const manifest = studioTimeline(
      JSON.parse(readFileSync(join(archiveDir, 'manifest.json'), 'utf8')) as Manifest,
      db,
      archive.id,
    );
    const info = JSON.parse(
      (
        db
          .prepare("SELECT info FROM archive_files WHERE archive_id = ? AND filename = 'archive.mp4'")
          .get(archive.id) as { info: string }
      ).info,
    ) as { live?: { framesAfterStop: number; finishMs: number; tail: unknown; prerollSec: number } };
    const layouts: TimedLayout[] = [{ atMs: 0, layout: { type: 'bestFit' } as Layout }];
    for (const row of db
      .prepare('SELECT at_ms, layout FROM layout_changes WHERE archive_id = ? ORDER BY at_ms, id')
      .all(archive.id) as Array<{ at_ms: number; layout: string }>) {
      const result = normalizeLayout(JSON.parse(row.layout), CANVAS);
      if ('layout' in result) layouts.push({ atMs: row.at_ms, layout: result.layout });
    }
    db.close();
    const first = normalizeLayout({ type: 'bestFit' }, CANVAS);
    if ('layout' in first) layouts[0] = { atMs: 0, layout: first.layout };

    // The same archive composed offline, for SSIM.
    const ffmpeg = await resolveFfmpeg(null);
    const offline = join(dir.path, 'offline.mp4');
    const composer = new Composer({ ffmpeg, logger: createLogger({ level: 'silent' }) });
    await composer.compose({
      archiveDir,
      manifest,
      layouts,
      canvas: CANVAS,
      encode: { format: 'mp4', videoCodec: 'h264', maxBitrate: null },
      audioSources: ['*'],
      audioSourcesExcluded: [],
      trim: false,
      video: true,
      audio: true,
      output: offline,
    });
    const live = join(archiveDir, 'archive.mp4');
    const endSec = Math.max(...manifest.files.map((f) => f.stopTimeOffset)) / 1000;
    const joins: number[] = [];
    for (let t = chunkSec; t < endSec - 1; t += chunkSec) joins.push(t);

    // Video frames lost by the recorder, counted against what each sender sent.
    let framesSent = 0;
    let framesRecorded = 0;
    let framesUnexpected = 0;
    let framesRetimed = 0;
    const invalid: string[] = [];
    for (const c of collects)
      for (const [key, sent] of Object.entries(c.frames)) {
        const connectionId = key.split('/')[0]!;
        if (!connectionIds.has(connectionId)) continue;
        const files = manifest.files
          .filter((f) => f.connectionId === connectionId && f.hasVideo !== false)
          .sort((x, y) => (x.segment ?? 0) - (y.segment ?? 0))
          .map((f) => fileFrames(join(archiveDir, f.filename)));
        // The first recorded frame was sent after the start request, within one pass of the clip.
        const match = matchFrames(sent, files, 1000 / FPS, [startedAt - 1000, startedAt + 15_000]);
        if (!match.aligned) invalid.push(`the file of ${key} could not be matched to what its sender sent`);
        framesSent += match.expected;
        framesRecorded += match.matched;
        framesUnexpected += match.unmatched;
        framesRetimed += match.retimed;
      }
    const loadFigures = collects.map((c, i) => ({
      pid: loadPids[i]!,
      cpuPercentOfOneCore: round(cpu.byPid.get(loadPids[i]!) ?? 0),
      sendLagMsP99: round(c.lagMsP99, 2),
    }));
    invalid.push(...loadProblems(loadFigures));
    const similarity = ssim(live, offline);
    return {
      minutes,
      valid: invalid.length === 0,
      ...(invalid.length > 0 ? { invalidReasons: invalid } : {}),
      stopToAvailableMs,
      tailFrames: info.live?.framesAfterStop ?? null,
      // Where the wait went: the composer's own finish (tail steps), the rest is the recorder's
      // stop and the events between.
      finishMs: info.live?.finishMs ?? null,
      tail: info.live?.tail ?? null,
      prerollSec: info.live?.prerollSec ?? null,
      composedLive: info.live !== undefined,
      compositionCores: round((cpu1 - cpu0) / wall, 2),
      studioCpuPercentOfOneCore: round(cpu.byPid.get(pid) ?? 0),
      mainEventLoopDelayMsP99: round(mainDelay.p99, 2),
      framesSent,
      framesLost: framesSent - framesRecorded,
      framesUnexpected,
      framesRetimed,
      ssimVsOffline: similarity.mean,
      ssimWorstSecond: similarity.worstSecond,
      ssimWorstSecondAt: similarity.worstSecondAt,
      audio: { joins: joins.length, ...audioJoins(live, joins) },
      load: loadFigures,
      harnessCpuPercentOfOneCore: round(cpu.harness),
      machineLoadAverage: round(loadavg()[0]!, 2),
    };
  } catch (error) {
    process.stderr.write(`core output:\n${core.output().slice(-4000)}\n`);
    throw error;
  } finally {
    await Promise.all(pool.map((p) => p.close()));
    await core.stop();
    if (values.keep !== undefined) renameSync(dir.path, `${values.keep}-${minutes}m`);
    else dir.remove();
  }
}

const results: Array<Record<string, unknown>> = [];
for (const minutes of lengths) results.push(await run(minutes));
console.log(
  JSON.stringify({
    bench: 'compose-live',
    guests: GUESTS,
    canvas: `${CANVAS.width}x${CANVAS.height}`,
    chunkSec,
    results,
    targets: {
      stopToAvailableMs: 10_000,
      compositionCores: 1,
      framesLost: 0,
      ssimVsOffline: 0.99,
      joinsOver: 0,
    },
  }),
);
