import { APP_VERSION } from './appInfo';
import type { StudioConfig } from './config/loadConfig';
import { listEncoders, resolveFfmpeg } from './media/ffmpeg';
import { diskInfo } from './Studio';

const gib = (bytes: number) => `${(bytes / 1024 ** 3).toFixed(1)} GiB`;

/** Prints what the studio finds on this machine; returns the exit code (1 when ffmpeg is missing). */
export async function runDoctor(config: StudioConfig, print: (line: string) => void): Promise<number> {
  const { settings } = config;
  print(`Spool Studio ${APP_VERSION} on Node ${process.version} (${process.platform}/${process.arch})`);
  print(`data directory: ${config.dataDir}`);
  print(`settings file:  ${config.settingsPath}`);
  print(`http:           ${settings.bindAddress}:${settings.httpPort}`);
  print(
    `https (LAN):    ${settings.lanAddress === null ? 'off (set lanAddress)' : `${settings.lanAddress}:${settings.httpsPort}`}`,
  );
  print(`api key:        ${settings.apiKey}`);
  const disk = await diskInfo(config.dataDir);
  print(`free disk:      ${gib(disk.freeBytes)} of ${gib(disk.totalBytes)}`);
  let code = 0;
  try {
    const ffmpeg = await resolveFfmpeg(settings.ffmpegPath);
    print(`ffmpeg:         ${ffmpeg.version} at ${ffmpeg.path} (from ${ffmpeg.source})`);
    print(`ffprobe:        ${ffmpeg.ffprobePath ?? 'not found'}`);
    const encoders = await listEncoders(ffmpeg);
    const wanted = ['libx264', 'aac', 'libvpx', 'libvpx-vp9', 'libopus'];
    print(
      `encoders:       ${wanted.map((name) => `${name} ${encoders.includes(name) ? 'yes' : 'MISSING'}`).join(', ')}`,
    );
  } catch (error) {
    print(`ffmpeg:         NOT FOUND — ${(error as Error).message}`);
    code = 1;
  }
  return code;
}
