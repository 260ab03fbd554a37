import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { StudioError } from '../../shared/errors';

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

function num(value: string | undefined): number | null {
  if (value === undefined || value === 'N/A') return null;
  const n = Number(value);
  return Number.isFinite(n) ? n : null;
}

/** `section|key=value|key=value` (ffprobe's compact writer) → section and fields. */
function parseCompact(line: string): { section: string; fields: Record<string, string> } {
  const parts = line.split('|');
  const fields: Record<string, string> = {};
  for (const part of parts.slice(1)) {
    const eq = part.indexOf('=');
    if (eq > 0) fields[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return { section: parts[0] ?? '', fields };
}

/**
 * Probes a recording file with one ffprobe run: its streams, its start time, and the times of
 * its video packets (read without decoding), which give the first and last frame and the gaps.
 */
export async function probeMedia(
  ffprobe: string,
  file: string,
  options: ProbeOptions = {},
): Promise<MediaProbe> {
  const gapSec = options.gapSec ?? 2;
  const child = spawn(
    ffprobe,
    [
      '-v',
      'error',
      '-show_entries',
      'packet=stream_index,pts_time:' +
        'stream=index,codec_type,codec_name,width,height,start_time,channels,sample_rate:' +
        'format=start_time,duration',
      '-of',
      'compact',
      file,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], ...(options.signal ? { signal: options.signal } : {}) },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  // Awaited after the output is read; an abort meanwhile must not count as unhandled.
  exited.catch(() => {});

  // Packets come before the stream sections: keep each stream's packet times until we know
  // which one is the video.
  const packets = new Map<string, { first: number; last: number; gaps: MediaGap[] }>();
  const streams: Array<Record<string, string>> = [];
  let format: Record<string, string> = {};
  for await (const line of createInterface({ input: child.stdout })) {
    const { section, fields } = parseCompact(line);
    if (section === 'packet') {
      const t = num(fields.pts_time);
      const index = fields.stream_index ?? '';
      if (t === null) continue;
      const p = packets.get(index);
      if (p === undefined) {
        packets.set(index, { first: t, last: t, gaps: [] });
        continue;
      }
      // Packets come in decode order; B-frames step back a little, never a gap.
      if (t - p.last >= gapSec) p.gaps.push({ from: p.last, to: t });
      p.first = Math.min(p.first, t);
      p.last = Math.max(p.last, t);
    } else if (section === 'stream') {
      streams.push(fields);
    } else if (section === 'format') {
      format = fields;
    }
  }
  let code: number | null;
  try {
    code = await exited;
  } catch (error) {
    if ((error as Error).name === 'AbortError') throw error;
    throw new StudioError('Unavailable', `ffprobe cannot run: ${(error as Error).message}`, undefined, {
      cause: error,
    });
  }
  if (code !== 0) {
    throw new StudioError(
      'InvalidArgument',
      `recording file ${file} cannot be read: ${stderr.trim() || `ffprobe exited with ${code}`}`,
      'file',
    );
  }
  const startTime = num(format.start_time) ?? 0;
  const v = streams.find((s) => s.codec_type === 'video');
  const a = streams.find((s) => s.codec_type === 'audio');
  const scan = v === undefined ? undefined : packets.get(v.index ?? '');
  return {
    startTime,
    duration: num(format.duration),
    video:
      v === undefined || scan === undefined
        ? null
        : {
            codec: v.codec_name ?? 'unknown',
            width: num(v.width) ?? 0,
            height: num(v.height) ?? 0,
            firstPts: scan.first,
            lastPts: scan.last,
            gaps: scan.gaps,
          },
    audio:
      a === undefined
        ? null
        : {
            codec: a.codec_name ?? 'unknown',
            startTime: num(a.start_time) ?? startTime,
            channels: num(a.channels) ?? 1,
            sampleRate: num(a.sample_rate) ?? 48_000,
          },
  };
}
