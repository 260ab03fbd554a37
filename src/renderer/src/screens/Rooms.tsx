import { useState, type FormEvent } from 'react';
import type { RoomJson } from '../../../shared/rooms';
import { ConfirmButton, EmptyState, ErrorNote } from '../components/ui';
import { NEW_ROOM_INPUT_ID } from '../desktopCommands';
import { useApi } from '../hooks';
import { useStudio } from '../store';

/** Rooms: list, create, delete; a room opens its page. */
export function Rooms() {
  const api = useStudio((s) => s.api);
  const rooms = useApi(
    (a) => a.get<{ items: RoomJson[] }>('/api/rooms'),
    [],
    ['room.', 'session.', 'connection.', 'archive.'],
  );
  const [name, setName] = useState('');
  const [autoRecord, setAutoRecord] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const create = async (event: FormEvent) => {
    event.preventDefault();
    try {
      const room = await api.post<RoomJson>('/api/rooms', { name, autoRecord });
      setName('');
      setError(null);
      window.location.hash = `#/rooms/${room.id}`;
    } catch (e) {
      setError((e as Error).message);
    }
  };
  const remove = async (id: string) => {
    try {
      await api.delete(`/api/rooms/${id}`);
      rooms.reload();
    } catch (e) {
      setError((e as Error).message);
    }
  };

  return (
    <section>
      <h2>Rooms</h2>
      <form className="row card" onSubmit={(e) => void create(e)} aria-label="New room">
        <label>
          Room name
          <input
            id={NEW_ROOM_INPUT_ID}
            value={name}
            onChange={(e) => setName(e.target.value)}
            placeholder="Morning show"
            required
          />
        </label>
        <label className="inline">
          <input type="checkbox" checked={autoRecord} onChange={(e) => setAutoRecord(e.target.checked)} />{' '}
          Record automatically
        </label>
        <button type="submit" disabled={name.trim() === ''}>
          Create room
        </button>
      </form>
      <ErrorNote error={error ?? rooms.error} />
      {rooms.data && rooms.data.items.length === 0 && (
        <EmptyState title="No rooms yet">
          <p>Create a room, then send your guests a join link from its page.</p>
        </EmptyState>
      )}
      {rooms.data && rooms.data.items.length > 0 && (
        <table className="data section">
          <thead>
            <tr>
              <th>Name</th>
              <th>Live</th>
              <th>Recording</th>
              <th>Auto-record</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {rooms.data.items.map((room) => (
              <tr key={room.id}>
                <td>
                  <a href={`#/rooms/${room.id}`}>{room.name}</a>
                </td>
                <td>{room.session ? `${room.session.connections.length} connected` : '—'}</td>
                <td>{room.session?.recording.length ? <span className="rec-indicator">REC</span> : '—'}</td>
                <td>{room.autoRecord ? 'yes' : 'no'}</td>
                <td>
                  <ConfirmButton question={`Delete ${room.name}?`} onConfirm={() => void remove(room.id)}>
                    Delete
                  </ConfirmButton>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
