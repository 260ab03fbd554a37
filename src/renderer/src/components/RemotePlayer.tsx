import { useState, type FormEvent } from 'react';
import { useStudio } from '../store';
import { FilePlayer, useFileAccess } from './Players';
import { ErrorNote } from './ui';

/** Plays a file from another server behind HTTP Basic auth (EnableX-style storage). */
export function RemotePlayer() {
  const api = useStudio((s) => s.api);
  const access = useFileAccess();
  const [url, setUrl] = useState('');
  const [user, setUser] = useState('');
  const [password, setPassword] = useState('');
  const [local, setLocal] = useState(false);
  const [media, setMedia] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const open = async (event: FormEvent) => {
    event.preventDefault();
    try {
      const source = await api.post<{ id: string; mediaUrl: string }>('/api/playback-sources', {
        url,
        ...(user ? { user, password } : {}),
        ...(local ? { allowPrivateNetwork: true } : {}),
      });
      setMedia(source.mediaUrl);
      setPassword('');
      setError(null);
    } catch (e) {
      setError((e as Error).message);
    }
  };
  return (
    <details className="section card">
      <summary>
        <strong>Play a remote file</strong>
      </summary>
      <form className="row" onSubmit={(e) => void open(e)} aria-label="Remote file">
        <label>
          URL
          <input
            type="url"
            value={url}
            onChange={(e) => setUrl(e.target.value)}
            required
            placeholder="https://storage.example.com/rec.mp4"
          />
        </label>
        <label>
          User
          <input value={user} onChange={(e) => setUser(e.target.value)} autoComplete="off" />
        </label>
        <label>
          Password
          <input
            type="password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            autoComplete="off"
          />
        </label>
        <label>
          <input type="checkbox" checked={local} onChange={(e) => setLocal(e.target.checked)} />
          On this machine or the local network
        </label>
        <button type="submit" disabled={!access.ready}>
          Play
        </button>
      </form>
      <ErrorNote error={error ?? access.error} />
      {media && <FilePlayer key={media} src={media} label={url} testId="remote-player" />}
    </details>
  );
}
