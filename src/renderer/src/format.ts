/** Formatting helpers for the UI. */

export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

export function formatDuration(totalSeconds: number): string {
  const s = Math.max(0, Math.floor(totalSeconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const mm = String(m).padStart(2, '0');
  const ss = String(sec).padStart(2, '0');
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

/** Frames dropped by reason, as a recorder counts them. */
export interface DropCounts {
  late: number;
  broken: number;
  backpressure: number;
  /** Past the size bound (8 MB video, 64 KB audio); older manifests lack it. */
  oversized?: number;
}

/** Total frames dropped. */
export function totalDrops(drops: DropCounts | undefined): number {
  return drops === undefined ? 0 : drops.late + drops.broken + drops.backpressure + (drops.oversized ?? 0);
}

/** "12 frames dropped (disk too slow 10, late 2)", or "no frames dropped". */
export function formatDrops(drops: DropCounts | undefined): string {
  const total = totalDrops(drops);
  if (drops === undefined || total === 0) return 'no frames dropped';
  const reasons = [
    drops.backpressure > 0 ? `disk too slow ${drops.backpressure}` : null,
    drops.late > 0 ? `late ${drops.late}` : null,
    drops.broken > 0 ? `incomplete ${drops.broken}` : null,
    (drops.oversized ?? 0) > 0 ? `too large ${drops.oversized}` : null,
  ].filter((r) => r !== null);
  return `${total} ${total === 1 ? 'frame' : 'frames'} dropped (${reasons.join(', ')})`;
}
