import { useState, type FormEvent } from 'react';
import type { ArchiveJson, ManifestTrack } from '../../../shared/archive';
import type { CompositionJson } from '../../../shared/compositions';
import type { RoomJson } from '../../../shared/rooms';
import type { DeliveryJson } from '../../../shared/targets';
import { archiveDisplayName } from '../archiveNames';
import { usePosterUrl } from '../components/ArchivePoster';
import { FilePlayer, MultiTrackPlayer, useFileAccess } from '../components/Players';
import { ConfirmButton, ErrorNote, Progress, StatusBadge } from '../components/ui';
import { formatBytes, formatDrops, formatDuration, totalDrops } from '../format';
import { useApi, useProjectBase, useStudioEvents } from '../hooks';
import { useStudio } from '../store';

interface ArchiveFile {
  filename: string;
  kind: string;
  size: number;
  streamId: string | null;
  startOffsetMs: number;
  stopOffsetMs: number | null;
  info: Record<string, unknown>;
  url: string;
  /** A signed link that needs no credentials, minted when the list was fetched. */
  signedUrl: string | null;
  signedUrlExpiresAt: number | null;
}

/** A recorded file's dropped frames per track (from its `tracks`, as in the manifest), and its write error. */
function FileDrops({ info }: { info: Record<string, unknown> }) {
  const tracks = info.tracks as Partial<Record<'audio' | 'video', ManifestTrack>> | undefined;
  const error = typeof info.error === 'string' ? info.error : null;
  if (tracks === undefined && error === null) return null;
  const kinds = (['video', 'audio'] as const).filter((k) => tracks?.[k] !== undefined);
  const total = kinds.reduce((n, k) => n + totalDrops(tracks![k]!.framesDropped), 0);
  return (
    <span data-testid="file-drops" data-count={total}>
      {kinds.map((k) => (
        <span
          key={k}
          className={totalDrops(tracks![k]!.framesDropped) > 0 ? 'error dropped' : 'muted dropped'}
        >
          {k}: {formatDrops(tracks![k]!.framesDropped)}
          <br />
        </span>
      ))}
      {error !== null && <span className="error">Ended early: {error}</span>}
    </span>
  );
}

/** Copies a file's signed link; the link is minted anew at each click (it expires). */
function CopyLinkButton({
  archiveId,
  filename,
  ttlSec,
}: {
  archiveId: string;
  filename: string;
  ttlSec: number;
}) {
  const api = useStudio((s) => s.api);
  const [note, setNote] = useState<string | null>(null);
  const copy = async () => {
    try {
      const fresh = await api.get<{ items: ArchiveFile[] }>(`/api/archives/${archiveId}/files`);
      const file = fresh.items.find((f) => f.filename === filename);
      if (!file?.signedUrl || file.signedUrlExpiresAt === null) throw new Error('no link for this file');
      await navigator.clipboard.writeText(file.signedUrl);
      setNote(`copied, expires in ${formatDuration((file.signedUrlExpiresAt - Date.now()) / 1000)}`);
    } catch (error) {
      setNote(`could not copy: ${(error as Error).message}`);
    }
  };
  return (
    <>
      <button
        type="button"
        className="small"
        onClick={() => void copy()}
        title="A download link that needs no password"
      >
        Copy link (expires in {formatDuration(ttlSec)})
      </button>
      {note !== null && <span className="muted"> {note}</span>}
    </>
  );
}

interface SavedLayout {
  id: string;
  name: string;
  resolution: string;
  layout: unknown;
}

/** One archive: files, manifest, compositions, deliveries, playback, export, delete. */
export function Archive({ id }: { id: string }) {
  const api = useStudio((s) => s.api);
  const base = useProjectBase();
  const archive = useApi(
    (a) => (base ? a.get<ArchiveJson>(`${base}/archive/${id}`) : Promise.resolve(null)),
    [id, base],
    ['archive.'],
  );
  const files = useApi(
    (a) =>
      a
        .get<{ items: ArchiveFile[] }>(`/api/archives/${id}/files`)
        .then((r) => ({ ...r, fetchedAt: Date.now() })),
    [id],
    ['archive.', 'composition.available'],
  );
  const compositions = useApi(
    (a) =>
      a.get<{ items: CompositionJson[] }>(`/api/compositions?archiveId=${id}`).catch(() => ({ items: [] })),
    [id],
    ['composition.enqueued', 'composition.started', 'composition.available', 'composition.failed'],
  );
  const deliveries = useApi(
    (a) => a.get<{ items: DeliveryJson[] }>(`/api/deliveries?archiveId=${id}`).catch(() => ({ items: [] })),
    [id],
    ['delivery.queued', 'delivery.succeeded', 'delivery.failed', 'archive.uploaded'],
  );
  const [progress, setProgress] = useState<Record<string, number>>({});
  useStudioEvents(['composition.progress', 'delivery.progress'], (event) => {
    if (event.type === 'composition.progress' && event.data.archiveId === id) {
      setProgress((p) => ({ ...p, [event.data.compositionId]: event.data.percent }));
    }
    if (event.type === 'delivery.progress' && event.data.archiveId === id) {
      setProgress((p) => ({
        ...p,
        [event.data.deliveryId]: (event.data.bytes / Math.max(1, event.data.size)) * 100,
      }));
    }
  });
  const access = useFileAccess();
  const rooms = useApi((c) => c.get<{ items: RoomJson[] }>('/api/rooms'), []);
  const roomName = rooms.data?.items.find((r) => r.id === archive.data?.sessionId)?.name ?? null;
  const available = archive.data?.status === 'available' || archive.data?.status === 'uploaded';
  const posterUrl = usePosterUrl(id, available);
  const [error, setError] = useState<string | null>(null);
  const act = async (fn: () => Promise<unknown>) => {
    try {
      await fn();
      setError(null);
      deliveries.reload();
      compositions.reload();
    } catch (e) {
      setError((e as Error).message);
    }
  };

  if (archive.error && !archive.data) return <ErrorNote error={archive.error} />;
  const a = archive.data;
  if (!a) return <p className="muted">Loading archive…</p>;
  const media = (files.data?.items ?? []).filter((f) => f.kind === 'media');
  const manifest = (files.data?.items ?? []).find((f) => f.kind === 'manifest');
  const composedFiles = (files.data?.items ?? []).filter((f) => f.kind === 'composition');
  const done = a.status !== 'started' && a.status !== 'paused';

  return (
    <section>
      <p>
        <a href="#/archives">← Archives</a>
      </p>
      <header className="toolbar">
        <h2 style={{ margin: 0 }}>{archiveDisplayName(a, roomName)}</h2>
        <StatusBadge status={a.status} />
        {a.reason && <span className="muted">({a.reason})</span>}
      </header>
      <ErrorNote error={error ?? access.error} />
      <dl className="facts">
        <dt>Archive id</dt>
        <dd>
          <code>{a.id}</code>
        </dd>
        <dt>Output</dt>
        <dd>
          {a.outputMode} · {a.format} · {a.streamMode} streams{a.resolution ? ` · ${a.resolution}` : ''}
        </dd>
        <dt>Duration</dt>
        <dd>{done ? formatDuration(a.duration) : 'recording…'}</dd>
        <dt>Size</dt>
        <dd>{formatBytes(a.size)}</dd>
        <dt>Created</dt>
        <dd>{new Date(a.createdAt).toLocaleString()}</dd>
      </dl>
      <div className="toolbar">
        {done && media.length > 0 && (
          <button
            type="button"
            className="button"
            onClick={() =>
              void act(async () => {
                // A signed link made now: a download is a navigation, which carries no credentials.
                const link = await api.post<{ path: string }>(`/api/archives/${a.id}/links`, {
                  file: 'archive.zip',
                });
                const anchor = document.createElement('a');
                anchor.href = link.path;
                anchor.download = `${a.id}.zip`;
                anchor.click();
              })
            }
          >
            Export ZIP
          </button>
        )}
        {done && (
          <ConfirmButton
            question="Delete this archive and its files?"
            onConfirm={() =>
              void act(async () => {
                await api.delete(`${base}/archive/${a.id}`);
                window.location.hash = '#/archives';
              })
            }
          >
            Delete archive
          </ConfirmButton>
        )}
      </div>

      <h3>Files</h3>
      <table className="data">
        <thead>
          <tr>
            <th>File</th>
            <th>Who</th>
            <th>From</th>
            <th>To</th>
            <th>Size</th>
            <th>Dropped frames</th>
            <th>Link</th>
          </tr>
        </thead>
        <tbody>
          {(files.data?.items ?? []).map((f) => (
            <tr key={f.filename}>
              <td>
                <code>{f.filename}</code>
              </td>
              <td>{String(f.info.connectionData ?? '')}</td>
              <td>
                {f.kind === 'media' || f.kind === 'split' ? formatDuration(f.startOffsetMs / 1000) : ''}
              </td>
              <td>{f.stopOffsetMs !== null ? formatDuration(f.stopOffsetMs / 1000) : ''}</td>
              <td>{formatBytes(f.size)}</td>
              <td>
                <FileDrops info={f.info} />
              </td>
              <td>
                {f.signedUrl !== null && f.signedUrlExpiresAt !== null && (
                  <CopyLinkButton
                    archiveId={id}
                    filename={f.filename}
                    ttlSec={Math.max(
                      0,
                      Math.round(
                        (f.signedUrlExpiresAt - (files.data?.fetchedAt ?? f.signedUrlExpiresAt)) / 1000,
                      ),
                    )}
                  />
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>

      {access.ready && done && (
        <>
          <h3>Playback</h3>
          {composedFiles.map((f) => (
            <FilePlayer
              key={f.filename}
              src={f.url}
              label={`Composed: ${f.filename}`}
              testId="composed-player"
              poster={posterUrl}
            />
          ))}
          {media.length > 0 && (
            <MultiTrackPlayer
              tracks={media.map((f) => ({
                src: f.url,
                label: String(f.info.connectionData || f.streamId || f.filename),
                startOffsetMs: f.startOffsetMs,
                stopOffsetMs: f.stopOffsetMs ?? f.startOffsetMs,
              }))}
            />
          )}
          <details>
            <summary>Each track on its own</summary>
            <div className="player-grid">
              {media.map((f) => (
                <FilePlayer
                  key={f.filename}
                  src={f.url}
                  label={String(f.info.connectionData || f.filename)}
                  testId="track-player"
                />
              ))}
            </div>
          </details>
          {manifest && <ManifestView archiveId={a.id} file={manifest.filename} />}
        </>
      )}

      <h3>Compositions</h3>
      {done && media.length > 0 && (
        <ComposeForm archive={a} onCreated={compositions.reload} onError={setError} />
      )}
      <table className="data">
        <tbody>
          {(compositions.data?.items ?? []).map((c) => (
            <tr key={c.id} data-testid="composition-row">
              <td>
                <code>{c.id.slice(0, 8)}</code> {c.resolution} {c.format}
              </td>
              <td>
                <StatusBadge status={c.status} />
              </td>
              <td>
                {c.status === 'processing' && (
                  <Progress value={progress[c.id] ?? c.progress} label="composition progress" />
                )}
                {c.status === 'completed' && `${formatDuration(c.duration)} · ${formatBytes(c.size)}`}
                {c.status === 'failed' && <span className="error">{c.error}</span>}
              </td>
              <td>
                {(c.status === 'enqueued' || c.status === 'processing') && (
                  <button
                    type="button"
                    className="secondary small"
                    onClick={() => void act(() => api.delete(`/api/compositions/${c.id}`))}
                  >
                    Cancel
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>

      <h3>Deliveries</h3>
      {(deliveries.data?.items ?? []).length === 0 && (
        <p className="muted">No delivery targets are set up (Settings → Delivery targets).</p>
      )}
      <table className="data">
        <tbody>
          {(deliveries.data?.items ?? []).map((d) => (
            <tr key={d.id} data-testid="delivery-row">
              <td>{d.targetName}</td>
              <td>
                <code>{d.file}</code>
              </td>
              <td>
                <StatusBadge status={d.status} />
              </td>
              <td>
                {d.status === 'uploading' && (
                  <Progress
                    value={progress[d.id] ?? (d.bytes / Math.max(1, d.size)) * 100}
                    label="delivery progress"
                  />
                )}
                {d.lastError && d.status !== 'succeeded' && (
                  <span className="error">{d.lastError.message}</span>
                )}
              </td>
              <td>
                {(d.status === 'failed' || d.status === 'canceled' || d.status === 'retrying') && (
                  <button
                    type="button"
                    className="secondary small"
                    onClick={() => void act(() => api.post(`/api/deliveries/${d.id}/retry`))}
                  >
                    Retry
                  </button>
                )}
                {d.status !== 'succeeded' && d.status !== 'canceled' && (
                  <button
                    type="button"
                    className="secondary small"
                    onClick={() => void act(() => api.post(`/api/deliveries/${d.id}/cancel`))}
                  >
                    Cancel
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function ManifestView({ archiveId, file }: { archiveId: string; file: string }) {
  const api = useStudio((s) => s.api);
  const [text, setText] = useState<string | null>(null);
  // Through a signed link: the player worker adds the file server's credentials to media only.
  const load = async () => {
    try {
      const link = await api.post<{ path: string }>(`/api/archives/${archiveId}/links`, { file });
      const response = await fetch(link.path);
      setText(response.ok ? await response.text() : `cannot load: HTTP ${response.status}`);
    } catch (e) {
      setText(`cannot load: ${(e as Error).message}`);
    }
  };
  return (
    <details onToggle={(e) => e.currentTarget.open && text === null && void load()}>
      <summary>manifest.json</summary>
      <pre className="code">{text ?? 'Loading…'}</pre>
    </details>
  );
}

function ComposeForm({
  archive,
  onCreated,
  onError,
}: {
  archive: ArchiveJson;
  onCreated: () => void;
  onError: (e: string | null) => void;
}) {
  const api = useStudio((s) => s.api);
  const layouts = useApi((a) => a.get<{ items: SavedLayout[] }>('/api/layouts'), []);
  const [layout, setLayout] = useState('bestFit');
  const [resolution, setResolution] = useState('1280x720');
  const [format, setFormat] = useState<'mp4' | 'webm'>('mp4');
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const saved = layouts.data?.items.find((l) => l.id === layout);
    try {
      await api.post('/api/compositions', {
        archiveId: archive.id,
        resolution: saved?.resolution ?? resolution,
        format,
        videoLayout: saved ? saved.layout : { type: layout },
      });
      onError(null);
      onCreated();
    } catch (e) {
      onError((e as Error).message);
    }
  };
  return (
    <form className="row card" onSubmit={(e) => void submit(e)} aria-label="Compose">
      <label>
        Layout
        <select value={layout} onChange={(e) => setLayout(e.target.value)}>
          <optgroup label="Presets">
            {['bestFit', 'pip', 'verticalPresentation', 'horizontalPresentation', 'focus'].map((p) => (
              <option key={p} value={p}>
                {p}
              </option>
            ))}
          </optgroup>
          {layouts.data && layouts.data.items.length > 0 && (
            <optgroup label="Saved layouts">
              {layouts.data.items.map((l) => (
                <option key={l.id} value={l.id}>
                  {l.name}
                </option>
              ))}
            </optgroup>
          )}
        </select>
      </label>
      <label>
        Resolution
        <select value={resolution} onChange={(e) => setResolution(e.target.value)}>
          {['640x480', '1280x720', '1920x1080', '480x640', '720x1280', '1080x1920'].map((r) => (
            <option key={r}>{r}</option>
          ))}
        </select>
      </label>
      <label>
        Format
        <select value={format} onChange={(e) => setFormat(e.target.value as 'mp4' | 'webm')}>
          <option value="mp4">MP4 (H.264 + AAC)</option>
          <option value="webm">WebM (VP8 + Opus)</option>
        </select>
      </label>
      <button type="submit">Compose</button>
    </form>
  );
}
