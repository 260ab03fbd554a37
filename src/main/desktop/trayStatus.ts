import type { RecordingSnapshot } from './RecordingMonitor';

/** The disk level the core reports (ok/low/full), when it reports one. */
export type DiskLevel = 'ok' | 'low' | 'full';

/** `h:mm:ss` (or `m:ss` under an hour). */
export function formatElapsed(totalSec: number): string {
  const sec = Math.max(0, Math.floor(totalSec));
  const h = Math.floor(sec / 3600);
  const m = Math.floor((sec % 3600) / 60);
  const s = sec % 60;
  const mm = h > 0 ? String(m).padStart(2, '0') : String(m);
  return `${h > 0 ? `${h}:` : ''}${mm}:${String(s).padStart(2, '0')}`;
}

/** Bytes as a short human size (`1.2 GB`). */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = Math.max(0, bytes);
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${value >= 10 || unit === 0 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
}

/** The tray tooltip: idle, or what is recording, for how long, how big, and the disk level. */
export function trayTooltip(
  appName: string,
  snapshot: RecordingSnapshot,
  disk: { level: DiskLevel | null; freeBytes: number | null },
): string {
  const diskText =
    disk.level === null && disk.freeBytes === null
      ? ''
      : ` · disk ${disk.level ?? ''}${disk.freeBytes !== null ? `${disk.level ? ', ' : ''}${formatBytes(disk.freeBytes)} free` : ''}`;
  if (!snapshot.recording) return `${appName} — not recording${diskText}`;
  const count = snapshot.archives.length;
  const what = count === 1 ? 'Recording' : `Recording ${count} archives`;
  const paused = snapshot.archives.every((a) => a.paused) ? ' (paused)' : '';
  return `${appName} — ${what}${paused} ${formatElapsed(snapshot.durationSec)} · ${formatBytes(snapshot.size)}${diskText}`;
}
