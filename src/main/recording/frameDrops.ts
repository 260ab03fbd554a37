import type { FramesDropped } from '../../shared/archive';

export type { FramesDropped };
export type DropReason = keyof FramesDropped;

/** A per-track counter of dropped frames, all reasons at 0. */
export function noFramesDropped(): FramesDropped {
  return { late: 0, broken: 0, backpressure: 0 };
}
