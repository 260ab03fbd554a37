import { useShallow } from 'zustand/react/shallow';
import { formatBytes } from '../format';
import { useStudio } from '../store';

/**
 * The data folder's disk, on every screen: a warning while space is `low`, an error once it is
 * `full` (recording stopped, new archives refused). Live: the store follows `studio.disk`.
 */
export function DiskBanner() {
  const disk = useStudio(
    useShallow((s) => ({
      level: s.info?.disk.level ?? s.health?.disk.level ?? null,
      freeBytes: s.info?.disk.freeBytes ?? s.health?.disk.freeBytes ?? 0,
      floorBytes: s.info?.disk.floorBytes ?? null,
      detail: s.info?.disk.detail ?? null,
    })),
  );
  return (
    <>
      {/* A live region that exists before the warning fills it, so screen readers announce it. */}
      <div role="status" data-testid="disk-warning">
        {disk.level === 'low' && (
          <div className="disk-banner disk-banner-low">
            <strong>Disk space is low.</strong> {formatBytes(disk.freeBytes)} free on the data folder&apos;s
            disk.
            {disk.floorBytes !== null ? ` Recording stops below ${formatBytes(disk.floorBytes)}.` : ''} Free
            some space or move old archives before the next take.
          </div>
        )}
      </div>
      {disk.level === 'full' && (
        <div role="alert" className="disk-banner disk-banner-full" data-testid="disk-full">
          <strong>Disk full.</strong> Recordings are stopped and new archives are refused
          {disk.detail ? ` (${disk.detail})` : ''}: {formatBytes(disk.freeBytes)} free
          {disk.floorBytes !== null ? `, recording needs more than ${formatBytes(disk.floorBytes)}` : ''}.
          Free some space to record again.
        </div>
      )}
    </>
  );
}
