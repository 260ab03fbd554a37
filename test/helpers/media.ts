/**
 * Synthetic media and the measurements tests make on media files, all with the real ffmpeg.
 *
 * Make sources:   `makeSource` (solid colour or test pattern; VP8/VP9/AV1 WebM, H.264 Matroska
 *                 or fragmented MP4, Opus audio; optional PTS gaps, white flashes with matching
 *                 beeps, or a resolution change), `writeManifest` (an archive folder as the
 *                 recorder leaves it).
 * Inspect files:  `probeFile` (ffprobe JSON), `isFaststart` (moov before mdat),
 *                 `frameAt` + `pixel`/`averageColor`/`colorNear` (sample pixels of a frame),
 *                 `flashTimes` and `beepTimes` (A/V sync), `serveFile` (HTTP with Range).
 *
 * Every generator encodes fast (libvpx realtime, x264 ultrafast): keep sources short and small.
 */
import { execFile } from 'node:child_process';
import { createReadStream, mkdirSync, openSync, readSync, closeSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { Manifest, ManifestFile } from '../../src/shared/archive';

const run = promisify(execFile);
const FFMPEG = process.env.FFMPEG_PATH || 'ffmpeg';
const FFPROBE = process.env.FFPROBE_PATH || 'ffprobe';

/** An RGB colour, 0–255 per channel. */
export type Rgb = [number, number, number];

/** Colours whose YUV round trip stays far apart: good for telling tiles apart. */
export const COLORS = {
  red: [255, 0, 0],
  green: [0, 255, 0],
  blue: [0, 0, 255],
  yellow: [255, 255, 0],
  magenta: [255, 0, 255],
  cyan: [0, 255, 255],
  white: [255, 255, 255],
  black: [0, 0, 0],
} as const satisfies Record<string, Rgb>;
export type ColorName = keyof typeof COLORS;

export interface SourceOptions {
  /** Output file: `.webm` (VP8 by default), `.mkv` or `.mp4` (fragmented; H.264 by default); Opus audio. */
  path: string;
  /** Video codec (default: VP8 for .webm, H.264 otherwise). */
  codec?: SourceCodec;
  /** Seconds. */
  duration: number;
  width?: number;
  height?: number;
  fps?: number;
  /** A solid colour (default), or `testsrc2` for a moving pattern. */
  color?: ColorName;
  pattern?: 'color' | 'testsrc2';
  /** Include video (default true). */
  video?: boolean;
  /** Include audio (default true): a sine tone, or the beeps of `flash`. */
  audio?: boolean;
  /** Tone frequency in Hz (default 440). */
  tone?: number;
  /**
   * The whole frame turns white for `length` s every `every` s (from 0), and the audio beeps
   * (1 kHz) exactly then, silent otherwise: an A/V sync probe.
   */
  flash?: { every: number; length?: number };
  /** Stretches [from, to) in seconds with no frames and no audio (timestamps jump: PTS gaps). */
  gaps?: Array<[number, number]>;
  /** Switch to this size at this second (the file changes resolution mid-stream). */
  resizeAt?: { at: number; width: number; height: number };
}

/** `[255, 0, 0]` → `0xFF0000` (ffmpeg's colour names differ: its "green" is 0x008000). */
function hex(rgb: Rgb): string {
  return `0x${rgb.map((c) => c.toString(16).padStart(2, '0')).join('')}`;
}

function videoFilter(
  o: Required<Pick<SourceOptions, 'duration' | 'width' | 'height' | 'fps'>> & SourceOptions,
): string {
  const size = `${o.width}x${o.height}`;
  let graph =
    o.pattern === 'testsrc2'
      ? `testsrc2=s=${size}:r=${o.fps}:d=${o.duration}`
      : `color=c=${o.flash ? '0x000000' : hex(COLORS[o.color ?? 'red'])}:s=${size}:r=${o.fps}:d=${o.duration}`;
  if (o.flash) {
    const length = o.flash.length ?? 0.1;
    graph += `,drawbox=x=0:y=0:w=iw:h=ih:color=white:t=fill:enable='lt(mod(t\\,${o.flash.every})\\,${length})'`;
  }
  graph += ',format=yuv420p';
  if (o.gaps?.length) {
    graph += `,select='not(${o.gaps.map(([a, b]) => `between(t\\,${a}\\,${b - 0.001})`).join('+')})'`;
  }
  return graph;
}

function audioFilter(o: SourceOptions): string {
  const expr = o.flash
    ? `if(lt(mod(t\\,${o.flash.every})\\,${o.flash.length ?? 0.1})\\,0.5*sin(2*PI*1000*t)\\,0)`
    : `0.3*sin(2*PI*${o.tone ?? 440}*t)`;
  let graph = `aevalsrc=${expr}:s=48000:d=${o.duration}`;
  if (o.gaps?.length) {
    graph += `,aselect='not(${o.gaps.map(([a, b]) => `between(t\\,${a}\\,${b - 0.001})`).join('+')})'`;
  }
  return graph;
}

/** Video codecs `makeSource` can write (AV1 with SVT-AV1 at its fastest preset). */
export type SourceCodec = 'vp8' | 'vp9' | 'h264' | 'av1';

function codecArgs(o: SourceOptions & { fps: number }, video: boolean, audio: boolean): string[] {
  // One encoder thread: libvpx's threads spin while they wait, so a test making several sources
  // at once beside other tests (more threads than cores) burned ~14× the CPU of one at a time.
  const args: string[] = ['-threads', '1'];
  const gop = String(o.fps);
  if (video) {
    const codec = o.codec ?? (o.path.endsWith('.webm') ? 'vp8' : 'h264');
    if (codec === 'vp8')
      args.push('-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', '400k', '-g', gop);
    if (codec === 'vp9') {
      args.push('-c:v', 'libvpx-vp9', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', '400k', '-g', gop);
    }
    if (codec === 'h264') args.push('-c:v', 'libx264', '-preset', 'ultrafast', '-g', gop);
    if (codec === 'av1') args.push('-c:v', 'libsvtav1', '-preset', '12', '-g', gop);
  }
  if (audio) args.push('-c:a', 'libopus', '-b:a', '48k');
  // MP4 as a recorder writes it: fragmented, readable while it grows.
  if (o.path.endsWith('.mp4')) args.push('-movflags', 'frag_keyframe+empty_moov+default_base_moof');
  return args;
}

/** Makes a synthetic recording file (see SourceOptions). Returns its path. */
export async function makeSource(options: SourceOptions): Promise<string> {
  const o = { width: 160, height: 120, fps: 30, ...options };
  const video = o.video !== false;
  const audio = o.audio !== false;
  mkdirSync(dirname(o.path), { recursive: true });
  if (o.resizeAt && video) {
    const first = `${o.path}.a${o.path.slice(o.path.lastIndexOf('.'))}`;
    const second = `${o.path}.b${o.path.slice(o.path.lastIndexOf('.'))}`;
    const { resizeAt, ...rest } = o;
    await makeSource({ ...rest, path: first, duration: resizeAt.at });
    await makeSource({
      ...rest,
      path: second,
      duration: o.duration - resizeAt.at,
      width: resizeAt.width,
      height: resizeAt.height,
    });
    const list = `${o.path}.txt`;
    writeFileSync(list, `file '${first}'\nfile '${second}'\n`);
    await run(FFMPEG, [
      '-hide_banner',
      '-nostdin',
      '-loglevel',
      'error',
      '-y',
      '-f',
      'concat',
      '-safe',
      '0',
      '-i',
      list,
      '-c',
      'copy',
      o.path,
    ]);
    return o.path;
  }
  const args = ['-hide_banner', '-nostdin', '-loglevel', 'error', '-y'];
  if (video) args.push('-f', 'lavfi', '-i', videoFilter(o));
  if (audio) args.push('-f', 'lavfi', '-i', audioFilter(o));
  // Gaps must stay gaps: no frame duplication to a constant rate.
  args.push('-fps_mode', 'passthrough', ...codecArgs(o, video, audio), o.path);
  await run(FFMPEG, args);
  return o.path;
}

/** A manifest file entry with defaults for the fields tests rarely care about. */
export function manifestFile(
  file: Pick<ManifestFile, 'streamId' | 'filename' | 'startTimeOffset' | 'stopTimeOffset'> &
    Partial<ManifestFile> & {
      layoutClassList?: string[];
    },
): ManifestFile {
  return { size: 0, connectionData: '', videoType: 'camera', ...file };
}

/** Writes `manifest.json` into an archive folder (file sizes are read from disk). */
export function writeManifest(
  archiveDir: string,
  files: ManifestFile[],
  extra: Partial<Manifest> = {},
): Manifest {
  mkdirSync(archiveDir, { recursive: true });
  const manifest: Manifest = {
    createdAt: Date.now(),
    id: extra.id ?? 'archive',
    name: '',
    partnerId: 12345678,
    sessionId: 'room',
    ...extra,
    files: files.map((f) => ({ ...f, size: f.size || safeSize(join(archiveDir, f.filename)) })),
  };
  writeFileSync(join(archiveDir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

function safeSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

// ---- inspection ---------------------------------------------------------------------------

export interface ProbeStream {
  codec_type: string;
  codec_name: string;
  width?: number;
  height?: number;
  sample_rate?: string;
  channels?: number;
  bit_rate?: string;
  duration?: string;
}

export interface FileProbe {
  formatName: string;
  duration: number;
  bitRate: number;
  streams: ProbeStream[];
  video: ProbeStream | undefined;
  audio: ProbeStream | undefined;
}

/** ffprobe's view of a file: container, duration, streams. */
export async function probeFile(file: string): Promise<FileProbe> {
  const { stdout } = await run(FFPROBE, [
    '-v',
    'error',
    '-show_format',
    '-show_streams',
    '-of',
    'json',
    file,
  ]);
  const json = JSON.parse(stdout) as {
    format: { format_name: string; duration?: string; bit_rate?: string };
    streams: ProbeStream[];
  };
  return {
    formatName: json.format.format_name,
    duration: Number(json.format.duration ?? NaN),
    bitRate: Number(json.format.bit_rate ?? NaN),
    streams: json.streams,
    video: json.streams.find((s) => s.codec_type === 'video'),
    audio: json.streams.find((s) => s.codec_type === 'audio'),
  };
}

/** The order of an MP4's top-level boxes, e.g. `['ftyp', 'moov', 'free', 'mdat']`. */
export function mp4Boxes(file: string): string[] {
  const fd = openSync(file, 'r');
  const boxes: string[] = [];
  try {
    const size = statSync(file).size;
    const header = Buffer.alloc(16);
    let at = 0;
    while (at + 8 <= size && boxes.length < 64) {
      readSync(fd, header, 0, 16, at);
      let length = header.readUInt32BE(0);
      const type = header.toString('latin1', 4, 8);
      if (length === 1) length = Number(header.readBigUInt64BE(8));
      else if (length === 0) length = size - at;
      boxes.push(type);
      if (length < 8) break;
      at += length;
    }
  } finally {
    closeSync(fd);
  }
  return boxes;
}

/** Whether an MP4 has its index (moov) before its media (mdat): `-movflags +faststart`. */
export function isFaststart(file: string): boolean {
  const boxes = mp4Boxes(file);
  const moov = boxes.indexOf('moov');
  const mdat = boxes.indexOf('mdat');
  return moov >= 0 && mdat >= 0 && moov < mdat;
}

/** One decoded frame as RGB24 pixels. */
export interface Frame {
  width: number;
  height: number;
  data: Buffer;
}

/** The first frame at or after `seconds` (accurate seek), decoded to RGB. */
export async function frameAt(file: string, seconds: number): Promise<Frame> {
  const probe = await probeFile(file);
  const width = probe.video?.width;
  const height = probe.video?.height;
  if (width === undefined || height === undefined) throw new Error(`${file} has no video`);
  const { stdout } = (await run(
    FFMPEG,
    [
      '-hide_banner',
      '-nostdin',
      '-loglevel',
      'error',
      '-ss',
      String(seconds),
      '-i',
      file,
      '-frames:v',
      '1',
      '-f',
      'rawvideo',
      '-pix_fmt',
      'rgb24',
      '-',
    ],
    { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 },
  )) as unknown as { stdout: Buffer };
  if (stdout.length !== width * height * 3) throw new Error(`no frame at ${seconds} s in ${file}`);
  return { width, height, data: stdout };
}

/** The pixel at (x, y). */
export function pixel(frame: Frame, x: number, y: number): Rgb {
  const at = (Math.round(y) * frame.width + Math.round(x)) * 3;
  return [frame.data[at]!, frame.data[at + 1]!, frame.data[at + 2]!];
}

/** The mean colour of a rectangle (robust against compression noise at a single pixel). */
export function averageColor(frame: Frame, x: number, y: number, width: number, height: number): Rgb {
  const sum = [0, 0, 0];
  let count = 0;
  for (let j = Math.round(y); j < Math.round(y + height); j++) {
    for (let i = Math.round(x); i < Math.round(x + width); i++) {
      const p = pixel(frame, i, j);
      sum[0]! += p[0];
      sum[1]! += p[1];
      sum[2]! += p[2];
      count++;
    }
  }
  return sum.map((s) => Math.round(s / Math.max(1, count))) as Rgb;
}

/** Whether a colour is within `tolerance` of a named colour on every channel. */
export function colorNear(actual: Rgb, expected: ColorName | Rgb, tolerance = 48): boolean {
  const want = typeof expected === 'string' ? COLORS[expected] : expected;
  return actual.every((c, i) => Math.abs(c - want[i]!) <= tolerance);
}

/** The named colour closest to `actual` (for assertion messages). */
export function nameColor(actual: Rgb): ColorName {
  let best: ColorName = 'black';
  let distance = Infinity;
  for (const [name, rgb] of Object.entries(COLORS) as Array<[ColorName, Rgb]>) {
    const d = rgb.reduce((sum, c, i) => sum + (c - actual[i]!) ** 2, 0);
    if (d < distance) {
      distance = d;
      best = name;
    }
  }
  return best;
}

async function ffmpegLog(args: string[]): Promise<string> {
  const result = await run(FFMPEG, ['-hide_banner', '-nostdin', ...args], {
    maxBuffer: 256 * 1024 * 1024,
  }).catch((error: { stdout?: string; stderr?: string }) => error);
  return `${result.stdout ?? ''}\n${result.stderr ?? ''}`;
}

/**
 * Times (s) at which a rectangle of the video turns bright (mean luma above `threshold` after
 * being below it): the flashes of a `flash` source, wherever its tile is.
 */
export async function flashTimes(
  file: string,
  rect?: { x: number; y: number; width: number; height: number },
  threshold = 128,
): Promise<number[]> {
  const crop = rect ? `crop=${rect.width}:${rect.height}:${rect.x}:${rect.y},` : '';
  const log = await ffmpegLog([
    '-i',
    file,
    '-an',
    '-vf',
    `${crop}signalstats,metadata=print:key=lavfi.signalstats.YAVG:file=-`,
    '-f',
    'null',
    '-',
  ]);
  const times: number[] = [];
  let time = 0;
  let bright = false;
  for (const line of log.split('\n')) {
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

/** Times (s) at which a 1 kHz beep starts (onsets after at least 20 ms of quiet). */
export async function beepTimes(file: string): Promise<number[]> {
  const log = await ffmpegLog([
    '-i',
    file,
    '-vn',
    '-af',
    'highpass=f=800,highpass=f=800,silencedetect=n=-30dB:d=0.02',
    '-f',
    'null',
    '-',
  ]);
  return [...log.matchAll(/silence_end: ([\d.]+)/g)].map((m) => Number(m[1]));
}

/** For each time in `a`, the distance to the nearest time in `b` (Infinity when `b` is empty). */
export function nearestDistances(a: number[], b: number[]): number[] {
  return a.map((t) => Math.min(...b.map((u) => Math.abs(u - t))));
}

// ---- serving ------------------------------------------------------------------------------

/** A file served over HTTP on 127.0.0.1 with Range support (what a browser needs to seek). */
export async function serveFile(
  path: string,
  contentType = path.endsWith('.webm') ? 'video/webm' : 'video/mp4',
): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((request, response) => {
    const size = statSync(path).size;
    const range = /^bytes=(\d*)-(\d*)$/.exec(request.headers.range ?? '');
    response.setHeader('Accept-Ranges', 'bytes');
    response.setHeader('Content-Type', contentType);
    if (range === null) {
      response.writeHead(200, { 'Content-Length': size });
      createReadStream(path).pipe(response);
      return;
    }
    let start = range[1] === '' ? size - Number(range[2]) : Number(range[1]);
    let end = range[1] === '' || range[2] === '' ? size - 1 : Number(range[2]);
    start = Math.max(0, start);
    end = Math.min(size - 1, end);
    if (start > end) {
      response.writeHead(416, { 'Content-Range': `bytes */${size}` });
      response.end();
      return;
    }
    response.writeHead(206, {
      'Content-Range': `bytes ${start}-${end}/${size}`,
      'Content-Length': end - start + 1,
    });
    createReadStream(path, { start, end }).pipe(response);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/${path.split('/').pop()}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
