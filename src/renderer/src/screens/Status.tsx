import { useEffect } from 'react';
import { CopyButton } from '../components/ui';
import { useShallow } from 'zustand/react/shallow';
import { formatBytes, formatDuration } from '../format';
import { useStudio } from '../store';

/** Studio status: version, ffmpeg, disk, API key. Live over the event socket. */
export function Status() {
  const { health, info, statusError, socketState, refreshStatus } = useStudio(
    useShallow((s) => ({
      health: s.health,
      info: s.info,
      statusError: s.statusError,
      socketState: s.socketState,
      refreshStatus: s.refreshStatus,
    })),
  );
  useEffect(() => {
    void refreshStatus();
  }, [refreshStatus]);

  if (statusError)
    return (
      <p role="alert" className="error">
        Cannot load the studio status: {statusError}
      </p>
    );
  if (!health || !info) return <p className="muted">Loading status…</p>;
  const usedPct = 100 - (health.disk.freeBytes / Math.max(1, health.disk.totalBytes)) * 100;
  return (
    <section className="status">
      <h2>Studio status</h2>
      <dl className="facts">
        <dt>Version</dt>
        <dd data-testid="version">{health.version}</dd>
        <dt>Uptime</dt>
        <dd>{formatDuration(health.uptimeSec)}</dd>
        <dt>ffmpeg</dt>
        <dd data-testid="ffmpeg">
          {health.ffmpeg.found ? (
            <>
              <span className="ok">ffmpeg {health.ffmpeg.version}</span>{' '}
              <span className="muted">
                {info.ffmpeg.path} (from {info.ffmpeg.source})
              </span>
            </>
          ) : (
            <span className="error">Not found. {info.ffmpeg.error}</span>
          )}
        </dd>
        <dt>Disk</dt>
        <dd data-testid="disk">
          {formatBytes(health.disk.freeBytes)} free of {formatBytes(health.disk.totalBytes)}
          <progress max={100} value={usedPct} aria-label="disk used" />
          <span className="muted"> {info.dataDir}</span>
        </dd>
        <dt>API key</dt>
        <dd>
          <code data-testid="api-key">{info.apiKey}</code> <CopyButton text={info.apiKey} label="Copy" />
        </dd>
        <dt>API base</dt>
        <dd>
          <code>{info.httpUrl}</code>
        </dd>
        <dt>Live updates</dt>
        <dd data-testid="socket-state">{socketState === 'open' ? 'connected' : socketState}</dd>
      </dl>
    </section>
  );
}
