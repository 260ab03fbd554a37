import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Ffmpeg } from '../media/ffmpeg';

const run = promisify(execFile);

/**
 * Copies a file's streams into a new container (no transcoding): to MP4 with the index at the
 * front, or to Matroska/WebM with cues and duration (repairing a file a crash cut off).
 */
export async function remux(ffmpeg: Ffmpeg, input: string, output: string, mp4: boolean): Promise<void> {
  const args = ['-hide_banner', '-loglevel', 'error', '-y', '-i', input, '-map', '0', '-c', 'copy'];
  if (mp4) args.push('-movflags', '+faststart');
  args.push(output);
  await run(ffmpeg.path, args, { timeout: 10 * 60_000 });
}

/** Duration of a media file in seconds (0 when unknown). */
export async function probeDuration(ffmpeg: Ffmpeg, file: string): Promise<number> {
  if (ffmpeg.ffprobePath === null) return 0;
  const { stdout } = await run(ffmpeg.ffprobePath, [
    '-v',
    'error',
    '-show_entries',
    'format=duration',
    '-of',
    'default=noprint_wrappers=1:nokey=1',
    file,
  ]);
  const value = Number(stdout.trim());
  return Number.isFinite(value) ? value : 0;
}
