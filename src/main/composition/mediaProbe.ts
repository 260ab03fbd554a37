import { execFile, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { StudioError } from '../../shared/errors';

const execFileAsync = promisify(execFile);

/** A stretch with no video frames, in the file's own seconds. */
export interface MediaGap {
  from: number;
  to: number;
}

/** What the composer needs to know about one recording file. */
export interface MediaProbe {
  /**
   * The container's start time in seconds. ffmpeg subtracts it from every stream of an input,
   * so the composer adds it back to keep the file's own timestamps.
   */
  startTime: number;
  /** Seconds, or null when the container does not say (a WebM written live). */
  duration: number | null;
  video: {
    codec: string;
    width: number;
    height: number;
    /** First and last frame times, in the file's seconds. */
    firstPts: number;
    lastPts: number;
    /** Stretches of at least `gapSec` without frames (mute, lost packets). */
    gaps: MediaGap[];
  } | null;
  audio: { codec: string; startTime: number; channels: number; sampleRate: number } | null;
}

export interface ProbeOptions {
  /** Shortest stretch without video frames reported as a gap (default 2 s). */
  gapSec?: number;
  signal?: AbortSignal;
}

interface FfprobeJson {
  format?: { start_time?: string; duration?: string };
  streams?: Array<{
    codec_type?: string;
    codec_name?: string;
    width?: number;
    height?: number;
    start_time?: string;
    channels?: number;
    sample_rate?: string;
  }>;
}

function num(value: string | undefined): number | null {
  if (value === undefined || value === 'N/A') return null;
  const n = Number(value);
  return Number.isFinite(n) ? n : null;
}

/** Frame times of the first video stream, scanned without decoding: first, last and gaps. */
async function scanVideoPackets(
  ffprobe: string,
  file: string,
  gapSec: number,
  signal?: AbortSignal,
): Promise<{ first: number; last: number; gaps: MediaGap[] } | null> {
  const child = spawn(
    ffprobe,
    ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts_time', '-of', 'csv=p=0', file],
    { stdio: ['ignore', 'pipe', 'pipe'], ...(signal ? { signal } : {}) },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  let first = Infinity;
  let last = -Infinity;
  const gaps: MediaGap[] = [];
  for await (const line of createInterface({ input: child.stdout })) {
    const t = Number(line.split(',')[0]);
    if (!Number.isFinite(line === '' ? NaN : t)) continue;
    // Packets come in decode order; B-frames make times step back a little, never a gap.
    if (last !== -Infinity && t - last >= gapSec) gaps.push({ from: last, to: t });
    first = Math.min(first, t);
    last = Math.max(last, t);
  }
  const code = await exited;
  if (code !== 0) throw new Error(`ffprobe cannot read the video packets of ${file}: ${stderr.trim()}`);
  return first === Infinity ? null : { first, last, gaps };
}

/** Probes a recording file with ffprobe: streams, start time, and gaps in its video. */
export async function probeMedia(
  ffprobe: string,
  file: string,
  options: ProbeOptions = {},
): Promise<MediaProbe> {
  let json: FfprobeJson;
  try {
    const { stdout } = await execFileAsync(
      ffprobe,
      [
        '-v',
        'error',
        '-show_entries',
        'format=start_time,duration:stream=codec_type,codec_name,width,height,start_time,channels,sample_rate',
        '-of',
        'json',
        file,
      ],
      { timeout: 60_000, maxBuffer: 4 * 1024 * 1024, ...(options.signal ? { signal: options.signal } : {}) },
    );
    json = JSON.parse(stdout) as FfprobeJson;
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim();
    throw new StudioError(
      'InvalidArgument',
      `recording file ${file} cannot be read: ${stderr || (error as Error).message}`,
      'file',
      { cause: error },
    );
  }
  const streams = json.streams ?? [];
  const v = streams.find((s) => s.codec_type === 'video');
  const a = streams.find((s) => s.codec_type === 'audio');
  const startTime = num(json.format?.start_time) ?? 0;
  let video: MediaProbe['video'] = null;
  if (v !== undefined) {
    const scan = await scanVideoPackets(ffprobe, file, options.gapSec ?? 2, options.signal);
    if (scan !== null) {
      video = {
        codec: v.codec_name ?? 'unknown',
        width: v.width ?? 0,
        height: v.height ?? 0,
        firstPts: scan.first,
        lastPts: scan.last,
        gaps: scan.gaps,
      };
    }
  }
  const audio: MediaProbe['audio'] =
    a === undefined
      ? null
      : {
          codec: a.codec_name ?? 'unknown',
          startTime: num(a.start_time) ?? startTime,
          channels: a.channels ?? 1,
          sampleRate: num(a.sample_rate) ?? 48_000,
        };
  return { startTime, duration: num(json.format?.duration), video, audio };
}
