import type { CompositionFormat, CompositionVideoCodec } from '../../shared/compositions';
import type { Size } from '../../shared/layout';

/** How the output is encoded. */
export interface EncodeSettings {
  format: CompositionFormat;
  videoCodec: CompositionVideoCodec;
  /** Video bitrate cap in bits per second, or null for quality-based rate control only. */
  maxBitrate: number | null;
  /**
   * x264 speed override (tests pass `ultrafast`). By default the tuned settings below, chosen
   * with bench/compose.ts.
   */
  x264Preset?: string;
  /** CPUs to plan threads for (the Composer passes the machine's). */
  cores?: number;
  /**
   * A chunk of a live composition (`LiveComposition`): no B-frames, because the chunks' raw
   * H.264 streams are joined and timed by frame order, and `threads` x264 threads at most.
   */
  liveChunk?: { threads: number };
}

/** Output frame rate of compositions. */
export const COMPOSITION_FPS = 30;

/**
 * x264 settings for compositions, chosen with bench/compose.ts (four 640x480 sources → 1280x720
 * grid, 2 cores). x264 is ~70 % of a composition's CPU at `veryfast`, and `veryfast` CRF 23 runs
 * ~4.7× realtime there. `superfast` drops sub-pixel refinement, uses diamond search and skips
 * the B-frame decision (3 fixed B-frames); mb-tree with a 15-frame lookahead (off in
 * `superfast`) and p8x8 partitions win back the bits on the static parts of tiles, and CRF 24
 * lands the file at ~98 % of `veryfast` CRF 23's size. x264 then needs ~40 % less CPU; the
 * price is ~0.45 dB of SSIM, which the bench reports next to the speed.
 */
export const X264_TUNED = {
  preset: 'superfast',
  crf: 24,
  params: 'mbtree=1:rc-lookahead=15:bframes=3:b-adapt=0:partitions=i8x8,i4x4,p8x8',
} as const;

/**
 * Threads for a machine with `cores` CPUs. ffmpeg 5.1 decodes, filters and hands frames to x264
 * on one thread, which waits whenever x264 has no free frame thread; on 2 cores x264's default
 * (3 frame threads, 1 lookahead thread, a short input buffer) left a core idle a third of the
 * time. 4 frame threads, 2 lookahead threads and 20 buffered frames let the main thread run
 * ahead: ~1.2× faster in the bench. Bigger machines keep x264's own choice.
 */
export function threading(cores: number): { x264: string; decoderThreads: number | null } {
  if (cores <= 2) return { x264: 'threads=4:lookahead-threads=2:sync-lookahead=20', decoderThreads: 2 };
  return { x264: 'sync-lookahead=20', decoderThreads: null };
}

/**
 * libvpx's VP8 encoder threads wait for each other's rows by yielding in a loop: on a busy
 * machine they spin instead of encoding. Four 640x480 sources composed to 1280x720 (30 s, 2
 * cores): with libvpx's default (a thread per core) 8.2 s and 13.9 s of CPU idle, 47.6 s and
 * 45 s of CPU beside two other encodes; with one thread 9.0 s and 10.4 s idle, 12.5 s and 9.3 s
 * beside them. A composition runs beside the media plane, so one thread on 2 cores. VP9's
 * threads (`-row-mt`) do not spin this way (measured: within 15 % either way); bigger machines
 * keep libvpx's default (not measured).
 */
function vp8Threads(cores: number): string[] {
  return cores <= 2 ? ['-threads', '1'] : [];
}

/** Default VP8/VP9 bitrate when no cap is given: ~0.08 bits per pixel per frame. */
function defaultVpxBitrate(canvas: Size, fps: number): number {
  return Math.max(300_000, Math.min(6_000_000, Math.round(canvas.width * canvas.height * fps * 0.08)));
}

/** ffmpeg output options for the video stream. */
export function videoEncoderArgs(settings: EncodeSettings, canvas: Size, fps: number): string[] {
  const cap = settings.maxBitrate;
  const cores = settings.cores ?? 2;
  if (settings.videoCodec === 'h264') {
    const live = settings.liveChunk;
    const threads = live ? `threads=${live.threads}:lookahead-threads=1` : threading(cores).x264;
    const params = live ? X264_TUNED.params.replace('bframes=3', 'bframes=0') : X264_TUNED.params;
    const args =
      settings.x264Preset !== undefined
        ? [
            '-c:v',
            'libx264',
            '-preset',
            settings.x264Preset,
            '-crf',
            '23',
            ...(live ? ['-x264-params', `bframes=0:${threads}`] : []),
          ]
        : [
            '-c:v',
            'libx264',
            '-preset',
            X264_TUNED.preset,
            '-crf',
            String(X264_TUNED.crf),
            '-x264-params',
            `${params}:${threads}`,
          ];
    if (cap !== null) args.push('-maxrate', String(cap), '-bufsize', String(cap * 2));
    // Baseline-compatible chroma and a keyframe every 4 s keep seeking quick in every player.
    args.push('-pix_fmt', 'yuv420p', '-g', String(fps * 4));
    return args;
  }
  const bitrate = String(cap ?? defaultVpxBitrate(canvas, fps));
  if (settings.videoCodec === 'vp8') {
    // Negative cpu-used in realtime mode is the fastest VP8 setting offline (notes/ffmpeg.md).
    return [
      '-c:v',
      'libvpx',
      ...vp8Threads(cores),
      '-deadline',
      'realtime',
      '-cpu-used',
      '-8',
      '-crf',
      '10',
      '-b:v',
      bitrate,
      '-g',
      String(fps * 4),
      '-pix_fmt',
      'yuv420p',
    ];
  }
  return [
    '-c:v',
    'libvpx-vp9',
    '-deadline',
    'realtime',
    '-cpu-used',
    '8',
    '-row-mt',
    '1',
    '-crf',
    '32',
    '-b:v',
    bitrate,
    '-g',
    String(fps * 4),
    '-pix_fmt',
    'yuv420p',
  ];
}

/** ffmpeg output options for the audio stream: AAC 128 kb/s 48 kHz (OpenTok) or Opus. */
export function audioEncoderArgs(settings: EncodeSettings): string[] {
  if (settings.format === 'mp4') {
    // At 128 kb/s the "fast" coder sounds at least as good as twoloop for ~40 % of its CPU (its
    // author made it the default for that reason, FFmpeg commit fcb681ac); AAC runs on ffmpeg's
    // main thread, which paces the whole graph.
    return ['-c:a', 'aac', '-aac_coder', 'fast', '-b:a', '128k', '-ar', '48000', '-ac', '2'];
  }
  return ['-c:a', 'libopus', '-b:a', '128k', '-ar', '48000', '-ac', '2'];
}

/** ffmpeg container options. */
export function containerArgs(settings: EncodeSettings): string[] {
  // faststart moves the index to the front so players start before the download ends.
  if (settings.format === 'mp4') return ['-movflags', '+faststart', '-f', 'mp4'];
  return ['-f', 'webm'];
}
