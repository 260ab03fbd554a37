import { useMemo, useState } from 'react';
import type { ArchiveJson } from '../../../shared/archive';
import type { RoomJson } from '../../../shared/rooms';
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
  const roomName = (id: string) => rooms.data?.items.find((r) => r.id === id)?.name ?? id.slice(0, 8);
  const items = useMemo(
    () =>
      (archives.data?.items ?? []).filter(
        (a) =>
          (status === '' || a.status === status) &&
          (room === '' || a.sessionId === room) &&
          (text === '' || `${a.name ?? ''} ${a.id}`.toLowerCase().includes(text.toLowerCase())),
      ),
    [archives.data, status, room, text],
  );
  return (
    <section>
      <h2>Archives</h2>
      <div className="toolbar" role="search">
        <input
          placeholder="Search name or id"
          value={text}
          onChange={(e) => setText(e.target.value)}
          aria-label="Search"
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
          <p>Open a room and start recording; archives appear here.</p>
        </EmptyState>
      )}
      {items.length > 0 && (
        <table className="data">
          <thead>
            <tr>
              <th>Name</th>
              <th>Room</th>
              <th>Status</th>
              <th>Duration</th>
              <th>Size</th>
              <th>Created</th>
            </tr>
          </thead>
          <tbody>
            {items.map((a) => (
              <tr key={a.id} data-testid="archive-row">
                <td>
                  <a href={`#/archives/${a.id}`}>{a.name || a.id.slice(0, 8)}</a>
                </td>
                <td>{roomName(a.sessionId)}</td>
                <td>
                  <StatusBadge status={a.status} />
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
