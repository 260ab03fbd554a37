/**
 * Measures audio/video sync in a media file made from a "flash and beep" clip: the times of
 * white video frames and of 1 kHz beep onsets, and how far each flash is from its beep.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Presentation times (s) of frames whose mean luma is above `threshold` (start of each run). */
export async function flashTimes(file: string, threshold = 128): Promise<number[]> {
  const { stderr } = await run(
    'ffmpeg',
    [
      '-hide_banner',
      '-i',
      file,
      '-an',
      '-vf',
      'signalstats,metadata=print:key=lavfi.signalstats.YAVG:file=-',
      '-f',
      'null',
      '-',
    ],
    { maxBuffer: 64 * 1024 * 1024 },
  ).then(
    (r) => ({ stderr: r.stdout + r.stderr }),
    (e: { stdout?: string; stderr?: string }) => ({ stderr: (e.stdout ?? '') + (e.stderr ?? '') }),
  );
  const times: number[] = [];
  let time = 0;
  let bright = false;
  for (const line of stderr.split('\n')) {
    const t = /pts_time:([\d.]+)/.exec(line);
    if (t) time = Number(t[1]);
    const y = /YAVG=([\d.]+)/.exec(line);
    if (y) {
      const isBright = Number(y[1]) > threshold;
      if (isBright && !bright) times.push(time);
      bright = isBright;
    }
  }
  return times;
}

/** Onset times (s) of beeps: 10 ms windows whose RMS rises above `thresholdDb` after quiet. */
export async function beepTimes(file: string, thresholdDb = -30): Promise<number[]> {
  const { stdout, stderr } = await run(
    'ffmpeg',
    [
      '-hide_banner',
      '-i',
      file,
      '-vn',
      '-af',
      'aresample=48000,asetnsamples=n=480:p=0,astats=metadata=1:reset=1,ametadata=print:key=lavfi.astats.Overall.RMS_level:file=-',
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

/** For each flash, the signed distance (ms) to the nearest beep (positive: video late). */
export async function avOffsets(
  file: string,
): Promise<{ flashes: number[]; beeps: number[]; offsetsMs: number[] }> {
  const [flashes, beeps] = await Promise.all([flashTimes(file), beepTimes(file)]);
  const offsetsMs = flashes
    .map((f) => {
      const nearest = beeps.reduce((best, b) => (Math.abs(b - f) < Math.abs(best - f) ? b : best), Infinity);
      return Number.isFinite(nearest) ? Math.round((f - nearest) * 1000) : NaN;
    })
    .filter((v) => !Number.isNaN(v));
  return { flashes, beeps, offsetsMs };
}
