import { useState } from 'react';
import type { ArchiveJson } from '../../../shared/archive';
import { formatBytes } from '../format';
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

/** Size recorded so far by the room's active archives (from `archive.progress`) and the disk left. */
export function RecordingStats({ archives }: { archives: ArchiveJson[] }) {
  const [sizes, setSizes] = useState<Record<string, number>>({});
  useStudioEvents(['archive.progress'], (event) => {
    if (event.type !== 'archive.progress') return;
    const { archiveId, size } = event.data;
    if (archives.some((a) => a.id === archiveId)) setSizes((s) => ({ ...s, [archiveId]: size }));
  });
  const disk = useDisk();
  const size = archives.reduce((n, a) => n + (sizes[a.id] ?? 0), 0);
  const low = disk?.level === 'low' || disk?.level === 'full';
  return (
    <span className="recording-stats" data-testid="recording-stats">
      <span aria-label="Recorded size">{formatBytes(size)}</span>
      {disk !== null && (
        <span className={low ? 'badge badge-warning' : 'muted'} data-testid="disk-level">
          {' · '}disk {disk.level ? `${disk.level}, ` : ''}
          {formatBytes(disk.freeBytes)} free
        </span>
      )}
    </span>
  );
}
