import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Composer, type ComposeRequest } from '../../src/main/composition/Composer';
import type { TimedLayout } from '../../src/main/composition/compositionPlan';
import { createLogger } from '../../src/main/logger';
import { resolveFfmpeg, type Ffmpeg } from '../../src/main/media/ffmpeg';
import type { ManifestFile } from '../../src/shared/archive';
import type { Layout } from '../../src/shared/layout';
import { launchChromium } from '../helpers/browser';
import {
  averageColor,
  beepTimes,
  colorNear,
  flashTimes,
  frameAt,
  isFaststart,
  makeSource,
  manifestFile,
  nameColor,
  nearestDistances,
  probeFile,
  serveFile,
  writeManifest,
  type ColorName,
  type Frame,
} from '../helpers/media';
import { tempDir } from '../helpers/tmp';

const FRAME = 1 / 30;

/** Plays the <video id="v">, seeks to 15 s, plays on; reports duration, time and any media error. */
const PLAY_AND_SEEK = `(async () => {
  const video = document.getElementById('v');
  const wait = (what, ok, ms = 10000) => new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = () => {
      if (video.error) reject(new Error('media error ' + video.error.code + ': ' + video.error.message));
      else if (ok()) resolve();
      else if (Date.now() - started > ms) reject(new Error('timed out waiting for ' + what));
      else setTimeout(tick, 50);
    };
    tick();
  });
  await wait('metadata', () => video.readyState >= 1);
  const duration = video.duration;
  await video.play();
  await wait('playback', () => video.currentTime > 0.5);
  video.pause();
  video.currentTime = 15;
  await wait('the seek', () => !video.seeking && Math.abs(video.currentTime - 15) < 0.5);
  const afterSeek = video.currentTime;
  await video.play();
  await wait('playback after the seek', () => video.currentTime > afterSeek + 0.3);
  video.pause();
  return { duration, now: video.currentTime, error: video.error ? video.error.message : null };
})()`;

/** The colour in the middle of a rectangle (a 16×16 average, away from tile edges). */
function colorAt(frame: Frame, x: number, y: number): ColorName {
  return nameColor(averageColor(frame, x - 8, y - 8, 16, 16));
}

describe('composition rendering (real ffmpeg)', () => {
  let dir: ReturnType<typeof tempDir>;
  let composer: Composer;
  let ffmpeg: Ffmpeg;
  let gridMp4: string;

  /** Writes a manifest for `files` in a fresh archive folder and composes it. */
  async function compose(
    name: string,
    files: ManifestFile[],
    options: Partial<Omit<ComposeRequest, 'manifest' | 'archiveDir' | 'output'>> & { layout?: Layout } = {},
  ): Promise<{ output: string; duration: number }> {
    const archiveDir = join(dir.path, name);
    const manifest = writeManifest(archiveDir, files);
    const output = join(archiveDir, options.encode?.format === 'webm' ? 'out.webm' : 'out.mp4');
    const layouts: TimedLayout[] = options.layouts ?? [
      { atMs: 0, layout: options.layout ?? { type: 'bestFit' } },
    ];
    const result = await composer.compose({
      archiveDir,
      manifest,
      layouts,
      canvas: options.canvas ?? { width: 320, height: 240 },
      encode: options.encode ?? {
        format: 'mp4',
        videoCodec: 'h264',
        maxBitrate: null,
        x264Preset: 'ultrafast',
      },
      audioSources: options.audioSources ?? ['*'],
      audioSourcesExcluded: options.audioSourcesExcluded ?? [],
      trim: options.trim ?? false,
      video: options.video ?? true,
      audio: options.audio ?? true,
      output,
    });
    return { output, duration: result.duration };
  }

  const src = (name: string) => join(dir.path, 'sources', name);

  before(async () => {
    dir = tempDir('spool-compose-');
    ffmpeg = await resolveFfmpeg(null);
    composer = new Composer({ ffmpeg, logger: createLogger({ level: 'silent' }) });
    // Small, short sources: each property below needs only a few seconds at low resolution.
    const jobs: Array<Promise<unknown>> = [];
    const colors: ColorName[] = ['red', 'green', 'blue', 'yellow'];
    colors.forEach((color, i) =>
      jobs.push(
        makeSource({ path: src(`${color}.webm`), duration: i === 3 ? 20 : 24, color, tone: 300 + 100 * i }),
      ),
    );
    jobs.push(
      makeSource({
        path: src('screen.webm'),
        duration: 4,
        width: 320,
        height: 180,
        color: 'blue',
        audio: false,
      }),
    );
    jobs.push(makeSource({ path: src('cam-red.webm'), duration: 4, color: 'red' }));
    jobs.push(makeSource({ path: src('cam-green.webm'), duration: 4, color: 'green' }));
    jobs.push(makeSource({ path: src('flash-a.webm'), duration: 12, flash: { every: 2 }, gaps: [[3, 5.5]] }));
    jobs.push(makeSource({ path: src('flash-b.webm'), duration: 12, flash: { every: 2 } }));
    jobs.push(
      makeSource({
        path: src('resize.webm'),
        duration: 6,
        color: 'magenta',
        resizeAt: { at: 3, width: 90, height: 120 },
      }),
    );
    jobs.push(
      makeSource({ path: src('busy.webm'), duration: 6, width: 320, height: 240, pattern: 'testsrc2' }),
    );
    jobs.push(makeSource({ path: src('h264.mkv'), duration: 3, color: 'red' }));
    jobs.push(makeSource({ path: src('h264.mp4'), duration: 3, color: 'green' }));
    jobs.push(makeSource({ path: src('vp9.webm'), duration: 3, color: 'blue', codec: 'vp9' }));
    jobs.push(makeSource({ path: src('av1.webm'), duration: 3, color: 'yellow', codec: 'av1' }));
    await Promise.all(jobs);
  });

  after(() => dir?.remove());

  it('a 2×2 grid shows each source in its own tile, and a source that leaves at 20 s frees its tile', async () => {
    const colors: ColorName[] = ['red', 'green', 'blue', 'yellow'];
    const files = colors.map((color, i) =>
      manifestFile({
        streamId: color,
        filename: `../sources/${color}.webm`,
        startTimeOffset: 0,
        stopTimeOffset: i === 3 ? 20_000 : 24_000,
      }),
    );
    const { output } = await compose('grid', files);
    gridMp4 = output;
    const centres: Array<[number, number]> = [
      [80, 60],
      [240, 60],
      [80, 180],
      [240, 180],
    ];
    for (const t of [1, 10, 19.5]) {
      const frame = await frameAt(output, t);
      assert.deepEqual(
        centres.map(([x, y]) => colorAt(frame, x, y)),
        colors,
        `tiles at ${t} s`,
      );
    }
    for (const t of [20.2, 23]) {
      const frame = await frameAt(output, t);
      const seen = [];
      for (let y = 10; y < 240; y += 20) for (let x = 10; x < 320; x += 20) seen.push(colorAt(frame, x, y));
      assert.ok(!seen.includes('yellow'), `yellow has left at ${t} s`);
      assert.notEqual(colorAt(frame, 240, 180), 'yellow', 'its tile is free');
      assert.ok(seen.includes('red') && seen.includes('green') && seen.includes('blue'), 'the others stay');
    }
  });

  it('the composed MP4 is H.264 + AAC 48 kHz with faststart, at the canvas size and the timeline length', async () => {
    const probe = await probeFile(gridMp4);
    assert.match(probe.formatName, /mp4/);
    assert.ok(Math.abs(probe.duration - 24) < 0.1, `duration ${probe.duration}`);
    assert.equal(probe.video?.codec_name, 'h264');
    assert.equal(probe.video?.width, 320);
    assert.equal(probe.video?.height, 240);
    assert.equal(probe.audio?.codec_name, 'aac');
    assert.equal(probe.audio?.sample_rate, '48000');
    assert.equal(probe.audio?.channels, 2);
    assert.ok(isFaststart(gridMp4), 'moov comes before mdat');
  });

  it('pip draws the screen share full size and the camera in the corner over it', async () => {
    const { output } = await compose(
      'pip',
      [
        manifestFile({
          streamId: 'cam',
          filename: '../sources/cam-red.webm',
          startTimeOffset: 0,
          stopTimeOffset: 4000,
        }),
        manifestFile({
          streamId: 'screen',
          filename: '../sources/screen.webm',
          startTimeOffset: 0,
          stopTimeOffset: 4000,
          videoType: 'screen',
        }),
      ],
      { layout: { type: 'pip' } },
    );
    const frame = await frameAt(output, 2);
    assert.equal(colorAt(frame, 160, 120), 'blue', 'the screen fills the canvas');
    assert.equal(colorAt(frame, 160, 12), 'black', 'letterboxed: 16:9 in 4:3');
    assert.equal(colorAt(frame, 272, 202), 'red', 'the camera sits in the lower right corner');
    assert.equal(colorAt(frame, 200, 202), 'blue', 'left of the corner is the screen');
  });

  it('presentation layouts give the large region to the screen share', async () => {
    const files = [
      manifestFile({
        streamId: 'cam1',
        filename: '../sources/cam-red.webm',
        startTimeOffset: 0,
        stopTimeOffset: 4000,
      }),
      manifestFile({
        streamId: 'screen',
        filename: '../sources/screen.webm',
        startTimeOffset: 0,
        stopTimeOffset: 4000,
        videoType: 'screen',
      }),
      manifestFile({
        streamId: 'cam2',
        filename: '../sources/cam-green.webm',
        startTimeOffset: 0,
        stopTimeOffset: 4000,
      }),
    ];
    const vertical = await compose('vertical', files, { layout: { type: 'verticalPresentation' } });
    let frame = await frameAt(vertical.output, 2);
    assert.equal(colorAt(frame, 192, 120), 'blue', 'the screen takes the right four fifths');
    assert.equal(colorAt(frame, 32, 60), 'red', 'cameras share the left edge');
    assert.equal(colorAt(frame, 32, 180), 'green');
    const horizontal = await compose('horizontal', files, { layout: { type: 'horizontalPresentation' } });
    frame = await frameAt(horizontal.output, 2);
    assert.equal(colorAt(frame, 160, 96), 'blue', 'the screen takes the top');
    assert.equal(colorAt(frame, 80, 216), 'red', 'cameras share the bottom edge');
    assert.equal(colorAt(frame, 240, 216), 'green');
  });

  it('keeps audio and video in sync within a frame, through a gap and for a source starting 7 s in', async () => {
    const { output } = await compose(
      'sync',
      [
        manifestFile({
          streamId: 'a',
          filename: '../sources/flash-a.webm',
          startTimeOffset: 0,
          stopTimeOffset: 12_000,
        }),
        manifestFile({
          streamId: 'b',
          filename: '../sources/flash-b.webm',
          startTimeOffset: 7000,
          stopTimeOffset: 19_000,
        }),
      ],
      { canvas: { width: 320, height: 120 } },
    );
    const beeps = await beepTimes(output);
    // Alone, a source is centred (x 80–240); together they sit side by side (a: 0–160, b: 160–320):
    // watch where both places of each overlap.
    // After a leaves (12 s), b is centred there in turn.
    const flashesA = (await flashTimes(output, { x: 88, y: 20, width: 64, height: 80 })).filter(
      (t) => t > 0.5 && t < 12,
    );
    // Before b arrives, a is centred there.
    const flashesB = (await flashTimes(output, { x: 168, y: 20, width: 64, height: 80 })).filter(
      (t) => t > 6.9,
    );
    assert.deepEqual(
      flashesA.map((t) => Math.round(t)),
      [2, 6, 8, 10],
      'source a flashes every 2 s except in its gap (3 – 5.5 s)',
    );
    assert.deepEqual(
      flashesB.map((t) => Math.round(t)),
      [7, 9, 11, 13, 15, 17],
      'source b starts 7 s in',
    );
    assert.ok(Math.abs(flashesB[0]! - 7) <= FRAME + 0.001, `b's first flash at ${flashesB[0]} s`);
    const flashes = [...flashesA, ...flashesB];
    nearestDistances(flashes, beeps).forEach((distance, i) => {
      assert.ok(distance <= FRAME + 0.005, `flash at ${flashes[i]} s is ${distance} s from its beep`);
    });
  });

  it('a layout change at 10 s shows in the output at 10 s (±1 frame)', async () => {
    const files = [
      manifestFile({
        streamId: 'red',
        filename: '../sources/red.webm',
        startTimeOffset: 0,
        stopTimeOffset: 12_000,
      }),
      manifestFile({
        streamId: 'blue',
        filename: '../sources/blue.webm',
        startTimeOffset: 0,
        stopTimeOffset: 12_000,
      }),
    ];
    const { output } = await compose('change', files, {
      layouts: [
        { atMs: 0, layout: { type: 'bestFit' } },
        { atMs: 10_000, layout: { type: 'focus', focus: ['stream:blue'] } },
      ],
    });
    const before = await frameAt(output, 10 - 2 * FRAME);
    assert.equal(colorAt(before, 80, 120), 'red', 'side by side before');
    assert.equal(colorAt(before, 240, 120), 'blue');
    const after = await frameAt(output, 10 + FRAME);
    assert.equal(colorAt(after, 80, 120), 'blue', 'blue fills the canvas after');
    assert.equal(colorAt(after, 240, 120), 'blue');
  });

  it('follows a resolution change inside a source, letterboxing each part', async () => {
    const { output } = await compose('resize', [
      manifestFile({
        streamId: 'm',
        filename: '../sources/resize.webm',
        startTimeOffset: 0,
        stopTimeOffset: 6000,
      }),
    ]);
    const landscape = await frameAt(output, 1.5);
    assert.equal(colorAt(landscape, 20, 120), 'magenta', '4:3 fills the 4:3 canvas');
    const portrait = await frameAt(output, 4.5);
    assert.equal(colorAt(portrait, 160, 120), 'magenta', '3:4 sits in the middle');
    assert.equal(colorAt(portrait, 20, 120), 'black', 'with bars left and right');
  });

  it('composes H.264 (Matroska, fragmented MP4), VP9 and AV1 recordings alike', async () => {
    const names = ['h264.mkv', 'h264.mp4', 'vp9.webm', 'av1.webm'];
    const { output } = await compose(
      'codecs',
      names.map((name) =>
        manifestFile({
          streamId: name,
          filename: `../sources/${name}`,
          startTimeOffset: 0,
          stopTimeOffset: 3000,
        }),
      ),
    );
    const frame = await frameAt(output, 1.5);
    assert.deepEqual(
      [colorAt(frame, 80, 60), colorAt(frame, 240, 60), colorAt(frame, 80, 180), colorAt(frame, 240, 180)],
      ['red', 'green', 'blue', 'yellow'],
    );
  });

  it('trims the leading and trailing stretches without sources when asked', async () => {
    const { output, duration } = await compose(
      'trim',
      [
        manifestFile({
          streamId: 'r',
          filename: '../sources/cam-red.webm',
          startTimeOffset: 3000,
          stopTimeOffset: 7000,
        }),
      ],
      { trim: true },
    );
    assert.ok(Math.abs(duration - 4) < 0.05, `duration ${duration}`);
    assert.equal(colorAt(await frameAt(output, 0.1), 160, 120), 'red');
  });

  it('writes WebM (VP8 + Opus) and keeps the video under maxBitrate', async () => {
    const files = [
      manifestFile({
        streamId: 'busy',
        filename: '../sources/busy.webm',
        startTimeOffset: 0,
        stopTimeOffset: 6000,
      }),
    ];
    const { output } = await compose('webm', files, {
      encode: { format: 'webm', videoCodec: 'vp8', maxBitrate: 200_000 },
    });
    const probe = await probeFile(output);
    assert.match(probe.formatName, /webm|matroska/);
    assert.equal(probe.video?.codec_name, 'vp8');
    assert.equal(probe.audio?.codec_name, 'opus');
    assert.ok(Math.abs(probe.duration - 6) < 0.1);
    const capped = await compose('capped', files, {
      encode: { format: 'mp4', videoCodec: 'h264', maxBitrate: 100_000, x264Preset: 'ultrafast' },
    });
    const uncapped = await compose('uncapped', files);
    const cappedProbe = await probeFile(capped.output);
    const uncappedProbe = await probeFile(uncapped.output);
    const videoRate = (p: typeof cappedProbe) => Number(p.video?.bit_rate);
    assert.ok(videoRate(cappedProbe) < 160_000, `capped video at ${videoRate(cappedProbe)} b/s`);
    assert.ok(videoRate(uncappedProbe) > 2 * videoRate(cappedProbe), 'the cap made a difference');
  });

  it('the composed MP4 plays and seeks in Chromium', async () => {
    const served = await serveFile(gridMp4);
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (error) => errors.push(error.message));
      await page.setContent(`<video id="v" muted playsinline src="${served.url}"></video>`);
      // A string, not a function: tsx would wrap a function's inner helpers in `__name(…)`,
      // which does not exist in the page.
      const result = (await page.evaluate(PLAY_AND_SEEK)) as {
        duration: number;
        now: number;
        error: string | null;
      };
      assert.ok(Math.abs(result.duration - 24) < 0.2, `duration ${result.duration}`);
      assert.ok(result.now > 15, `currentTime ${result.now}`);
      assert.equal(result.error, null);
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
      await served.close();
    }
  });

  it('stops an ffmpeg that makes no progress and fails the composition', async () => {
    const fake = join(dir.path, 'wedged-ffmpeg');
    writeFileSync(fake, '#!/bin/sh\nexec sleep 30\n', { mode: 0o755 });
    const wedged = new Composer({
      ffmpeg: { ...ffmpeg, path: fake },
      logger: createLogger({ level: 'silent' }),
      stallTimeoutMs: 400,
    });
    const archiveDir = join(dir.path, 'wedged');
    const manifest = writeManifest(archiveDir, [
      manifestFile({
        streamId: 'r',
        filename: '../sources/cam-red.webm',
        startTimeOffset: 0,
        stopTimeOffset: 4000,
      }),
    ]);
    let pid: number | undefined;
    await assert.rejects(
      wedged.compose(
        {
          archiveDir,
          manifest,
          layouts: [{ atMs: 0, layout: { type: 'bestFit' } }],
          canvas: { width: 320, height: 240 },
          encode: { format: 'mp4', videoCodec: 'h264', maxBitrate: null },
          audioSources: ['*'],
          audioSourcesExcluded: [],
          trim: false,
          video: true,
          audio: true,
          output: join(archiveDir, 'out.mp4'),
        },
        { onJob: (job) => (pid = job.pid) },
      ),
      /made no progress for 0 s/,
    );
    assert.ok(pid !== undefined);
    assert.throws(() => process.kill(pid!, 0), 'the process is gone');
    assert.ok(!existsSync(join(archiveDir, 'out.mp4')));
  });

  it('colorNear tells tile colours apart after H.264 compression', async () => {
    const frame = await frameAt(gridMp4, 5);
    assert.ok(colorNear(averageColor(frame, 72, 52, 16, 16), 'red'));
    assert.ok(!colorNear(averageColor(frame, 72, 52, 16, 16), 'yellow'));
  });
});
