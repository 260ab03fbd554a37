/**
 * bench/sync: lip sync of recordings from a libwebrtc publisher (white flash + 1 kHz beep at the
 * same instants), every scenario in one run: pauses of all media (0.5, 1, 3, 5, 10 s), mute and
 * camera off, audio clocks ±5,000 ppm and (longer) ±500 ppm, a starved bursty audio source.
 * Prints one JSON line: A/V offset median/min/max (ms, positive: video late) before and after each
 * pause, at the start and end of each drift run, and per file the packets whose time does not
 * increase (duplicates). Target: every |offset| ≤ 20 ms, 0 duplicates.
 *   node --import tsx bench/sync.ts [--driftSec 120]
 */
import { startHeadless } from '../test/helpers/headless';
import type { SyncScenario } from '../test/helpers/libwebrtcPublisher';
import { ArchiveApi, OperatorClient } from '../test/helpers/studio';
import {
  measureScenario,
  nonIncreasing,
  pairsBetween,
  recordScenario,
  summary,
  type RecordedScenario,
  type ScenarioResult,
} from '../test/helpers/syncScenario';
import { tempDir } from '../test/helpers/tmp';
import { numberArgs } from './lib';

const { driftSec } = numberArgs({ driftSec: 120 });
/** libwebrtc's first audio sender report may take a few seconds: offsets count from here. */
const SYNCED_FROM_MS = 8000;
const PAUSES = [
  { atMs: 10_000, lengthMs: 500 },
  { atMs: 15_000, lengthMs: 1000 },
  { atMs: 21_000, lengthMs: 3000 },
  { atMs: 29_000, lengthMs: 5000 },
  { atMs: 39_000, lengthMs: 10_000 },
];
const driftMs = driftSec * 1000;
const scenarios: Record<string, Partial<SyncScenario>> = {
  pauses: { durationMs: 54_000, pauses: PAUSES.map((p) => ({ ...p, audio: true, video: true })) },
  mute: { durationMs: 16_000, pauses: [{ atMs: 10_000, lengthMs: 2000, audio: true, video: false }] },
  cameraOff: { durationMs: 16_000, pauses: [{ atMs: 10_000, lengthMs: 2000, audio: false, video: true }] },
  fast5000: { durationMs: 40_000, audioClock: 1.005 },
  slow5000: { durationMs: 40_000, audioClock: 0.995 },
  fast500: { durationMs: driftMs, audioClock: 1.0005 },
  slow500: { durationMs: driftMs, audioClock: 0.9995 },
  starved: { durationMs: 20_000, starved: { factor: [0.9, 0.95], burstMs: [100, 300] } },
};

const offsets = (result: ScenarioResult, from: number, to: number) =>
  summary(
    pairsBetween(result, from, to)
      .map((p) => p.offsetMs)
      .filter((o): o is number => o !== null),
  );

const dir = tempDir('spool-bench-');
const core = await startHeadless({
  dataDir: dir.path,
  env: { SPOOL_LOG_LEVEL: 'error', SPOOL_SESSION_GRACE_SEC: '1' },
});
try {
  const operator = await OperatorClient.login(core);
  const api = new ArchiveApi(core.url);
  const recorded = new Map<string, RecordedScenario>();
  const lane = async (names: string[]) => {
    for (const name of names)
      recorded.set(name, await recordScenario(operator, api, dir.path, scenarios[name]!, name));
  };
  await Promise.all([
    lane(['fast500', 'mute', 'cameraOff']),
    lane(['slow500', 'starved']),
    lane(['pauses', 'fast5000', 'slow5000']),
  ]);
  // Decoded once every publisher is done (a decode beside a publisher starves it).
  const results = new Map<string, ScenarioResult>();
  for (const [name, file] of recorded) results.set(name, await measureScenario(file));

  const out: Record<string, unknown> = { bench: 'sync', publisher: 'libwebrtc (@roamhq/wrtc)' };
  const pauses = results.get('pauses')!;
  out.pauses = PAUSES.map((p, i) => ({
    lengthSec: p.lengthMs / 1000,
    before: offsets(pauses, i === 0 ? SYNCED_FROM_MS : PAUSES[i - 1]!.atMs + PAUSES[i - 1]!.lengthMs, p.atMs),
    after: offsets(pauses, p.atMs + p.lengthMs, PAUSES[i + 1]?.atMs ?? p.atMs + p.lengthMs + 5000),
  }));
  for (const name of ['mute', 'cameraOff']) {
    const r = results.get(name)!;
    out[name] = { before: offsets(r, SYNCED_FROM_MS, 10_000), after: offsets(r, 12_000, 16_000) };
  }
  for (const name of ['fast5000', 'slow5000', 'fast500', 'slow500']) {
    const r = results.get(name)!;
    const end = scenarios[name]!.durationMs!;
    out[name] = {
      driftPpm: r.file.tracks?.audio?.timing.driftPpm ?? null,
      start: offsets(r, SYNCED_FROM_MS, SYNCED_FROM_MS + 5000),
      end: offsets(r, end - 6000, end),
      framesInserted: r.file.tracks?.audio?.timing.framesInserted ?? null,
      framesRemoved: r.file.tracks?.audio?.timing.framesRemoved ?? null,
    };
  }
  out.duplicateTimestamps = Object.fromEntries(
    [...results].map(([name, r]) => [
      name,
      { audio: nonIncreasing(r.packets.audio), video: nonIncreasing(r.packets.video) },
    ]),
  );
  out.framesDropped = Object.fromEntries(
    [...results].map(([name, r]) => [
      name,
      { audio: r.file.tracks?.audio?.framesDropped, video: r.file.tracks?.video?.framesDropped },
    ]),
  );
  const all = [...results.values()].flatMap((r) =>
    r.pairs.filter((p) => p.expected * 1000 + r.fileStartWall - r.report.startedAt >= SYNCED_FROM_MS),
  );
  const measured = all.map((p) => p.offsetMs).filter((o): o is number => o !== null);
  out.overall = { ...summary(measured), unmatched: all.length - measured.length };
  console.log(JSON.stringify(out));
} finally {
  await core.stop();
  dir.remove();
}
