import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { ArchiveJson, Manifest } from '../../src/shared/archive';
import { startHeadless, type HeadlessCore } from '../helpers/headless';
import { probe } from '../helpers/probe';
import { makeClip, SyntheticPublisher } from '../helpers/publisher';
import { ArchiveApi, OperatorClient, waitFor } from '../helpers/studio';
import { tempDir } from '../helpers/tmp';

const FPS = 30;
/** Length of the recording (the 90 s; LIVE_TEST_SEC shortens it while developing). */
const RECORD_SEC = Number(process.env.LIVE_TEST_SEC ?? 90);
const LAYOUT_AT_SEC = Math.round((RECORD_SEC * 40) / 90);
/** Output seconds per live chunk (set explicitly: the joins checked below sit on its multiples). */
const CHUNK_SEC = 6;
/** The tone of publisher A (makeClip `tone`). */
const TONE_HZ = 440;

/**
 * The media's end on the composition's timeline (s). manifest.json counts from when recording
 * began (OpenTok), compositions from the start call (where `PUT …/layout` offsets count from):
 * the two are `createdAt − startCalledAt` apart, a few frames on a loaded machine.
 */
function shiftSec(manifest: Manifest): number {
  return (manifest.createdAt - (manifest.startCalledAt ?? manifest.createdAt)) / 1000;
}

function mediaEndSec(manifest: Manifest): number {
  return Math.max(...manifest.files.map((f) => f.stopTimeOffset)) / 1000 + shiftSec(manifest);
}

/**
 * The phase (rad, at sample 0 of the stream) and amplitude of the 440 Hz tone in samples
 * [from, to): a least-squares fit of a·cos(ωn) + b·sin(ωn).
 */
function tonePhase(x: Float32Array, from: number, to: number): { phase: number; amplitude: number } {
  const w = (2 * Math.PI * TONE_HZ) / 48_000;
  let cc = 0;
  let ss = 0;
  let cs = 0;
  let xc = 0;
  let xs = 0;
  for (let i = from; i < to; i++) {
    const c = Math.cos(w * i);
    const s = Math.sin(w * i);
    cc += c * c;
    ss += s * s;
    cs += c * s;
    xc += x[i]! * c;
    xs += x[i]! * s;
  }
  const det = cc * ss - cs * cs;
  const a = (xc * ss - xs * cs) / det;
  const b = (xs * cc - xc * cs) / det;
  return { phase: Math.atan2(-b, a), amplitude: Math.hypot(a, b) };
}

/** The difference of two phases, in (-π, π]. */
function phaseStep(a: number, b: number): number {
  let d = (b - a) % (2 * Math.PI);
  if (d > Math.PI) d -= 2 * Math.PI;
  if (d <= -Math.PI) d += 2 * Math.PI;
  return d;
}

/** ffmpeg's stdout as a Buffer. */
function ffmpegOut(args: string[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const chunks: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(Buffer.concat(chunks)) : reject(new Error(`ffmpeg ${code}: ${stderr}`)),
    );
  });
}

/** Video packet times and stream kinds of a file. */
async function packets(file: string): Promise<{ streams: string[]; videoPts: number[] }> {
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn(
      'ffprobe',
      [
        '-v',
        'error',
        '-show_entries',
        'stream=codec_type,codec_name:packet=stream_index,pts_time',
        '-of',
        'csv',
        file,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let text = '';
    child.stdout.on('data', (c: Buffer) => (text += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(text) : reject(new Error(`ffprobe ${code}`))));
  });
  const streams: string[] = [];
  const videoPts: number[] = [];
  for (const line of out.split('\n')) {
    const parts = line.split(',');
    if (parts[0] === 'stream') streams.push(`${parts[2]}:${parts[1]}`);
  }
  const videoIndex = streams.findIndex((s) => s.startsWith('video'));
  for (const line of out.split('\n')) {
    const parts = line.split(',');
    if (parts[0] === 'packet' && Number(parts[1]) === videoIndex) videoPts.push(Number(parts[2]));
  }
  videoPts.sort((a, b) => a - b);
  return { streams, videoPts };
}

/** The start time (s) of a file's audio stream. */
async function audioStart(file: string): Promise<number> {
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn(
      'ffprobe',
      ['-v', 'error', '-select_streams', 'a:0', '-show_entries', 'stream=start_time', '-of', 'csv=p=0', file],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let text = '';
    child.stdout.on('data', (c: Buffer) => (text += c.toString()));
    child.on('error', reject);
    child.on('close', () => resolve(text));
  });
  const value = Number(out.trim());
  return Number.isFinite(value) ? value : 0;
}

/** Frames [first, first + count) as 16×12 RGB thumbnails. */
async function thumbnails(file: string, first: number, count: number): Promise<Buffer[]> {
  const raw = await ffmpegOut([
    '-ss',
    String((first - 0.5) / FPS),
    '-i',
    file,
    '-frames:v',
    String(count),
    '-vf',
    'scale=16:12:flags=area',
    '-f',
    'rawvideo',
    '-pix_fmt',
    'rgb24',
    '-',
  ]);
  const size = 16 * 12 * 3;
  return Array.from({ length: Math.floor(raw.length / size) }, (_, i) =>
    raw.subarray(i * size, (i + 1) * size),
  );
}

function distance(a: Buffer, b: Buffer): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
  return sum / a.length;
}

/** The composition file row's info (what the composer recorded about its work). */
function compositionInfo(dataDir: string, archiveId: string): Record<string, unknown> {
  const db = new Database(join(dataDir, 'studio.db'), { readonly: true });
  try {
    const row = db
      .prepare("SELECT info FROM archive_files WHERE archive_id = ? AND filename = 'archive.mp4'")
      .get(archiveId) as { info: string } | undefined;
    assert.ok(row, 'archive.mp4 has a file row');
    return JSON.parse(row.info) as Record<string, unknown>;
  } finally {
    db.close();
  }
}

/** A publisher's clip (made once, blocking: `before` makes both before any test sends). */
function liveClip(color: 'red' | 'blue'): string {
  return makeClip({ durationSec: 150, width: 320, height: 240, color, tone: true, videoKbps: 200 });
}

async function publishers(core: HeadlessCore, roomId: string): Promise<SyntheticPublisher[]> {
  const operator = await OperatorClient.login(core);
  const out: SyntheticPublisher[] = [];
  // A: red picture and a steady tone; B: blue picture, no audio (one tone: nothing to cancel).
  for (const [color, audio] of [
    ['red', true],
    ['blue', false],
  ] as const) {
    const token = await operator.createToken(roomId);
    out.push(
      await SyntheticPublisher.start({
        whipUrl: token.whipUrl,
        token: token.token,
        clip: liveClip(color),
        audio,
      }),
    );
    await waitFor(
      async () =>
        (await operator.room(roomId)).session?.streams.filter((s) => s.codecs.video).length === out.length,
      15_000,
      `stream ${out.length}`,
    );
  }
  return out;
}

// The two tests use their own studios and run side by side: the crash test's 20 s fit within the
// long recording, whose composition keeps up all the same (2 cores).
describe('live composition', { concurrency: 2 }, () => {
  before(() => {
    liveClip('red');
    liveClip('blue');
  });
  it(
    `composes a ${RECORD_SEC} s archive while it records: after stop only the tail is rendered, the layout changes at the stored offset, the tone never breaks`,
    { timeout: (RECORD_SEC + 150) * 1000 },
    async () => {
      const dir = tempDir();
      const core = await startHeadless({
        dataDir: dir.path,
        env: { SPOOL_LIVE_COMPOSITION_CHUNK_SEC: String(CHUNK_SEC) },
        timeoutMs: 60_000,
      });
      let pubs: SyntheticPublisher[] = [];
      try {
        const operator = await OperatorClient.login(core);
        const room = await operator.createRoom({ name: 'Live' });
        pubs = await publishers(core, room.id);
        const api = new ArchiveApi(core.url);
        const started = await api.start({
          sessionId: room.id,
          outputMode: 'composed',
          resolution: '640x480',
          layout: { type: 'bestFit' },
        });
        const t0 = Date.now();
        await new Promise((resolve) => setTimeout(resolve, LAYOUT_AT_SEC * 1000));
        const put = await api.call<{ atMs: number }>('PUT', `/archive/${started.id}/layout`, { type: 'pip' });
        assert.equal(put.status, 200);
        assert.equal(typeof put.body.atMs, 'number');
        const atMs = put.body.atMs;
        assert.ok(Math.abs(atMs - LAYOUT_AT_SEC * 1000) < 5000, `layout stored at ${atMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, t0 + RECORD_SEC * 1000 - Date.now())));
        // Composition runs below the recorder: on a starved machine the first fragments may
        // still be coming; the archive records on meanwhile (the duration check reads the files).
        const partial = join(dir.path, 'archives', started.id, 'archive.mp4.part');
        await waitFor(() => existsSync(partial) && statSync(partial).size > 0, 60_000, 'live fragments');
        const stopAt = Date.now();
        await api.stop(started.id);
        const available = await api.waitStatus(started.id, 'available', 120_000);
        const stopToAvailable = Date.now() - stopAt;
        assert.equal(available.status, 'available');

        const archiveDir = join(dir.path, 'archives', started.id);
        const file = join(archiveDir, 'archive.mp4');
        assert.ok(existsSync(file));
        if (process.env.LIVE_TEST_KEEP) copyFileSync(file, process.env.LIVE_TEST_KEEP);
        assert.ok(!existsSync(join(archiveDir, '.live')), 'the chunk folder is removed');

        // Only the tail was rendered after stop.
        const info = compositionInfo(dir.path, started.id);
        const live = info.live as {
          framesBeforeStop: number;
          framesAfterStop: number;
          chunksAfterStop: number;
          tail: {
            backlogFrames: number;
            inFlightMs: number;
            renderMs: number;
            muxerMs: number;
            placeMs: number;
          };
          prerollSec: number;
        };
        assert.ok(live, `the composition was made live: ${JSON.stringify(info)}`);
        const totalFrames = live.framesBeforeStop + live.framesAfterStop;
        // What was rendered while recording was kept: after stop, only the frames not yet
        // rendered were (no re-render), and at least one chunk (15 s) was rendered before stop.
        assert.ok(live.framesBeforeStop >= 15 * FPS, `${live.framesBeforeStop} frames rendered live`);
        // The tail is what the composition could not have rendered yet — less than a chunk plus
        // the lag (2 s) behind the live edge, plus the recorder's stop — and what it had fallen
        // behind by at stop (a loaded machine; reported as the backlog, caught up after stop).
        const structural = (CHUNK_SEC + 2 + 3) * FPS;
        assert.ok(
          live.framesAfterStop <= live.tail.backlogFrames + structural,
          `tail ${live.framesAfterStop} frames, backlog ${live.tail.backlogFrames}: ${JSON.stringify(live.tail)}`,
        );

        // Duration matches the recorded media.
        const manifest = JSON.parse(readFileSync(join(archiveDir, 'manifest.json'), 'utf8')) as Manifest;
        const endSec = mediaEndSec(manifest);
        const probed = await probe(file);
        assert.ok(
          Math.abs(probed.duration - endSec) <= 0.1,
          `duration ${probed.duration} vs media ${endSec}`,
        );
        // ±1 frame for where the last frame's time rounds; a re-render would add a whole chunk.
        assert.ok(
          Math.abs(totalFrames - Math.round(endSec * FPS)) <= 1,
          `before + after stop = the whole output, once: ${totalFrames} frames for ${endSec} s`,
        );

        // One continuous video stream and one audio stream, a frame every 1/30 s.
        const { streams, videoPts } = await packets(file);
        assert.deepEqual(streams.sort(), ['audio:aac', 'video:h264']);
        assert.ok(
          Math.abs(videoPts.length - Math.round(endSec * FPS)) <= 1,
          `${videoPts.length} video frames`,
        );
        for (let i = 1; i < videoPts.length; i++) {
          const step = videoPts[i]! - videoPts[i - 1]!;
          assert.ok(Math.abs(step - 1 / FPS) < 0.002, `frame ${i} comes ${step} s after the previous one`);
        }

        // The layout switches at the offset the PUT returned, ± 1 frame.
        const switchFrame = Math.round((atMs / 1000) * FPS);
        const thumbs = await thumbnails(file, switchFrame - 15, 30);
        assert.equal(thumbs.length, 30);
        const before = thumbs[0]!;
        const after = thumbs[29]!;
        assert.ok(distance(before, after) > 20, 'bestFit and pip look different');
        const changed = thumbs.findIndex((t) => distance(t, before) > distance(t, after));
        const observed = switchFrame - 15 + changed;
        assert.ok(
          Math.abs(observed - switchFrame) <= 1,
          `layout changed at frame ${observed}, the PUT said ${switchFrame}`,
        );

        // The tone runs through the whole file without a break the composition made: every
        // 10 ms window whose level leaves the steady range or whose waveform jumps (a sine's
        // second difference is tiny, ω²·A; a phase step or a lost block is not) must be a break
        // the recorded stream itself has at that time (a loaded machine can lose packets on
        // the way in; the composition must add none, at chunk joins or anywhere).
        const toneFile = manifest.files.find((f) => f.hasAudio);
        assert.ok(toneFile, 'the tone stream was recorded');
        const breaks = (samples: Float32Array): number[] => {
          const win = 480;
          const rms: number[] = [];
          const jump: number[] = [];
          for (let i = 0; i + win <= samples.length; i += win) {
            let sum = 0;
            let d2 = 0;
            for (let k = i; k < i + win; k++) {
              sum += samples[k]! ** 2;
              if (k > 0 && k + 1 < samples.length)
                d2 = Math.max(d2, Math.abs(samples[k + 1]! - 2 * samples[k]! + samples[k - 1]!));
            }
            rms.push(Math.sqrt(sum / win));
            jump.push(d2);
          }
          const loud = rms.map((r, i) => [r, i] as const).filter(([r]) => r > 0.03);
          if (loud.length === 0) return [];
          const first = loud[0]![1] + 10;
          const last = loud.at(-1)![1] - 10;
          const sorted = rms.slice(first, last).sort((a, b) => a - b);
          const median = sorted[Math.floor(sorted.length / 2)]!;
          const out: number[] = [];
          for (let w = first; w < last; w++) {
            if (rms[w]! < median * 0.7 || rms[w]! > median * 1.3 || jump[w]! > 0.02) out.push(w / 100);
          }
          return out;
        };
        const decode = async (path: string) => {
          const pcm = await ffmpegOut([
            '-i',
            path,
            '-map',
            '0:a',
            '-ac',
            '1',
            '-ar',
            '48000',
            '-f',
            'f32le',
            '-',
          ]);
          return new Float32Array(pcm.buffer, pcm.byteOffset, Math.floor(pcm.length / 4));
        };
        const composed = await decode(file);
        assert.ok(composed.length / 48_000 > RECORD_SEC - 5, 'the audio spans the recording');
        const sourcePath = join(archiveDir, toneFile.filename);
        const sourceStart =
          toneFile.startTimeOffset / 1000 + shiftSec(manifest) + (await audioStart(sourcePath));
        const sourceBreaks = breaks(await decode(sourcePath)).map((t) => t + sourceStart);
        const added = breaks(composed).filter((t) => !sourceBreaks.some((b) => Math.abs(b - t) <= 0.15));
        assert.deepEqual(
          added,
          [],
          `breaks in the composed tone that the recorded stream does not have (s): ${added.join(', ')}`,
        );

        // Chunk joins, sample by sample: every join sits on a multiple of the chunk (recording
        // chunks are CHUNK_SEC long from 0, catch-up chunks 30 s). The tone's phase fitted on the
        // 10 ms before a join and on the 10 ms after must agree: a gap or overlap of d samples
        // steps it by 2π·440·d/48000 — 2.8 rad for 1 ms. (A pure tone cannot show a gap of a
        // whole number of its 2.27 ms periods; the chunk's PCM is checked to be exactly its
        // frames' samples before it reaches the one AAC encoder, which rules those out.)
        // A join where the recorded stream itself breaks (packet loss on a loaded machine) says
        // nothing about the composition: it is skipped and counted.
        const joinFrames = CHUNK_SEC * FPS;
        const steps: string[] = [];
        let checked = 0;
        let skipped = 0;
        for (let f = joinFrames; f < totalFrames - FPS; f += joinFrames) {
          const at = f / FPS;
          if (sourceBreaks.some((b) => b > at - 0.04 && b < at + 0.03)) {
            skipped++;
            continue;
          }
          const c = f * 1600;
          const before = tonePhase(composed, c - 480, c);
          const after = tonePhase(composed, c, c + 480);
          if (before.amplitude < 0.03) continue; // no tone here (before the guest's audio)
          checked++;
          const step = phaseStep(before.phase, after.phase);
          const ratio = after.amplitude / before.amplitude;
          if (Math.abs(step) > 0.3 || ratio < 0.8 || ratio > 1.25) {
            steps.push(`${at} s: phase ${step.toFixed(2)} rad, level ×${ratio.toFixed(2)}`);
          }
        }
        assert.deepEqual(steps, [], `the tone steps at chunk joins: ${steps.join('; ')}`);
        assert.ok(
          checked >= (checked + skipped) * 0.7 && checked >= 5,
          `${checked} joins checked, ${skipped} skipped`,
        );
        console.log(
          `# live composition: stop → available ${stopToAvailable} ms, tail ${live.framesAfterStop} frames ` +
            `${JSON.stringify(live.tail)}, pre-roll ${live.prerollSec} s, ${statSync(file).size} bytes, ` +
            `${sourceBreaks.length} breaks already in the recorded stream, ${checked} joins continuous, ${skipped} skipped`,
        );
      } finally {
        for (const p of pubs) await p.close();
        await core.stop();
        dir.remove();
      }
    },
  );

  it(
    'completes a composed archive after a crash mid-recording by composing the recovered files whole',
    { timeout: 120_000 },
    async () => {
      const dir = tempDir();
      let core = await startHeadless({
        dataDir: dir.path,
        env: { SPOOL_LIVE_COMPOSITION_CHUNK_SEC: '4' },
        timeoutMs: 60_000,
      });
      let pubs: SyntheticPublisher[] = [];
      try {
        const operator = await OperatorClient.login(core);
        const room = await operator.createRoom({ name: 'Crash' });
        pubs = await publishers(core, room.id);
        const api = new ArchiveApi(core.url);
        const started = await api.start({
          sessionId: room.id,
          outputMode: 'composed',
          resolution: '640x480',
        });
        const partial = join(dir.path, 'archives', started.id, 'archive.mp4.part');
        // The live composition has written fragments when the studio dies.
        await waitFor(() => existsSync(partial) && statSync(partial).size > 10_000, 60_000, 'live fragments');
        await new Promise((resolve) => setTimeout(resolve, 2000));
        await core.kill();
        for (const p of pubs) await p.close();
        pubs = [];

        core = await startHeadless({
          dataDir: dir.path,
          env: { SPOOL_LIVE_COMPOSITION_CHUNK_SEC: '4' },
          timeoutMs: 60_000,
        });
        const restarted = new ArchiveApi(core.url);
        const archive: ArchiveJson = await restarted.waitStatus(started.id, 'available', 90_000);
        assert.equal(archive.reason, 'failure');
        const archiveDir = join(dir.path, 'archives', started.id);
        assert.ok(!existsSync(partial), 'the untrusted partial output is gone');
        assert.ok(!existsSync(join(archiveDir, '.live')));
        const info = compositionInfo(dir.path, started.id);
        assert.equal(info.live, undefined, 'composed whole by the offline path');
        const manifest = JSON.parse(readFileSync(join(archiveDir, 'manifest.json'), 'utf8')) as Manifest;
        const endSec = mediaEndSec(manifest);
        assert.ok(endSec > 5, `recovered ${endSec} s`);
        const probed = await probe(join(archiveDir, 'archive.mp4'));
        assert.ok(
          Math.abs(probed.duration - endSec) <= 0.1,
          `duration ${probed.duration} vs recovered ${endSec}`,
        );
      } finally {
        for (const p of pubs) await p.close();
        await core.stop();
        dir.remove();
      }
    },
  );
});
