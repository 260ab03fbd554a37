/**
 * bench/record: N streams recorded at once (synthetic VP8 + Opus, 720p ~1.5 Mbit/s by default).
 * The studio runs alone in its own process; the WHIP publishers are werift peers in a pool of
 * load-generator processes (`--procs`). Video frames lost are counted against what the senders
 * sent (each file's frames matched to the sender's by time and size), not guessed from gaps in
 * the file. Prints one JSON line; `"valid": false` (with reasons) when a load process was too
 * busy to be trusted.
 *   node --import tsx bench/record.ts [--streams 16] [--seconds 60] [--procs 2]
 *     [--size 1280x720] [--bitrate 1500] [--fps 30] [--pacing 2.5] [--cpu-prof]
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import type { FramesDropped, Manifest } from '../src/shared/archive';
import { ROOT } from '../test/helpers/headless';
import { makeClip } from '../test/helpers/publisher';
import { ArchiveApi, OperatorClient, waitFor } from '../test/helpers/studio';
import { tempDir } from '../test/helpers/tmp';
import { fileFrames, matchFrames, type FileFrames } from './load/frames';
import {
  connectFailures,
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
import {
  flagArg,
  numberArgs,
  pacingArg,
  peakRss,
  requirePositiveIntegers,
  round,
  sizeArg,
  udpDropsBetween,
  udpDropsBySocket,
  udpReceiveDrops,
} from './lib';

const options = numberArgs({ streams: 16, seconds: 60, procs: 2, bitrate: 1500, fps: 30 });
requirePositiveIntegers(options);
const { streams, seconds, procs, bitrate, fps } = options;
const size = sizeArg('1280x720');
const pacing = pacingArg();
const cpuProfDir = flagArg('cpu-prof') ? join(ROOT, '.tmp', 'profiles', `record-${Date.now()}`) : undefined;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Publishers connecting at the same time. */
const CONNECT_CONCURRENCY = 4;

const clip = makeClip({ durationSec: 20, width: size.width, height: size.height, videoKbps: bitrate, fps });
const capture = await captureRtpClip(clip);
const dir = tempDir('spool-bench-');
const studio = await startStudio({
  dataDir: dir.path,
  env: { SPOOL_MAX_PARTICIPANTS: '' },
  ...(cpuProfDir ? { cpuProfDir } : {}),
});
let pool: LoadProcess[] = [];
try {
  pool = await startLoadPool(procs);
  await Promise.all(pool.map((p) => p.request({ op: 'clip', capture, fps, pacing })));
  const operator = await OperatorClient.login(studio);
  const room = await operator.createRoom({ name: 'bench', maxParticipants: Math.max(100, streams) });

  const connectionIds = new Map<string, number>(); // connection id → publisher index
  let nextPublisher = 0;
  const connectOne = async (): Promise<void> => {
    for (let i = nextPublisher++; i < streams; i = nextPublisher++) {
      const proc = pool[i % pool.length]!;
      const { connectionId } = await publishWithRetry(proc, async () => {
        const token = await operator.createToken(room.id, { connectionData: `publisher ${i}` });
        return { op: 'publish', whipUrl: token.whipUrl, token: token.token };
      });
      proc.publishers++;
      connectionIds.set(connectionId, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONNECT_CONCURRENCY, streams) }, connectOne));
  await waitFor(
    async () =>
      (await operator.room(room.id)).session?.streams.filter((s) => s.codecs.video).length === streams,
    60_000,
    'every stream in the room',
  );
  await sleep(1000);

  // The senders log every frame from just before the recording starts.
  await Promise.all(pool.map((p) => p.request({ op: 'window', sending: true })));
  const rss = peakRss(studio.process.pid!);
  await threadHeaps(operator); // each thread's event-loop figures from here
  const meter = new CpuMeter([studio.process.pid!, ...pool.map((p) => p.pid)]);
  const archives = new ArchiveApi(studio.url);
  const startedAt = nowMs();
  const udpDropsBefore = udpReceiveDrops();
  const pids = [studio.process.pid!, ...pool.map((p) => p.pid)];
  const socketDropsBefore = udpDropsBySocket(pids);
  const archive = await archives.start({ sessionId: room.id, outputMode: 'individual' });
  await sleep(seconds * 1000);
  // Frames sent from here on are not counted; media keeps flowing until the stop, as in use.
  await Promise.all(pool.map((p) => p.request({ op: 'window', sending: false })));
  const windowTo = nowMs();
  const udpDropsAfter = udpReceiveDrops();
  const dropsByPid = udpDropsBetween(socketDropsBefore, udpDropsBySocket(pids));
  const cpu = meter.read();
  const heapByThread = await threadHeaps(operator);
  const mainDelay = mainThreadDelay(heapByThread);
  await sleep(1000);
  const stopAt = Date.now();
  await archives.stop(archive.id);
  await archives.waitStatus(archive.id, 'available', 60_000);
  const stopToAvailableMs = Date.now() - stopAt;
  const peak = rss.stop();
  const collects = await Promise.all(pool.map((p) => p.request<LoadCollect>({ op: 'collect' })));

  const manifest = JSON.parse(
    readFileSync(join(dir.path, 'archives', archive.id, 'manifest.json'), 'utf8'),
  ) as Manifest;
  const filesByKey = new Map<string, Array<{ segment: number; frames: FileFrames }>>();
  let bytesWritten = 0;
  for (const file of manifest.files) {
    bytesWritten += file.size;
    if (file.hasVideo === false) continue;
    const key = `${file.connectionId}/video`;
    const list = filesByKey.get(key) ?? [];
    list.push({
      segment: file.segment ?? 0,
      frames: fileFrames(join(dir.path, 'archives', archive.id, file.filename)),
    });
    filesByKey.set(key, list);
  }
  // What the studio dropped itself, by reason (each file's manifest entry counts its own).
  const studioDropped: FramesDropped = { late: 0, broken: 0, backpressure: 0, oversized: 0 };
  for (const file of manifest.files)
    for (const track of Object.values(file.tracks ?? {}))
      for (const reason of Object.keys(studioDropped) as Array<keyof FramesDropped>)
        studioDropped[reason] += track.framesDropped[reason] ?? 0;
  let framesSent = 0;
  let framesRecorded = 0;
  let framesUnmatched = 0;
  let framesRetimed = 0;
  const invalid: string[] = [];
  const frameMs = 1000 / fps;
  for (const c of collects)
    for (const [key, sent] of Object.entries(c.frames)) {
      if (!connectionIds.has(key.split('/')[0]!)) continue;
      const files = (filesByKey.get(key) ?? []).sort((a, b) => a.segment - b.segment).map((f) => f.frames);
      // The first recorded frame was sent after the start request, and well within one pass of
      // the 20 s clip (frame sizes repeat every pass).
      const match = matchFrames(sent, files, frameMs, [startedAt - 1000, startedAt + 15_000]);
      if (!match.aligned) invalid.push(`the file of ${key} could not be matched to what its sender sent`);
      framesSent += match.expected;
      framesRecorded += match.matched;
      framesUnmatched += match.unmatched;
      framesRetimed += match.retimed;
    }
  let bytesSent = 0;
  for (const c of collects)
    for (const [key, bytes] of Object.entries(c.bytes))
      if (connectionIds.has(key.split('/')[0]!)) bytesSent += bytes;

  const studioCpu = cpu.byPid.get(studio.process.pid!)!;
  const load = pool.map((p, i) => ({
    pid: p.pid,
    publishers: p.publishers,
    cpuPercentOfOneCore: round(cpu.byPid.get(p.pid)!),
    udpReceiveDrops: dropsByPid?.get(p.pid) ?? null,
    sendLagMsP99: round(collects[i]!.lagMsP99, 2),
  }));
  invalid.push(...loadProblems(load));
  console.log(
    JSON.stringify({
      bench: 'record',
      valid: invalid.length === 0,
      ...(invalid.length > 0 ? { invalidReasons: invalid } : {}),
      streams,
      procs: pool.length,
      size: size.label,
      bitrateKbps: bitrate,
      fps,
      pacingFactor: pacing.factor,
      seconds: round(cpu.seconds),
      studioCpuPercentOfOneCore: round(studioCpu),
      cpuPercentPerStream: round(studioCpu / streams, 2),
      cpuPercentOfTwoCores: round(studioCpu / 2),
      mainEventLoopDelayMsP99: round(mainDelay.p99, 2),
      mainEventLoopDelayMsMax: round(mainDelay.max, 2),
      peakRssMb: peak,
      heapByThread,
      connectRetries: connectFailures.length,
      ...(connectFailures.length > 0 ? { connectFailures } : {}),
      harnessCpuPercentOfOneCore: round(cpu.harness),
      machineLoadAverage: round(loadavg()[0]!, 2),
      load,
      framesSent,
      framesRecorded,
      framesLost: framesSent - framesRecorded,
      framesLostPercent: round(
        framesSent === 0 ? 100 : ((framesSent - framesRecorded) / framesSent) * 100,
        3,
      ),
      framesUnexpected: framesUnmatched,
      framesRetimed,
      studioFramesDropped: studioDropped,
      udpReceiveDropsOnMachine:
        udpDropsBefore === null || udpDropsAfter === null ? null : udpDropsAfter - udpDropsBefore,
      // The studio's own sockets' share of those (each load process's is in `load`).
      udpReceiveDropsStudio: dropsByPid?.get(studio.process.pid!) ?? null,
      bytesSent,
      bytesWritten,
      stopToAvailableMs,
      ...(cpuProfDir
        ? { cpuProfileDir: cpuProfDir, profileWindowMs: [Math.round(startedAt), Math.round(windowTo)] }
        : {}),
      targets: {
        framesLost: 0,
        stopToAvailableMs: 2000,
        cpuPercentOfTwoCores: 50,
        mainEventLoopDelayMsP99: 20,
      },
    }),
  );
} finally {
  await Promise.all(pool.map((p) => p.close()));
  await studio.stop();
  dir.remove();
}
