/**
 * Records a libwebrtc publisher's scripted scenario (pauses, drift, a starved source) with a
 * running studio and measures the file: A/V offsets of every flash/beep pair, by container
 * timestamps and decoded as one continuous stream, and the packet times of each track. Shared by
 * the sync tests and bench/sync.ts.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Manifest, ManifestFile } from '../../src/shared/archive';
import { beepTimes, FINE_WINDOW_SAMPLES } from './avsync';
import { LibwebrtcPublisher, sentPairs, type PublisherReport, type SyncScenario } from './libwebrtcPublisher';
import { flashTimes } from './media';
import type { ArchiveApi, OperatorClient } from './studio';

const run = promisify(execFile);

export interface Pair {
  /** File time (s) where the pair was sent. */
  expected: number;
  /** Offset (ms, positive: video late) by container timestamps, and decoded back to back. */
  offsetMs: number | null;
  continuousMs: number | null;
}

/** A scenario's file, recorded but not measured yet. */
export interface RecordedScenario {
  path: string;
  file: ManifestFile;
  report: PublisherReport;
  /** Wall time (ms since epoch) of the file's time 0. */
  fileStartWall: number;
}

export interface ScenarioResult extends RecordedScenario {
  pairs: Pair[];
  packets: { audio: number[]; video: number[] };
  /** Flashes and beep onsets found (s, by container timestamps), for messages. */
  found: { flashes: number[]; beeps: number[] };
}

/**
 * Records a scenario in a new room; the archive runs while the publisher sends. Measuring (decoding
 * the file) is left to `measureScenario`: run beside another scenario's publisher, it
 * would take the CPU that publisher needs to send its flashes on time.
 */
export async function recordScenario(
  operator: OperatorClient,
  api: ArchiveApi,
  dataDir: string,
  scenario: Partial<SyncScenario>,
  name: string,
): Promise<RecordedScenario> {
  const room = await operator.createRoom({ name });
  const token = await operator.createToken(room.id, { connectionData: name });
  const publisher = await LibwebrtcPublisher.start({
    whipUrl: token.whipUrl,
    token: token.token,
    ...scenario,
  });
  try {
    const archive = await api.start({ sessionId: room.id, outputMode: 'individual', name });
    const report = await publisher.finished();
    // The interleaver holds the last half second.
    await new Promise((resolve) => setTimeout(resolve, 800));
    await api.stop(archive.id);
    const manifest = JSON.parse(
      readFileSync(join(dataDir, 'archives', archive.id, 'manifest.json'), 'utf8'),
    ) as Manifest;
    const file = manifest.files[0]!;
    const path = join(dataDir, 'archives', archive.id, file.filename);
    return { path, file, report, fileStartWall: archive.createdAt + file.startTimeOffset };
  } finally {
    await publisher.close();
  }
}

/** Measures a recorded scenario: the offset of every pair sent, and the packet times. */
export async function measureScenario(recorded: RecordedScenario): Promise<ScenarioResult> {
  const { path, file, report, fileStartWall } = recorded;
  // The pictures decode once: only the sound's timing differs between the two readings.
  const [flashes, beeps, beepsContinuous, packets] = await Promise.all([
    flashTimes(path),
    beepTimes(path, -30, FINE_WINDOW_SAMPLES),
    beepTimes(path, -30, FINE_WINDOW_SAMPLES, true),
    packetTimes(path),
  ]);
  const end = (file.stopTimeOffset - file.startTimeOffset) / 1000;
  const pairs = sentPairs(report)
    .map((wall) => (wall - fileStartWall) / 1000)
    .filter((t) => t > 0.3 && t < end - 0.3)
    .map((expected) => ({
      expected,
      offsetMs: near({ flashes, beeps }, expected),
      continuousMs: near({ flashes, beeps: beepsContinuous }, expected),
    }));
  const found = { flashes, beeps };
  return { ...recorded, pairs, packets, found };
}

/** The offset of the flash found near `expected` (s), if that flash has a beep near it. */
function near(result: { flashes: number[]; beeps: number[] }, expected: number): number | null {
  const flash = result.flashes.find((f) => Math.abs(f - expected) < 0.4);
  if (flash === undefined) return null;
  const beep = result.beeps.reduce(
    (best, b) => (Math.abs(b - flash) < Math.abs(best - flash) ? b : best),
    Infinity,
  );
  const offset = Math.round((flash - beep) * 1000);
  return Math.abs(offset) <= 250 ? offset : null;
}

/** Packet times (s) of each track, in file order. */
export async function packetTimes(path: string): Promise<{ audio: number[]; video: number[] }> {
  const { stdout } = await run(
    'ffprobe',
    ['-v', 'error', '-show_entries', 'packet=codec_type,pts_time', '-of', 'csv=p=0', path],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  const out = { audio: [] as number[], video: [] as number[] };
  for (const line of stdout.trim().split('\n')) {
    const [kind, time] = line.split(',');
    if (kind === 'audio' || kind === 'video') out[kind].push(Number(time));
  }
  return out;
}

/** Packets whose time is not after the one before (duplicates and steps back). */
export function nonIncreasing(times: number[]): number {
  let count = 0;
  for (let i = 1; i < times.length; i++) if (!(times[i]! > times[i - 1]!)) count++;
  return count;
}

/** The median (of an even count, the mean of the two middle values). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length / 2;
  return Number.isInteger(middle) ? (sorted[middle - 1]! + sorted[middle]!) / 2 : sorted[Math.floor(middle)]!;
}

/** Median, min and max of offsets. */
export function summary(values: number[]): { median: number; min: number; max: number; n: number } | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return {
    median: median(values),
    min: sorted[0]!,
    max: sorted[sorted.length - 1]!,
    n: sorted.length,
  };
}

/** Pairs in a window of scenario time (ms since the publisher started). */
export function pairsBetween(result: ScenarioResult, fromMs: number, toMs: number): Pair[] {
  const offset = (result.report.startedAt - result.fileStartWall) / 1000;
  return result.pairs.filter(
    (p) => p.expected >= fromMs / 1000 + offset && p.expected < toMs / 1000 + offset,
  );
}
