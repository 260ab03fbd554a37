/**
 * bench/soak: a long recording with guests coming and going. N streams (synthetic VP8 + Opus) are
 * recorded into one archive for M minutes; every minute the longest-connected guest leaves and a
 * new one joins. The studio runs alone in its own process (publishers in load processes, as in
 * bench/record); its RSS and CPU are sampled every few seconds and their slope per minute
 * printed (flat is the goal). Video frames lost are counted against what each sender sent, and
 * every file of the archive is decoded with `ffmpeg -v error`. Prints one JSON line.
 *   node --import tsx bench/soak.ts [--streams 8] [--minutes 30] [--procs 2]
 *     [--size 1280x720] [--bitrate 1500] [--fps 30] [--sample-sec 5]
 */
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { decodeErrors } from '../test/helpers/probe';
import { makeClip } from '../test/helpers/publisher';
import { manifestOf } from '../test/helpers/recordingChecks';
import { ArchiveApi, OperatorClient, waitFor } from '../test/helpers/studio';
import { tempDir } from '../test/helpers/tmp';
import { fileFrames, matchFrames, type FileFrames } from './load/frames';
import {
  connectFailures,
  CpuMeter,
  loadProblems,
  publishWithRetry,
  startLoadPool,
  startStudio,
  type LoadProcess,
} from './load/harness';
import type { LoadCollect } from './load/protocol';
import { nowMs } from './load/ReplayPublisher';
import { captureRtpClip } from './load/rtpClip';
import { cpuSeconds, numberArgs, requirePositiveIntegers, round, rssMb, sizeArg } from './lib';

const options = numberArgs({ streams: 8, minutes: 30, procs: 2, bitrate: 1500, fps: 30, 'sample-sec': 5 });
requirePositiveIntegers(options);
const { streams, minutes, procs, bitrate, fps } = options;
const sampleSec = options['sample-sec'];
const size = sizeArg('1280x720');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Samples of the first minute are left out of the slopes (start-up: JIT, buffers filling). */
const WARM_UP_MIN = minutes > 2 ? 1 : 0;

/** Least-squares slope of y over x (0 with fewer than two points). */
function slope(points: Array<{ x: number; y: number }>): number {
  if (points.length < 2) return 0;
  const mx = points.reduce((n, p) => n + p.x, 0) / points.length;
  const my = points.reduce((n, p) => n + p.y, 0) / points.length;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.x - mx) * (p.y - my);
    den += (p.x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

/** One guest: which load process sends it, and from when (monotonic ms) it could be recorded. */
interface Guest {
  connectionId: string;
  proc: LoadProcess;
  recordableFrom: number;
}

const clip = makeClip({ durationSec: 20, width: size.width, height: size.height, videoKbps: bitrate, fps });
const capture = await captureRtpClip(clip);
const dir = tempDir('spool-soak-');
const studio = await startStudio({ dataDir: dir.path, env: { SPOOL_MAX_PARTICIPANTS: '' } });
let pool: LoadProcess[] = [];
try {
  pool = await startLoadPool(procs);
  await Promise.all(pool.map((p) => p.request({ op: 'clip', capture, fps })));
  const operator = await OperatorClient.login(studio);
  const room = await operator.createRoom({ name: 'soak', maxParticipants: Math.max(100, streams * 2) });
  // The senders log every frame from the start; a guest's frames count once the archive runs.
  await Promise.all(pool.map((p) => p.request({ op: 'window', sending: true })));

  let joined = 0;
  /** Connects one more guest on the least busy load process. */
  const join_ = async (recordableFrom: () => number): Promise<Guest> => {
    const proc = pool.reduce((a, b) => (b.publishers < a.publishers ? b : a));
    const index = joined++;
    const { connectionId } = await publishWithRetry(proc, async () => {
      const token = await operator.createToken(room.id, { connectionData: `guest ${index}` });
      return { op: 'publish', whipUrl: token.whipUrl, token: token.token };
    });
    proc.publishers++;
    return { connectionId, proc, recordableFrom: recordableFrom() };
  };
  const live: Guest[] = [];
  for (let i = 0; i < streams; i++) live.push(await join_(() => 0));
  const videoStreams = async () =>
    (await operator.room(room.id)).session?.streams.filter((s) => s.codecs.video).length ?? 0;
  await waitFor(async () => (await videoStreams()) === streams, 60_000, 'every stream in the room');
  await sleep(1000);

  const archives = new ArchiveApi(studio.url);
  const pid = studio.process.pid!;
  const startedAt = nowMs();
  for (const g of live) g.recordableFrom = startedAt;
  const archive = await archives.start({ sessionId: room.id, outputMode: 'individual' });
  const loadCpu = new CpuMeter(pool.map((p) => p.pid));
  const all: Guest[] = [...live];

  // Samples: RSS (MB) and CPU (% of one core over the last interval), by minute since the start.
  const samples: Array<{ minute: number; rssMb: number; cpuPercent: number }> = [];
  let last = { t: performance.now(), cpu: cpuSeconds(pid) };
  const sampler = setInterval(() => {
    const t = performance.now();
    const cpu = cpuSeconds(pid);
    samples.push({
      minute: (nowMs() - startedAt) / 60_000,
      rssMb: rssMb(pid),
      cpuPercent: ((cpu - last.cpu) / ((t - last.t) / 1000)) * 100,
    });
    last = { t, cpu };
  }, sampleSec * 1000);

  // Every minute (but the last), the longest-connected guest leaves and a new one joins.
  let turnovers = 0;
  try {
    for (let minute = 1; minute <= minutes; minute++) {
      await sleep(Math.max(0, startedAt + minute * 60_000 - nowMs()));
      if (minute === minutes) break;
      const leaving = live.shift()!;
      await leaving.proc.request({ op: 'unpublish', connectionId: leaving.connectionId }, 60_000);
      leaving.proc.publishers--;
      const joinAt = nowMs();
      live.push(await join_(() => joinAt));
      all.push(live[live.length - 1]!);
      turnovers++;
    }
  } finally {
    clearInterval(sampler);
  }
  // Frames sent from here on are not counted; media keeps flowing until the stop, as in use.
  await Promise.all(pool.map((p) => p.request({ op: 'window', sending: false })));
  const loadCpuPercent = loadCpu.read().byPid;
  await sleep(1000);
  await archives.stop(archive.id);
  await archives.waitStatus(archive.id, 'available', 120_000);
  const collects = await Promise.all(pool.map((p) => p.request<LoadCollect>({ op: 'collect' }, 120_000)));
  // The senders are done: they would only take CPU from the decoding below.
  const senders = pool;
  pool = [];
  await Promise.all(senders.map((p) => p.close()));

  // Every file decodes; video frames are matched to what each guest sent.
  const manifest = manifestOf(dir.path, archive.id);
  const unplayable: Array<{ file: string; error: string }> = [];
  const filesByConnection = new Map<string, Array<{ segment: number; frames: FileFrames }>>();
  const framesDropped = { late: 0, broken: 0, backpressure: 0 };
  for (const file of manifest.files) {
    const path = join(dir.path, 'archives', archive.id, file.filename);
    const error = await decodeErrors(path);
    if (error !== '') unplayable.push({ file: file.filename, error: error.split('\n')[0]! });
    for (const track of Object.values(file.tracks ?? {})) {
      framesDropped.late += track.framesDropped.late;
      framesDropped.broken += track.framesDropped.broken;
      framesDropped.backpressure += track.framesDropped.backpressure;
    }
    if (file.hasVideo === false || file.connectionId === undefined) continue;
    const list = filesByConnection.get(file.connectionId) ?? [];
    list.push({ segment: file.segment ?? 0, frames: fileFrames(path) });
    filesByConnection.set(file.connectionId, list);
  }
  let framesSent = 0;
  let framesRecorded = 0;
  let framesUnexpected = 0;
  let framesRetimed = 0;
  const invalid: string[] = [];
  /** Where frames were lost: sender media times (ms) per guest, and the file segments' spans. */
  const missing: Array<{ guest: string; lost: number; at: Array<[number, number]>; segments: number[][] }> =
    [];
  const frameMs = 1000 / fps;
  for (const guest of all) {
    const key = `${guest.connectionId}/video`;
    const sent = collects.find((c) => c.frames[key] !== undefined)?.frames[key];
    if (sent === undefined) {
      invalid.push(`no frames were logged for ${key}`);
      continue;
    }
    const files = (filesByConnection.get(guest.connectionId) ?? [])
      .sort((a, b) => a.segment - b.segment)
      .map((f) => f.frames);
    if (files.length === 0) {
      invalid.push(`guest ${guest.connectionId} was not recorded`);
      framesSent += sent.ms.length;
      continue;
    }
    // The first recorded frame was sent once the guest could be recorded, within one pass of the clip.
    const match = matchFrames(sent, files, frameMs, [
      guest.recordableFrom - 1000,
      guest.recordableFrom + 15_000,
    ]);
    if (!match.aligned) invalid.push(`the files of ${key} could not be matched to what its sender sent`);
    if (match.missing.length > 0) {
      const segments = files.map((f) => [round(f.ms[0] ?? 0), round(f.ms.at(-1) ?? 0)]);
      missing.push({
        guest: key,
        lost: match.expected - match.matched,
        at: match.missing.slice(0, 8),
        segments,
      });
    }
    framesSent += match.expected;
    framesRecorded += match.matched;
    framesUnexpected += match.unmatched;
    framesRetimed += match.retimed;
  }
  invalid.push(
    ...loadProblems(
      senders.map((p, i) => ({
        pid: p.pid,
        cpuPercentOfOneCore: round(loadCpuPercent.get(p.pid) ?? 0),
        sendLagMsP99: round(collects[i]!.lagMsP99, 2),
      })),
    ),
  );

  const steady = samples.filter((s) => s.minute >= WARM_UP_MIN);
  const mean = (values: number[]) =>
    values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length;
  console.log(
    JSON.stringify({
      bench: 'soak',
      valid: invalid.length === 0,
      ...(invalid.length > 0 ? { invalidReasons: invalid } : {}),
      streams,
      minutes,
      procs: senders.length,
      size: size.label,
      bitrateKbps: bitrate,
      fps,
      joinsAndLeaves: turnovers,
      connectRetries: connectFailures.length,
      samples: samples.length,
      rssMbStart: steady[0]?.rssMb ?? null,
      rssMbEnd: steady[steady.length - 1]?.rssMb ?? null,
      rssMbMax: Math.max(...samples.map((s) => s.rssMb)),
      rssSlopeMbPerMin: round(slope(steady.map((s) => ({ x: s.minute, y: s.rssMb }))), 2),
      cpuPercentOfOneCoreMean: round(mean(steady.map((s) => s.cpuPercent))),
      cpuSlopePercentPerMin: round(slope(steady.map((s) => ({ x: s.minute, y: s.cpuPercent }))), 2),
      framesSent,
      framesRecorded,
      framesLost: framesSent - framesRecorded,
      framesUnexpected,
      framesRetimed,
      framesDroppedByStudio: framesDropped,
      ...(missing.length > 0 ? { framesLostAt: missing } : {}),
      segments: manifest.files.length,
      segmentsPlayable: manifest.files.length - unplayable.length,
      allSegmentsPlayable: unplayable.length === 0,
      ...(unplayable.length > 0 ? { unplayable } : {}),
      machineLoadAverage: round(loadavg()[0]!, 2),
      targets: { framesLost: 0, rssSlopeMbPerMin: 0, cpuSlopePercentPerMin: 0, allSegmentsPlayable: true },
    }),
  );
} finally {
  await Promise.all(pool.map((p) => p.close()));
  await studio.stop();
  dir.remove();
}
