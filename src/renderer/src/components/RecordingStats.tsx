import { useState } from 'react';
import type { ArchiveJson, FramesDropped } from '../../../shared/archive';
import { formatBytes, formatDrops, totalDrops } from '../format';
import { useStudioEvents } from '../hooks';
import { useStudio } from '../store';

/** The disk level the core reports (`ok`, `low`, `full`), when it reports one. */
type DiskLevel = 'ok' | 'low' | 'full';

/** Free space of the data folder and its level, from `/health` and `studio.health`. */
export function useDisk(): { freeBytes: number; level: DiskLevel | null } | null {
  const disk = useStudio((s) => s.health?.disk) as { freeBytes: number; level?: DiskLevel } | undefined;
  if (disk === undefined) return null;
  return { freeBytes: disk.freeBytes, level: disk.level ?? null };
}

type TrackDrops = Partial<Record<'audio' | 'video', FramesDropped>>;

/** What the room's active archives recorded so far, from `archive.progress` (about once a second). */
export interface RecordingProgress {
  size: number;
  /** Frames the archives dropped so far, by reason. */
  framesDropped: FramesDropped;
  /** Frames each stream's tracks dropped in the file being recorded now. */
  byStream: Map<string, TrackDrops>;
}

/** Follows `archive.progress` of the given archives. */
export function useRecordingProgress(archives: ArchiveJson[]): RecordingProgress {
  const [progress, setProgress] = useState<
    Record<
      string,
      {
        size: number;
        framesDropped?: FramesDropped;
        streams?: Array<{ streamId: string; framesDropped: TrackDrops }>;
      }
    >
  >({});
  useStudioEvents(['archive.progress'], (event) => {
    if (event.type !== 'archive.progress') return;
    const { archiveId } = event.data;
    if (archives.some((a) => a.id === archiveId)) setProgress((p) => ({ ...p, [archiveId]: event.data }));
  });
  const framesDropped: FramesDropped = { late: 0, broken: 0, backpressure: 0, oversized: 0 };
  const byStream = new Map<string, TrackDrops>();
  let size = 0;
  for (const archive of archives) {
    const p = progress[archive.id];
    if (p === undefined) continue;
    size += p.size;
    if (p.framesDropped !== undefined) {
      framesDropped.late += p.framesDropped.late;
      framesDropped.broken += p.framesDropped.broken;
      framesDropped.backpressure += p.framesDropped.backpressure;
      framesDropped.oversized += p.framesDropped.oversized ?? 0;
    }
    for (const s of p.streams ?? []) byStream.set(s.streamId, s.framesDropped);
  }
  return { size, framesDropped, byStream };
}

/** Size recorded so far by the room's active archives, the frames they dropped, and the disk left. */
export function RecordingStats({ progress }: { progress: RecordingProgress }) {
  const disk = useDisk();
  const low = disk?.level === 'low' || disk?.level === 'full';
  const dropped = totalDrops(progress.framesDropped);
  return (
    <span className="recording-stats" data-testid="recording-stats">
      <span aria-label="Recorded size">{formatBytes(progress.size)}</span>
      <span
        className={dropped > 0 ? 'badge badge-warning dropped' : 'muted dropped'}
        data-testid="frames-dropped"
        data-count={dropped}
      >
        {formatDrops(progress.framesDropped)}
      </span>
      {disk !== null && (
        <span className={low ? 'badge badge-warning' : 'muted'} data-testid="disk-level">
          {' · '}disk {disk.level ? `${disk.level}, ` : ''}
          {formatBytes(disk.freeBytes)} free
        </span>
      )}
    </span>
  );
}

/** A stream's dropped frames in the file being recorded now, per track. */
export function StreamDrops({ drops }: { drops: TrackDrops | undefined }) {
  if (drops === undefined) return null;
  const tracks = (['video', 'audio'] as const).filter((k) => drops[k] !== undefined);
  const total = tracks.reduce((n, k) => n + totalDrops(drops[k]), 0);
  const text = tracks.map((k) => `${k}: ${formatDrops(drops[k])}`).join('; ');
  return (
    <span
      className={total > 0 ? 'badge badge-warning dropped' : 'muted dropped'}
      data-testid="stream-drops"
      data-count={total}
    >
      {text}
    </span>
  );
}
