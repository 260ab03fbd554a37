import type { Size } from '../../shared/layout';
import type { CompositionPlan, PlanInput, VideoLayer } from './compositionPlan';
import { edge, n, overlayFilter, SAMPLE_RATE, scaleFilter } from './filterGraph';

/** Samples of audio per output frame at 30 fps: 1600 (the chunk's audio is cut on frames). */
export function samplesPerFrame(fps: number): number {
  return SAMPLE_RATE / fps;
}

/** A stretch of the output timeline: frames [from, to). */
export interface ChunkWindow {
  from: number;
  to: number;
}

/** One ffmpeg input of a chunk: which plan input it is. */
export interface ChunkInput {
  input: PlanInput;
  /** Index in the plan's `inputs`. */
  planIndex: number;
  video: boolean;
  audio: boolean;
}

export interface ChunkGraph {
  inputs: ChunkInput[];
  filterGraph: string;
}

function intersects(ranges: Array<[number, number]>, window: ChunkWindow): boolean {
  return ranges.some(([f, t]) => f < window.to && t > window.from);
}

/**
 * The filter graph of one chunk of a live composition: the frames [from, to) of the plan's
 * output and the same stretch of its audio, exactly `(to - from)` frames and
 * `(to - from) × 48000 / fps` samples, so chunks laid end to end are the whole composition.
 *
 * Inputs are read with `-copyts` and `-itsoffset` at their place on the timeline, starting at a
 * keyframe a little before the window; `t` in every expression is the output's time, as in the
 * offline graph (`filterGraph.ts`), whose tile, overlay and audio steps this reuses. The canvas
 * is generated for the window only and shifted to its start. Audio: each input is cut to the
 * window, aligned on the window's first sample (`first_pts`; late joiners are delayed to their
 * own first sample), gaps filled with silence (`async=1`), then mixed and padded to the length.
 */
export function buildChunkGraph(
  plan: CompositionPlan | null,
  window: ChunkWindow,
  canvas: Size,
  fps: number,
  want: { video: boolean; audio: boolean },
): ChunkGraph {
  const chains: string[] = [];
  const frames = window.to - window.from;
  const t0 = window.from / fps;
  const t1 = window.to / fps;
  const layers: VideoLayer[] = plan === null ? [] : plan.layers.filter((l) => intersects(l.visible, window));
  const audioInputs =
    plan === null
      ? []
      : plan.inputs
          .map((input, planIndex) => ({ input, planIndex }))
          .filter(({ input }) => input.audio && input.offset < t1 && input.stop > t0);
  const used = new Map<number, ChunkInput>();
  const use = (planIndex: number, kind: 'video' | 'audio') => {
    let entry = used.get(planIndex);
    if (entry === undefined) {
      entry = { input: plan!.inputs[planIndex]!, planIndex, video: false, audio: false };
      used.set(planIndex, entry);
    }
    entry[kind] = true;
  };
  if (want.video) for (const layer of layers) use(layer.input, 'video');
  if (want.audio) for (const { planIndex } of audioInputs) use(planIndex, 'audio');
  const inputs = [...used.values()].sort((a, b) => a.planIndex - b.planIndex);
  const ffIndex = new Map(inputs.map((input, i) => [input.planIndex, i]));

  if (want.video) {
    chains.push(
      `color=c=black:s=${canvas.width}x${canvas.height}:r=${fps}:d=${n((frames - 0.5) / fps)},` +
        `setpts=PTS+${n(t0)}/TB,format=yuv420p[bg]`,
    );
    const layersOf = new Map<number, VideoLayer[]>();
    for (const layer of layers) layersOf.set(layer.input, [...(layersOf.get(layer.input) ?? []), layer]);
    const labelOf = new Map<VideoLayer, string>();
    for (const [planIndex, group] of layersOf) {
      const i = ffIndex.get(planIndex)!;
      const resample = `[${i}:v]fps=${fps}`;
      if (group.length === 1) {
        chains.push(`${resample},${scaleFilter(group[0]!, fps)}[v${i}]`);
        labelOf.set(group[0]!, `v${i}`);
      } else {
        chains.push(`${resample},split=${group.length}${group.map((_, k) => `[v${i}s${k}]`).join('')}`);
        group.forEach((layer, k) => {
          chains.push(`[v${i}s${k}]${scaleFilter(layer, fps)}[v${i}_${k}]`);
          labelOf.set(layer, `v${i}_${k}`);
        });
      }
    }
    let current = 'bg';
    let step = 0;
    const backdrops = (plan?.backdrops ?? []).filter((b) => b.from < window.to && b.to > window.from);
    const zs = [...new Set([...layers.map((l) => l.z), ...backdrops.map((b) => b.z)])].sort((a, b) => a - b);
    for (const z of zs) {
      const boxes = backdrops.filter((b) => b.z === z);
      if (boxes.length > 0) {
        const label = `m${step++}`;
        const draws = boxes.map(
          (b) =>
            `drawbox=x=${b.rect.x}:y=${b.rect.y}:w=${b.rect.width}:h=${b.rect.height}:color=black:t=fill:` +
            `enable='between(t,${edge(b.from, fps)},${edge(b.to, fps)})'`,
        );
        chains.push(`[${current}]${draws.join(',')}[${label}]`);
        current = label;
      }
      for (const layer of layers.filter((l) => l.z === z)) {
        const label = `m${step++}`;
        chains.push(`[${current}][${labelOf.get(layer)}]${overlayFilter(layer, plan!)}[${label}]`);
        current = label;
      }
    }
    chains.push(`[${current}]null[vout]`);
  }

  if (want.audio) {
    const perFrame = samplesPerFrame(fps);
    const first = window.from * perFrame;
    const total = frames * perFrame;
    const mixed: string[] = [];
    for (const entry of inputs) {
      if (!entry.audio) continue;
      const i = ffIndex.get(entry.planIndex)!;
      const { offset, stop } = entry.input;
      // A source that joins inside the window starts at its own first sample, delayed from the
      // window's start; one that was already there is cut at the window's first sample.
      const own = Math.max(first, Math.round(offset * SAMPLE_RATE));
      const delay = own - first;
      // The end is cut on the mixed stream, by sample count: cutting each input at t1 by its
      // timestamps could leave it a few samples short (then padded with silence: a click).
      const end = stop < t1 ? `:end=${n(stop)}` : '';
      chains.push(
        `[${i}:a]atrim=start=${n(Math.max(t0, offset))}${end},` +
          // min_hard_comp as offline (filterGraph.ts): gaps from 20 ms up are filled the same way.
          `aresample=${SAMPLE_RATE}:async=1:min_hard_comp=0.02:first_pts=${own},` +
          `aformat=sample_fmts=fltp:sample_rates=${SAMPLE_RATE}:channel_layouts=stereo` +
          (delay > 0 ? `,adelay=delays=${delay}S:all=1` : '') +
          `[a${i}]`,
      );
      mixed.push(`[a${i}]`);
    }
    const mix =
      mixed.length === 0
        ? `anullsrc=r=${SAMPLE_RATE}:cl=stereo`
        : mixed.length === 1
          ? `${mixed[0]}anull`
          : `${mixed.join('')}amix=inputs=${mixed.length}:normalize=0:duration=longest:dropout_transition=0`;
    chains.push(`${mix},asetpts=N/SR/TB,apad=whole_len=${total},atrim=end_sample=${total}[aout]`);
  }
  return { inputs, filterGraph: chains.join(';\n') };
}
