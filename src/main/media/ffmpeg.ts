import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { FfmpegInfo } from '../../shared/api';

const execFileAsync = promisify(execFile);

/** A usable ffmpeg, with its ffprobe when one sits beside it or on PATH. */
export interface Ffmpeg {
  path: string;
  ffprobePath: string | null;
  source: 'config' | 'ffmpeg-static' | 'FFMPEG_PATH' | 'PATH';
  version: string;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string, env: NodeJS.ProcessEnv): string | null {
  const exe = process.platform === 'win32' ? `${name}.exe` : name;
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir !== '' && isExecutable(join(dir, exe))) return join(dir, exe);
  }
  return null;
}

function fromFfmpegStatic(): string | null {
  try {
    const require = createRequire(import.meta.url);
    // ffmpeg-static is optional: its binary download fails on machines without internet,
    // and then the path it returns has nothing behind it.
    const path = require('ffmpeg-static') as string | null;
    return path !== null && isExecutable(path) ? path : null;
  } catch {
    return null;
  }
}

async function versionOf(path: string): Promise<string | null> {
  try {
    const { stdout } = await execFileAsync(path, ['-hide_banner', '-version'], { timeout: 10_000 });
    const match = /version\s+(\S+)/.exec(stdout);
    return match?.[1] ?? 'unknown';
  } catch {
    return null;
  }
}

/**
 * Finds ffmpeg: the configured path, then `ffmpeg-static`, then `FFMPEG_PATH`, then `ffmpeg` on
 * PATH. Throws an error naming every place tried when none works.
 */
export async function resolveFfmpeg(
  configured: string | null,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Ffmpeg> {
  const candidates: Array<{ source: Ffmpeg['source']; path: string | null; label: string }> = [];
  if (configured !== null)
    candidates.push({ source: 'config', path: configured, label: `ffmpegPath setting (${configured})` });
  candidates.push({ source: 'ffmpeg-static', path: fromFfmpegStatic(), label: 'the ffmpeg-static package' });
  candidates.push({
    source: 'FFMPEG_PATH',
    path: env.FFMPEG_PATH || null,
    label: env.FFMPEG_PATH ? `FFMPEG_PATH (${env.FFMPEG_PATH})` : 'FFMPEG_PATH (not set)',
  });
  candidates.push({ source: 'PATH', path: onPath('ffmpeg', env), label: 'ffmpeg on PATH' });

  for (const candidate of candidates) {
    if (candidate.path === null || !isExecutable(candidate.path)) continue;
    const version = await versionOf(candidate.path);
    if (version === null) continue;
    const sibling = join(dirname(candidate.path), process.platform === 'win32' ? 'ffprobe.exe' : 'ffprobe');
    const ffprobePath = isExecutable(sibling) ? sibling : env.FFPROBE_PATH || onPath('ffprobe', env);
    return { path: candidate.path, ffprobePath, source: candidate.source, version };
  }
  throw new Error(
    `ffmpeg was not found. Tried: ${candidates.map((c) => c.label).join('; ')}. ` +
      'Install ffmpeg (e.g. apt-get install ffmpeg), or set FFMPEG_PATH or the ffmpegPath setting.',
  );
}

/** ffmpeg's state for /health and the doctor command. */
export function describeFfmpeg(ffmpeg: Ffmpeg | Error): FfmpegInfo {
  if (ffmpeg instanceof Error) return { found: false, error: ffmpeg.message };
  return { found: true, source: ffmpeg.source, path: ffmpeg.path, version: ffmpeg.version };
}

/** The encoders this ffmpeg offers (e.g. libx264, libvpx, aac, libopus). */
export async function listEncoders(ffmpeg: Ffmpeg): Promise<string[]> {
  const { stdout } = await execFileAsync(ffmpeg.path, ['-hide_banner', '-encoders'], { timeout: 10_000 });
  const names: string[] = [];
  for (const line of stdout.split('\n')) {
    const match = /^\s[VAS][A-Z.]{5}\s+(\S+)/.exec(line);
    if (match?.[1] !== undefined && match[1] !== '=') names.push(match[1]);
  }
  return names;
}
