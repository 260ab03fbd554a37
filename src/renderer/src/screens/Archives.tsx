import { useMemo, useState } from 'react';
import type { ArchiveJson, ArchiveSummary } from '../../../shared/archive';
import type { RoomJson } from '../../../shared/rooms';
import { archiveDisplayName } from '../archiveNames';
import { ArchivePoster } from '../components/ArchivePoster';
import { DeliveryState } from '../components/DeliveryState';
import { RemotePlayer } from '../components/RemotePlayer';
import { EmptyState, ErrorNote, StatusBadge } from '../components/ui';
import { formatBytes, formatDuration } from '../format';
import { useApi, useProjectBase } from '../hooks';

/** Every archive, newest first, with filters. */
export function Archives() {
  const base = useProjectBase();
  const archives = useApi(
    (a) =>
      base
        ? a.get<{ count: number; items: ArchiveJson[] }>(`${base}/archive?count=500`)
        : Promise.resolve(null),
    [base],
    ['archive.', 'composition.', 'delivery.'],
  );
  const rooms = useApi((a) => a.get<{ items: RoomJson[] }>('/api/rooms'), []);
  const [status, setStatus] = useState('');
  const [room, setRoom] = useState('');
  const [text, setText] = useState('');
  const summaries = useApi(
    (a) => a.get<{ items: ArchiveSummary[] }>('/api/archives/summaries').catch(() => ({ items: [] })),
    [],
    ['archive.', 'delivery.succeeded', 'delivery.failed', 'delivery.queued'],
  );
  const summaryOf = useMemo(
    () => new Map((summaries.data?.items ?? []).map((s) => [s.id, s])),
    [summaries.data],
  );
  const knownRoom = (id: string) => rooms.data?.items.find((r) => r.id === id)?.name ?? null;
  const roomName = (id: string) => knownRoom(id) ?? id.slice(0, 8);
  const items = useMemo(
    () =>
      (archives.data?.items ?? []).filter(
        (a) =>
          (status === '' || a.status === status) &&
          (room === '' || a.sessionId === room) &&
          (text === '' ||
            [
              a.name ?? '',
              a.id,
              archiveDisplayName(a, rooms.data?.items.find((r) => r.id === a.sessionId)?.name ?? null),
              ...(summaryOf.get(a.id)?.participants ?? []),
            ]
              .join(' ')
              .toLowerCase()
              .includes(text.toLowerCase())),
      ),
    [archives.data, rooms.data, summaryOf, status, room, text],
  );
  return (
    <section>
      <h2>Archives</h2>
      <div className="toolbar" role="search">
        <input
          placeholder="Search names, guests or id"
          value={text}
          onChange={(e) => setText(e.target.value)}
          aria-label="Search archives"
        />
        <select value={status} onChange={(e) => setStatus(e.target.value)} aria-label="Status">
          <option value="">Any status</option>
          {['started', 'paused', 'stopped', 'available', 'uploaded', 'failed', 'expired'].map((s) => (
            <option key={s}>{s}</option>
          ))}
        </select>
        <select value={room} onChange={(e) => setRoom(e.target.value)} aria-label="Room">
          <option value="">Any room</option>
          {rooms.data?.items.map((r) => (
            <option key={r.id} value={r.id}>
              {r.name}
            </option>
          ))}
        </select>
      </div>
      <ErrorNote error={archives.error} />
      {archives.data && archives.data.items.length === 0 && (
        <EmptyState title="No archives yet">
          <p>
            Start a recording in a room: open <a href="#/rooms">Rooms</a>, pick a room and press{' '}
            <strong>Start recording</strong> (<kbd>Ctrl</kbd>+<kbd>Shift</kbd>+<kbd>R</kbd>).
          </p>
        </EmptyState>
      )}
      {archives.data && archives.data.items.length > 0 && items.length === 0 && (
        <EmptyState title="No archive matches">
          <p>Clear the search or choose another status or room.</p>
        </EmptyState>
      )}
      {items.length > 0 && (
        <table className="data">
          <thead>
            <tr>
              <th>
                <span className="sr-only">Picture</span>
              </th>
              <th>Name</th>
              <th>Room</th>
              <th>Status</th>
              <th>Delivery</th>
              <th>Duration</th>
              <th>Size</th>
              <th>Created</th>
            </tr>
          </thead>
          <tbody>
            {items.map((a) => (
              <tr key={a.id} data-testid="archive-row">
                <td className="poster-cell">
                  <ArchivePoster
                    archiveId={a.id}
                    enabled={
                      (a.status === 'available' || a.status === 'uploaded') &&
                      summaryOf.get(a.id)?.poster === true
                    }
                    alt={`Picture of ${archiveDisplayName(a, knownRoom(a.sessionId))}`}
                  />
                </td>
                <td>
                  <a href={`#/archives/${a.id}`}>{archiveDisplayName(a, knownRoom(a.sessionId))}</a>
                  {(summaryOf.get(a.id)?.participants.length ?? 0) > 0 && (
                    <div className="muted participants" data-testid="archive-participants">
                      {summaryOf.get(a.id)!.participants.join(', ')}
                    </div>
                  )}
                </td>
                <td>{roomName(a.sessionId)}</td>
                <td>
                  <StatusBadge status={a.status} />
                </td>
                <td>
                  <DeliveryState deliveries={summaryOf.get(a.id)?.deliveries} />
                </td>
                <td>{a.status === 'started' || a.status === 'paused' ? '—' : formatDuration(a.duration)}</td>
                <td>{a.size ? formatBytes(a.size) : '—'}</td>
                <td>{new Date(a.createdAt).toLocaleString()}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <RemotePlayer />
    </section>
  );
}
