import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface Probe {
  duration: number;
  /** The container's start time (s): ffmpeg shifts the file's times by it when it reads. */
  startTime: number;
  streams: Array<{ codec_type: string; codec_name: string; width?: number; height?: number }>;
}

/** ffprobe's format duration and start time, and the streams of a file. */
export async function probe(file: string): Promise<Probe> {
  const { stdout } = await run('ffprobe', [
    '-v',
    'error',
    '-show_entries',
    'format=duration,start_time:stream=codec_type,codec_name,width,height',
    '-of',
    'json',
    file,
  ]);
  const json = JSON.parse(stdout) as {
    format: { duration?: string; start_time?: string };
    streams: Probe['streams'];
  };
  return {
    duration: Number(json.format.duration ?? NaN),
    startTime: Number(json.format.start_time ?? 0),
    streams: json.streams,
  };
}

/**
 * What `ffmpeg -v error -i file -f null -` prints: empty for a clean file. The null output
 * keeps the file's own time base, so a variable frame rate (browsers adapt theirs) is not
 * taken for colliding timestamps.
 */
export async function decodeErrors(file: string): Promise<string> {
  const { stderr } = await run(
    'ffmpeg',
    ['-hide_banner', '-v', 'error', '-i', file, '-enc_time_base:v', '-1', '-f', 'null', '-'],
    {
      maxBuffer: 16 * 1024 * 1024,
    },
  );
  return stderr.trim();
}

/** Whether the first video frame of a file is a keyframe. */
export async function firstVideoFrameIsKey(file: string): Promise<boolean> {
  const { stdout } = await run('ffprobe', [
    '-v',
    'error',
    '-select_streams',
    'v:0',
    '-read_intervals',
    '%+#1',
    '-show_entries',
    'frame=key_frame',
    '-of',
    'csv=p=0',
    file,
  ]);
  return stdout.trim().split('\n')[0]?.trim().startsWith('1') ?? false;
}
