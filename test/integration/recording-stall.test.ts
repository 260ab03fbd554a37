/**
 * A studio that stops for a moment (its machine swapping, a laptop's lid, a debugger) while a
 * libwebrtc publisher sends: what arrived meanwhile waits in the media socket's receive buffer
 * and comes as a backlog once the studio runs again. The recording keeps all of it, in sync.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { sentPairs } from '../helpers/libwebrtcPublisher';
import { decodeErrors } from '../helpers/probe';
import { startRecordingStudio, type RecordingStudio } from '../helpers/recordingStudio';
import {
  measureScenario,
  median,
  nonIncreasing,
  recordScenario,
  type ScenarioResult,
} from '../helpers/syncScenario';

/**
 * When the studio stops (ms after the publisher starts), and for how long: 5 s where a media
 * socket can have its 4 MB (Linux: `net.core.rmem_max`), else 2 s (the system's default buffer
 * holds that much of this publisher, not 5 s: its audio would be lost in the kernel).
 */
const STALL = { atMs: 8000, lengthMs: socketBufferMax() >= 4 * 1024 * 1024 ? 5000 : 2000 };

function socketBufferMax(): number {
  try {
    return Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8'));
  } catch {
    return Infinity; // not Linux: the studio asks for 4 MB and takes what the system gives
  }
}

describe(`recording through a studio stalled ${STALL.lengthMs / 1000} s (libwebrtc publisher)`, () => {
  let studio: RecordingStudio;
  let result: ScenarioResult;

  before(
    async () => {
      studio = await startRecordingStudio();
      const { core, operator, api, dir } = studio;
      const stall = setTimeout(() => {
        core.process.kill('SIGSTOP');
        setTimeout(() => core.process.kill('SIGCONT'), STALL.lengthMs);
      }, STALL.atMs);
      try {
        const recorded = await recordScenario(operator, api, dir.path, { durationMs: 20_000 }, 'stall');
        result = await measureScenario(recorded);
      } finally {
        clearTimeout(stall);
        core.process.kill('SIGCONT');
      }
    },
    { timeout: 90_000 },
  );
  after(async () => {
    await studio?.close();
  });

  it('keeps every frame that waited for it, every flash with its beep and in sync', async () => {
    const { file, pairs } = result;
    const seen = JSON.stringify(file.tracks);
    assert.equal(file.tracks?.video?.framesDropped.late, 0, seen);
    assert.equal(file.tracks?.audio?.framesDropped.late, 0, seen);
    // Every flash sent (one a second) is in the file with its beep, the stall's too.
    assert.ok(pairs.length >= sentPairs(result.report).length - 2, `${pairs.length} pairs measured`);
    const missing = pairs.filter((p) => p.offsetMs === null || p.continuousMs === null);
    assert.deepEqual(
      missing.map((p) => p.expected.toFixed(1)),
      [],
      `flashes without their beep; found ${JSON.stringify(result.found)}`,
    );
    const offsets = pairs.map((p) => p.offsetMs!);
    assert.ok(Math.abs(median(offsets)) <= 20, `offsets ${offsets}`);
    assert.equal(nonIncreasing(result.packets.audio), 0, 'audio packet times');
    assert.equal(nonIncreasing(result.packets.video), 0, 'video packet times');
    assert.equal(await decodeErrors(result.path), '');
  });
});
