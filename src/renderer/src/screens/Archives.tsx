import { useMemo, useState } from 'react';
import type { ArchiveJson, ArchiveSummary } from '../../../shared/archive';
import type { BulkDeleteResult } from '../../../shared/archiveApi';
import type { RoomJson } from '../../../shared/rooms';
import { archiveDisplayName } from '../archiveNames';
import { ArchivePoster } from '../components/ArchivePoster';
import { DeliveryState } from '../components/DeliveryState';
import { RemotePlayer } from '../components/RemotePlayer';
import { ConfirmButton, EmptyState, ErrorNote, StatusBadge } from '../components/ui';
import { formatBytes, formatDuration } from '../format';
import { useApi } from '../hooks';
import { useStudio } from '../store';

/** `yyyy-mm-dd` of a date input → ms since the epoch (local midnight), or null. */
function dayStart(value: string): number | null {
  if (value === '') return null;
  const ms = new Date(`${value}T00:00:00`).getTime();
  return Number.isNaN(ms) ? null : ms;
}

/** Every archive, newest first, with filters (status, room, created range) and bulk delete. */
export function Archives() {
  const api = useStudio((s) => s.api);
  const [status, setStatus] = useState('');
  const [room, setRoom] = useState('');
  const [text, setText] = useState('');
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const [bulkError, setBulkError] = useState<string | null>(null);
  const query = useMemo(() => {
    const params = new URLSearchParams({ count: '500' });
    if (status !== '') params.set('status', status);
    if (room !== '') params.set('roomId', room);
    const start = dayStart(from);
    if (start !== null) params.set('createdFrom', String(start));
    const end = dayStart(to);
    // The "to" day is included: up to the next midnight.
    if (end !== null) params.set('createdTo', String(end + 86_400_000));
    return params.toString();
  }, [status, room, from, to]);
  const archives = useApi(
    (a) => a.get<{ count: number; items: ArchiveJson[] }>(`/api/archives?${query}`),
    [query],
    ['archive.', 'composition.', 'delivery.'],
  );
  const rooms = useApi((a) => a.get<{ items: RoomJson[] }>('/api/rooms'), []);
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
  // Status, room and dates are filtered by the studio; the search also finds participants.
  const items = useMemo(
    () =>
      (archives.data?.items ?? []).filter(
        (a) =>
          text === '' ||
          [
            a.name ?? '',
            a.id,
            archiveDisplayName(a, rooms.data?.items.find((r) => r.id === a.sessionId)?.name ?? null),
            ...(summaryOf.get(a.id)?.participants ?? []),
          ]
            .join(' ')
            .toLowerCase()
            .includes(text.toLowerCase()),
      ),
    [archives.data, rooms.data, summaryOf, text],
  );
  const toggle = (id: string) =>
    setSelected((s) => {
      const next = new Set(s);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });
  const deleteSelected = async () => {
    try {
      const result = await api.post<{ items: BulkDeleteResult[] }>('/api/archives/delete', {
        ids: [...selected],
      });
      const refused = result.items.filter((r) => !r.deleted);
      setBulkError(
        refused.length === 0 ? null : refused.map((r) => `${r.id.slice(0, 8)}: ${r.error}`).join('; '),
      );
      setSelected(new Set(refused.map((r) => r.id)));
      archives.reload();
    } catch (error) {
      setBulkError((error as Error).message);
    }
  };
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
        <label>
          From{' '}
          <input
            type="date"
            value={from}
            onChange={(e) => setFrom(e.target.value)}
            aria-label="Created from"
          />
        </label>
        <label>
          To <input type="date" value={to} onChange={(e) => setTo(e.target.value)} aria-label="Created to" />
        </label>
        {selected.size > 0 && (
          <ConfirmButton
            question={`Delete ${selected.size} archive(s) and their files?`}
            onConfirm={() => void deleteSelected()}
          >
            Delete {selected.size} selected
          </ConfirmButton>
        )}
      </div>
      <ErrorNote error={archives.error ?? bulkError} />
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
          <p>Clear the search or change the status, room or dates.</p>
        </EmptyState>
      )}
      {items.length > 0 && (
        <table className="data">
          <thead>
            <tr>
              <th>
                <span className="sr-only">Picture</span>
              </th>
              <th aria-label="Select" />
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
                  <input
                    type="checkbox"
                    checked={selected.has(a.id)}
                    onChange={() => toggle(a.id)}
                    aria-label={`Select ${archiveDisplayName(a, knownRoom(a.sessionId))}`}
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
