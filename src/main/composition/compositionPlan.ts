import type { VideoType } from '../../shared/archive';
import { StudioError } from '../../shared/errors';
import {
  computeTiles,
  matchesAny,
  type Layout,
  type LayoutSource,
  type Rect,
  type Size,
  type Tile,
} from '../../shared/layout';
import type { MediaProbe } from './mediaProbe';

/** One recording file on the archive timeline, probed. */
export interface PlanSource {
  /** The file name relative to the archive folder (unique). */
  id: string;
  /** Absolute path. */
  path: string;
  streamId: string;
  connectionData: string;
  videoType: VideoType | null;
  /** OpenTok layout classes (at the file's start). */
  classes: string[];
  /** Classes set while it recorded, each from `atMs` (archive ms) on; sorted by time. */
  classChanges?: ClassChange[];
  /** ms from the archive's start to the file's timestamp 0. */
  startMs: number;
  /** ms from the archive's start to the end of the file. */
  stopMs: number;
  /**
   * ms from the archive's start to when the stream was created (negative: before the archive):
   * sources are ordered by it, as the live program view orders them; by `startMs` without it.
   * A file starts at its first recorded frame, which for video waits for a keyframe: two guests'
   * files can start in the other order than they joined.
   */
  joinedMs?: number;
  probe: MediaProbe;
}

/** A stream's layout classes from `atMs` (archive timeline) until its next change. */
export interface ClassChange {
  atMs: number;
  classes: string[];
}

/** The classes of a source at an output frame (its changes land on frames like layouts). */
function classesAt(source: PlanSource, frame: number, toFrame: (ms: number) => number): string[] {
  let classes = source.classes;
  for (const change of source.classChanges ?? []) if (toFrame(change.atMs) <= frame) classes = change.classes;
  return classes;
}

/** A layout in effect from `atMs` (archive timeline) until the next one. */
export interface TimedLayout {
  atMs: number;
  layout: Layout;
}

export interface PlanOptions {
  canvas: Size;
  /** Output frame rate; every time in the plan is a whole number of these frames. */
  fps: number;
  /** The layout timeline, first entry in effect from the start. */
  layouts: TimedLayout[];
  audioSources: string[];
  audioSourcesExcluded: string[];
  /** Cut the stretches before the first and after the last contributing source. */
  trim: boolean;
  /** Make a video track (false: audio-only output). */
  video: boolean;
  /** Make an audio track. */
  audio: boolean;
}

/** Where a layer's source is drawn during [from, to) — output frame numbers. */
export interface Placement {
  from: number;
  to: number;
  rect: Rect;
}

/** One source drawn at one stacking order: one decode → scale → overlay chain. */
export interface VideoLayer {
  /** Index into `plan.inputs`. */
  input: number;
  z: number;
  placements: Placement[];
  /** Frame ranges [from, to) the source is shown: its placements minus its video gaps. */
  visible: Array<[number, number]>;
}

/** A black box drawn under a tile that overlaps tiles below it (its letterbox must hide them). */
export interface Backdrop {
  rect: Rect;
  from: number;
  to: number;
  z: number;
}

export interface PlanInput {
  source: PlanSource;
  /** Output seconds where the file's timestamp 0 lands. */
  offset: number;
  video: boolean;
  audio: boolean;
  /** Output seconds where the file stops counting (its stopTimeOffset). */
  stop: number;
}

/** A stretch of the output with one set of tiles (frame numbers). */
export interface Segment {
  from: number;
  to: number;
  tiles: Tile[];
}

/** Everything the filter graph is built from. */
export interface CompositionPlan {
  canvas: Size;
  fps: number;
  /** Archive ms at output time 0 (non-zero when trimmed). */
  startMs: number;
  /** Output length in frames. */
  frames: number;
  /** Output length in seconds. */
  duration: number;
  inputs: PlanInput[];
  /** Drawing order. */
  layers: VideoLayer[];
  backdrops: Backdrop[];
  segments: Segment[];
  hasVideo: boolean;
  hasAudio: boolean;
}

function intersects(a: Rect, b: Rect): boolean {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

function sameRect(a: Rect, b: Rect): boolean {
  return a.x === b.x && a.y === b.y && a.width === b.width && a.height === b.height;
}

/** Joins touching or overlapping ranges (sorted by start). */
function merge(ranges: Array<[number, number]>): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const [from, to] of ranges) {
    const last = out.at(-1);
    if (last !== undefined && from <= last[1]) last[1] = Math.max(last[1], to);
    else out.push([from, to]);
  }
  return out;
}

/** Subtracts ranges from ranges (all [from, to), sorted). */
function subtract(ranges: Array<[number, number]>, holes: Array<[number, number]>): Array<[number, number]> {
  let out = ranges;
  for (const [hf, ht] of holes) {
    if (ht <= hf) continue;
    const next: Array<[number, number]> = [];
    for (const [f, t] of out) {
      if (ht <= f || hf >= t) next.push([f, t]);
      else {
        if (hf > f) next.push([f, hf]);
        if (ht < t) next.push([ht, t]);
      }
    }
    out = next;
  }
  return out;
}

/**
 * Lays an archive's files out on the output timeline: which tiles each stretch shows (from the
 * layout timeline and the sources present), one layer per source and stacking order, the
 * boxes under overlapping tiles, and where each input's audio starts and stops. Pure.
 */
export function planComposition(sources: PlanSource[], options: PlanOptions): CompositionPlan {
  const { fps, canvas } = options;
  const frame = (ms: number) => Math.round((ms / 1000) * fps);
  const usable = sources.filter(
    (s) => frame(s.stopMs) > frame(s.startMs) && (s.probe.video || s.probe.audio),
  );
  const endFrame = Math.max(1, ...usable.map((s) => frame(s.stopMs)));
  const layouts = [...options.layouts].sort((a, b) => a.atMs - b.atMs);
  if (layouts.length === 0) throw new Error('planComposition needs at least one layout');

  const cuts = new Set<number>([0, endFrame]);
  for (const s of usable) {
    cuts.add(Math.min(endFrame, frame(s.startMs)));
    cuts.add(Math.min(endFrame, frame(s.stopMs)));
  }
  for (const l of layouts.slice(1)) cuts.add(Math.max(0, Math.min(endFrame, frame(l.atMs))));
  for (const s of usable) {
    for (const c of s.classChanges ?? []) cuts.add(Math.max(0, Math.min(endFrame, frame(c.atMs))));
  }
  const bounds = [...cuts].sort((a, b) => a - b);

  const withVideo = usable.filter((s) => s.probe.video !== null);
  const raw: Segment[] = [];
  for (let i = 0; i + 1 < bounds.length; i++) {
    const from = bounds[i]!;
    const to = bounds[i + 1]!;
    let layout = layouts[0]!.layout;
    for (const l of layouts) if (frame(l.atMs) <= from) layout = l.layout;
    const present: LayoutSource[] = withVideo
      .filter((s) => frame(s.startMs) <= from)
      .map((s) => ({
        order: sources.indexOf(s),
        id: s.id,
        streamId: s.streamId,
        connectionData: s.connectionData,
        videoType: s.videoType,
        classes: classesAt(s, from, frame),
        since: s.joinedMs ?? s.startMs,
        left: frame(s.stopMs) <= from,
      }));
    raw.push({ from, to, tiles: options.video ? computeTiles(canvas, layout, present) : [] });
  }

  const audioSelected = new Set(
    options.audio
      ? usable
          .filter(
            (s) =>
              s.probe.audio !== null &&
              matchesAny(options.audioSources, s) &&
              !matchesAny(options.audioSourcesExcluded, s),
          )
          .map((s) => s.id)
      : [],
  );
  const shown = new Set(raw.flatMap((seg) => seg.tiles.map((t) => t.sourceId)));
  const contributing = usable.filter((s) => shown.has(s.id) || audioSelected.has(s.id));
  if (contributing.length === 0) {
    throw new StudioError(
      'InvalidArgument',
      'nothing to compose: no recording file matches the video layout or the audio sources',
      'videoLayout',
    );
  }
  const first = options.trim ? Math.min(...contributing.map((s) => frame(s.startMs))) : 0;
  const last = options.trim ? Math.max(...contributing.map((s) => frame(s.stopMs))) : endFrame;
  const frames = Math.max(1, last - first);

  // Output frame numbers: shift by the trimmed start and clip to the output.
  const segments: Segment[] = [];
  for (const seg of raw) {
    const from = Math.max(seg.from, first) - first;
    const to = Math.min(seg.to, last) - first;
    if (to > from) segments.push({ from, to, tiles: seg.tiles });
  }

  const inputs: PlanInput[] = [];
  const inputOf = new Map<string, number>();
  for (const s of contributing) {
    inputOf.set(s.id, inputs.length);
    inputs.push({
      source: s,
      offset: s.startMs / 1000 - first / fps,
      video: shown.has(s.id),
      audio: audioSelected.has(s.id),
      stop: s.stopMs / 1000 - first / fps,
    });
  }

  const layers: Array<VideoLayer & { firstSeen: number }> = [];
  const layerOf = new Map<string, VideoLayer & { firstSeen: number }>();
  const backdrops: Backdrop[] = [];
  for (const seg of segments) {
    seg.tiles.forEach((tile, k) => {
      const key = `${tile.sourceId}\u0000${tile.z}`;
      let layer = layerOf.get(key);
      if (layer === undefined) {
        layer = {
          input: inputOf.get(tile.sourceId)!,
          z: tile.z,
          placements: [],
          visible: [],
          firstSeen: seg.from,
        };
        layerOf.set(key, layer);
        layers.push(layer);
      }
      const prev = layer.placements.at(-1);
      const rect = { x: tile.x, y: tile.y, width: tile.width, height: tile.height };
      if (prev !== undefined && prev.to === seg.from && sameRect(prev.rect, rect)) prev.to = seg.to;
      else layer.placements.push({ from: seg.from, to: seg.to, rect });
      const covers = seg.tiles.slice(0, k).some((below) => below.z < tile.z && intersects(below, tile));
      if (covers) {
        const same = backdrops.find((b) => b.to === seg.from && b.z === tile.z && sameRect(b.rect, rect));
        if (same !== undefined) same.to = seg.to;
        else backdrops.push({ rect, from: seg.from, to: seg.to, z: tile.z });
      }
    });
  }
  layers.sort((a, b) => a.z - b.z || a.firstSeen - b.firstSeen || a.input - b.input);
  for (const layer of layers) {
    const input = inputs[layer.input]!;
    const gaps = input.source.probe.video?.gaps ?? [];
    // A gap leaves the tile black from the frame after the last picture until the next one.
    const holes: Array<[number, number]> = gaps.map((g) => [
      Math.round((g.from + input.offset) * fps) + 1,
      Math.round((g.to + input.offset) * fps),
    ]);
    layer.visible = subtract(
      merge(layer.placements.map((p) => [p.from, p.to] as [number, number])),
      holes,
    ).filter(([f, t]) => t > f);
  }
  return {
    canvas,
    fps,
    startMs: (first / fps) * 1000,
    frames,
    duration: frames / fps,
    inputs,
    layers: layers.map(({ firstSeen: _firstSeen, ...layer }) => layer),
    backdrops,
    segments,
    hasVideo: options.video && usable.some((s) => s.probe.video !== null),
    hasAudio: audioSelected.size > 0,
  };
}
