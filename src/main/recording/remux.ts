import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Ffmpeg } from '../media/ffmpeg';

const run = promisify(execFile);

/**
 * Copies a file's streams into a new container (no transcoding): to MP4 with the index at the
 * front, or to Matroska/WebM with cues and duration (repairing a file a crash cut off).
 */
export async function remux(ffmpeg: Ffmpeg, input: string, output: string, mp4: boolean): Promise<void> {
  const args = [
    '-hide_banner',
    '-nostdin',
    '-loglevel',
    'error',
    '-y',
    '-i',
    input,
    '-map',
    '0',
    '-c',
    'copy',
  ];
  // The format is named: the output may have a temporary name without the right extension.
  if (mp4) args.push('-movflags', '+faststart', '-f', 'mp4');
  args.push(output);
  await run(ffmpeg.path, args, { timeout: 10 * 60_000 });
}

/** Duration of a media file in seconds (0 when unknown) and its number of streams. */
export async function probeStreams(
  ffmpeg: Ffmpeg,
  file: string,
): Promise<{ duration: number; streams: number }> {
  if (ffmpeg.ffprobePath === null) return { duration: 0, streams: 0 };
  const { stdout } = await run(ffmpeg.ffprobePath, [
    '-v',
    'error',
    '-show_entries',
    'format=duration:stream=index',
    '-of',
    'json',
    file,
  ]);
  const json = JSON.parse(stdout) as { format?: { duration?: string }; streams?: unknown[] };
  const duration = Number(json.format?.duration ?? NaN);
  return { duration: Number.isFinite(duration) ? duration : 0, streams: json.streams?.length ?? 0 };
}
