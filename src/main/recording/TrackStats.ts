import type { FramesDropped } from '../../shared/archive';

export type DropReason = keyof FramesDropped;

/**
 * Counters of one recorded track. Every frame a recorder gives up on is counted here by reason,
 * in one place, so the manifest (`framesDropped`) and the benchmarks read the same numbers.
 */
export interface TrackStats {
  packets: number;
  lostPackets: number;
  /** Frames handed to the writer. */
  frames: number;
  framesDropped: FramesDropped;
}

export function emptyTrackStats(): TrackStats {
  return {
    packets: 0,
    lostPackets: 0,
    frames: 0,
    framesDropped: { late: 0, broken: 0, backpressure: 0, oversized: 0 },
  };
}

/** Counts frames dropped for a reason. */
export function countDrop(stats: TrackStats, reason: DropReason, frames = 1): void {
  stats.framesDropped[reason] += frames;
}

/** Frames dropped since `before` (a file's share of a track's counters). */
export function dropsSince(stats: TrackStats, before: FramesDropped): FramesDropped {
  return {
    late: stats.framesDropped.late - before.late,
    broken: stats.framesDropped.broken - before.broken,
    backpressure: stats.framesDropped.backpressure - before.backpressure,
    oversized: stats.framesDropped.oversized - before.oversized,
  };
}

/** Adds `drops` to `total` (an archive's count across its tracks and segments). */
export function addDrops(total: FramesDropped, drops: FramesDropped): void {
  total.late += drops.late;
  total.broken += drops.broken;
  total.backpressure += drops.backpressure;
  total.oversized += drops.oversized;
}
