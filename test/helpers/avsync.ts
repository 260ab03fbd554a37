/**
 * Measures audio/video sync in a media file made from a "flash and beep" clip: the times of
 * white video frames and of 1 kHz beep onsets, and how far each flash is from its beep.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { flashTimes } from './media';

const run = promisify(execFile);
/** `fine` finds beep onsets in windows of this many samples (2.5 ms at 48 kHz) instead of 480. */
export const FINE_WINDOW_SAMPLES = 120;

/**
 * Onset times (s) of beeps: 10 ms windows whose RMS rises above `thresholdDb` after quiet. Unlike
 * `media.beepTimes` (silence detection), a beep at the very start of a file counts too: a
 * recording may begin on one.
 */
export async function beepTimes(
  file: string,
  thresholdDb = -30,
  windowSamples = 480,
  continuous = false,
): Promise<number[]> {
  // Decoded as one stream of samples, as a player that ignores timestamps plays it: times count
  // samples from the first decoded frame's time (as ffmpeg gives it, like the flashes' times: it
  // shifts a file that starts before 0, and an Opus pre-skip moves the first frame on).
  const { stdout, stderr } = await run(
    'ffmpeg',
    [
      '-hide_banner',
      '-nostdin',
      '-i',
      file,
      '-vn',
      '-af',
      `${continuous ? 'asetpts=STARTPTS+N/SR/TB,' : ''}aresample=48000,asetnsamples=n=${windowSamples}:p=0,` +
        'astats=metadata=1:reset=1,ametadata=print:key=lavfi.astats.Overall.RMS_level:file=-',
      '-f',
      'null',
      '-',
    ],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  const times: number[] = [];
  let time = 0;
  let loud = false;
  for (const line of (stdout + stderr).split('\n')) {
    const t = /pts_time:([\d.]+)/.exec(line);
    if (t) time = Number(t[1]);
    const level = /RMS_level=(-?[\d.]+|-inf)/.exec(line);
    if (level) {
      const db = level[1] === '-inf' ? -200 : Number(level[1]);
      const isLoud = db > thresholdDb;
      if (isLoud && !loud) times.push(time);
      loud = isLoud;
    }
  }
  return times;
}

/**
 * For each flash, the signed distance (ms) to the nearest beep (positive: video late). `fine`
 * finds beep onsets in 2.5 ms windows instead of 10 ms.
 */
export async function avOffsets(
  file: string,
  options: { fine?: boolean; continuous?: boolean } = {},
): Promise<{ flashes: number[]; beeps: number[]; offsetsMs: number[] }> {
  const [flashes, beeps] = await Promise.all([
    flashTimes(file),
    beepTimes(file, -30, options.fine ? FINE_WINDOW_SAMPLES : 480, options.continuous),
  ]);
  const offsetsMs = flashes
    .map((f) => {
      const nearest = beeps.reduce((best, b) => (Math.abs(b - f) < Math.abs(best - f) ? b : best), Infinity);
      return Number.isFinite(nearest) ? Math.round((f - nearest) * 1000) : NaN;
    })
    .filter((v) => !Number.isNaN(v));
  return { flashes, beeps, offsetsMs };
}
