import type { Rect } from '../../shared/layout';
import type { CompositionPlan, Placement, VideoLayer } from './compositionPlan';
import {
  audioEncoderArgs,
  containerArgs,
  threading,
  videoEncoderArgs,
  type EncodeSettings,
} from './encoding';

/** Audio of every composition: 48 kHz stereo. */
export const SAMPLE_RATE = 48_000;

/** A number for an ffmpeg expression: short, no exponent. */
export function n(value: number): string {
  return String(Math.round(value * 1e6) / 1e6);
}

/**
 * `t` thresholds sit half a frame before a frame's time, so the comparison never depends on
 * how the frame's timestamp rounds.
 */
export function edge(frame: number, fps: number): string {
  return n((frame - 0.5) / fps);
}

/** An expression of `t` that takes each placement's value from its start (balanced `if` tree). */
function piecewise(placements: Placement[], value: (rect: Rect) => number, fps: number): string {
  const values = placements.map((p) => value(p.rect));
  if (values.every((v) => v === values[0])) return String(values[0]);
  const build = (lo: number, hi: number): string => {
    if (lo === hi) return String(values[lo]);
    const mid = (lo + hi + 1) >> 1;
    return `if(lt(t,${edge(placements[mid]!.from, fps)}),${build(lo, mid - 1)},${build(mid, hi)})`;
  };
  return build(0, placements.length - 1);
}

/** `between(t,…)` terms of frame ranges; null when a range covers the whole output. */
function enableExpr(ranges: Array<[number, number]>, frames: number, fps: number): string | null {
  if (ranges.length === 1 && ranges[0]![0] <= 0 && ranges[0]![1] >= frames) return null;
  return ranges.map(([from, to]) => `between(t,${edge(from, fps)},${edge(to, fps)})`).join('+');
}

export function scaleFilter(layer: VideoLayer, fps: number): string {
  const w = piecewise(layer.placements, (r) => r.width, fps);
  const h = piecewise(layer.placements, (r) => r.height, fps);
  // A size that depends on `t` makes the scaler re-initialise on every frame: only sources whose
  // tile changes size pay for it. Resolution changes inside a source are handled either way.
  const perFrame = new Set(layer.placements.map((p) => `${p.rect.width}x${p.rect.height}`)).size > 1;
  return (
    `scale=w='${w}':h='${h}':force_original_aspect_ratio=decrease:force_divisible_by=2:flags=fast_bilinear` +
    (perFrame ? ':eval=frame' : '')
  );
}

export function overlayFilter(layer: VideoLayer, plan: CompositionPlan): string {
  const { fps } = plan;
  const x = piecewise(layer.placements, (r) => r.x, fps);
  const y = piecewise(layer.placements, (r) => r.y, fps);
  const w = piecewise(layer.placements, (r) => r.width, fps);
  const h = piecewise(layer.placements, (r) => r.height, fps);
  // Centred in the tile: the scaled picture keeps its aspect ratio (letterbox on the canvas's black).
  let filter = `overlay=x='${x}+(${w}-overlay_w)/2':y='${y}+(${h}-overlay_h)/2':eof_action=pass`;
  const enable = enableExpr(layer.visible, plan.frames, fps);
  if (enable !== null) filter += `:enable='${enable}'`;
  return filter;
}

/**
 * The ffmpeg filter graph of a plan. Video: a black canvas at the output rate; each layer is
 * its input resampled to the output rate (so tile changes land on exact frames), scaled to fit
 * its tile and overlaid, shown only during its placements minus its gaps; black boxes go under
 * tiles that overlap others. Audio: each input is cut at its stop, gaps are filled with silence
 * (`aresample=async=1`, from 20 ms up: the recorder's times hold within that, and ffmpeg's
 * default of 100 ms would leave smaller gaps unfilled), its start is delayed to
 * its place on the timeline, and the inputs are summed (`amix normalize=0` keeps their levels).
 */
export function buildFilterGraph(plan: CompositionPlan): string {
  const { fps, canvas } = plan;
  const chains: string[] = [];
  if (plan.hasVideo) {
    const durationSec = n((plan.frames - 0.5) / fps);
    chains.push(
      `color=c=black:s=${canvas.width}x${canvas.height}:r=${fps}:d=${durationSec},format=yuv420p[bg]`,
    );
    const layersOf = new Map<number, VideoLayer[]>();
    for (const layer of plan.layers) layersOf.set(layer.input, [...(layersOf.get(layer.input) ?? []), layer]);
    const labelOf = new Map<VideoLayer, string>();
    for (const [input, layers] of layersOf) {
      const resample = `[${input}:v]fps=${fps}`;
      if (layers.length === 1) {
        chains.push(`${resample},${scaleFilter(layers[0]!, fps)}[v${input}]`);
        labelOf.set(layers[0]!, `v${input}`);
      } else {
        const outs = layers.map((_, i) => `[v${input}s${i}]`).join('');
        chains.push(`${resample},split=${layers.length}${outs}`);
        layers.forEach((layer, i) => {
          chains.push(`[v${input}s${i}]${scaleFilter(layer, fps)}[v${input}_${i}]`);
          labelOf.set(layer, `v${input}_${i}`);
        });
      }
    }
    let current = 'bg';
    let step = 0;
    const next = () => `m${step++}`;
    const zs = [...new Set([...plan.layers.map((l) => l.z), ...plan.backdrops.map((b) => b.z)])].sort(
      (a, b) => a - b,
    );
    for (const z of zs) {
      const boxes = plan.backdrops.filter((b) => b.z === z);
      if (boxes.length > 0) {
        const label = next();
        const draws = boxes.map(
          (b) =>
            `drawbox=x=${b.rect.x}:y=${b.rect.y}:w=${b.rect.width}:h=${b.rect.height}:color=black:t=fill:` +
            `enable='between(t,${edge(b.from, fps)},${edge(b.to, fps)})'`,
        );
        chains.push(`[${current}]${draws.join(',')}[${label}]`);
        current = label;
      }
      for (const layer of plan.layers.filter((l) => l.z === z)) {
        const label = next();
        chains.push(`[${current}][${labelOf.get(layer)}]${overlayFilter(layer, plan)}[${label}]`);
        current = label;
      }
    }
    chains.push(`[${current}]null[vout]`);
  }
  if (plan.hasAudio) {
    const mixed: string[] = [];
    plan.inputs.forEach((input, i) => {
      if (!input.audio) return;
      // Whole seconds of the delay come from adelay, which emits silence in small frames; the
      // rest from aresample, which pads in one frame (a late start would make a huge one).
      const coarse = Math.max(0, Math.floor(input.offset - 1));
      chains.push(
        `[${i}:a]atrim=end=${n(input.stop)},asetpts=PTS-${coarse}/TB,` +
          `aresample=${SAMPLE_RATE}:async=1:min_hard_comp=0.02:first_pts=0,` +
          `aformat=sample_fmts=fltp:sample_rates=${SAMPLE_RATE}:channel_layouts=stereo,` +
          `adelay=delays=${coarse * 1000}:all=1[a${i}]`,
      );
      mixed.push(`[a${i}]`);
    });
    const duration = n(plan.duration);
    const mix =
      mixed.length === 1
        ? `${mixed[0]}anull`
        : `${mixed.join('')}amix=inputs=${mixed.length}:normalize=0:duration=longest:dropout_transition=0`;
    chains.push(`${mix},asetpts=N/SR/TB,apad=whole_dur=${duration},atrim=end=${duration}[aout]`);
  }
  return chains.join(';\n');
}

/** What to run. */
export interface FfmpegInvocation {
  args: string[];
  /** Written to `filterScript` before running (graphs outgrow a command-line argument). */
  filterGraph: string;
}

/** The ffmpeg arguments of a plan: inputs at their offsets, the graph, encoders, progress on stdout. */
export function buildFfmpegArgs(
  plan: CompositionPlan,
  settings: EncodeSettings,
  output: string,
  filterScript: string,
): FfmpegInvocation {
  const args = [
    '-hide_banner',
    '-nostdin',
    '-y',
    '-loglevel',
    'error',
    '-nostats',
    '-progress',
    'pipe:1',
    '-stats_period',
    '0.5',
    // The filters here are light (scale a tile, copy it in): slice-threading them costs more in
    // hand-offs than it saves, and those hand-offs stall the thread that feeds the encoder
    // (bench: 1280x720 grid 6.0× → 7.3× realtime on 2 cores).
    '-filter_complex_threads',
    '1',
  ];
  const decoderThreads = threading(settings.cores ?? 2).decoderThreads;
  for (const input of plan.inputs) {
    if (decoderThreads !== null) args.push('-threads', String(decoderThreads));
    // ffmpeg subtracts each input's start time; adding it back keeps the file's timestamp 0 at
    // its startTimeOffset. reinit_filter 0: a resolution change inside a file goes to the scaler
    // (which adapts) instead of rebuilding the whole graph mid-stream.
    args.push(
      '-reinit_filter',
      '0',
      '-itsoffset',
      n(input.offset + input.source.probe.startTime),
      '-i',
      input.source.path,
    );
  }
  args.push('-filter_complex_script', filterScript);
  if (plan.hasVideo) args.push('-map', '[vout]', ...videoEncoderArgs(settings, plan.canvas, plan.fps));
  if (plan.hasAudio) args.push('-map', '[aout]', ...audioEncoderArgs(settings));
  args.push(...containerArgs(settings), output);
  return { args, filterGraph: buildFilterGraph(plan) };
}
