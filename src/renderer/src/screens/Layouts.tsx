import { useMemo, useRef, useState, type PointerEvent as ReactPointerEvent } from 'react';
import type { ArchiveJson } from '../../../shared/archive';
import {
  computeTiles,
  LAYOUT_PRESETS,
  normalizeLayout,
  type Layout,
  type LayoutRegion,
  type LayoutSource,
} from '../../../shared/layout';
import type { RoomJson } from '../../../shared/rooms';
import { ErrorNote } from '../components/ui';
import { useApi, useProjectBase } from '../hooks';
import { useStudio } from '../store';

interface SavedLayout {
  id: string;
  name: string;
  resolution: string;
  layout: Layout;
}

const RESOLUTIONS = ['1280x720', '1920x1080', '640x480', '720x1280', '1080x1920', '480x640'];
const EDITOR_WIDTH = 640;
const even = (n: number) => Math.max(0, Math.round(n / 2) * 2);

function newRegion(index: number, canvas: { width: number; height: number }): LayoutRegion {
  return {
    x_pos: even(canvas.width * 0.05 * (index + 1)),
    y_pos: even(canvas.height * 0.05 * (index + 1)),
    width: even(canvas.width / 2),
    height: even(canvas.height / 2),
    z_pos: index,
    cells_excluded: [],
    reuse: 'show_oldest',
    video_sources: ['*'],
    video_sources_excluded: [],
  };
}

/** Edit layouts: presets or regions dragged on a canvas, previewed with real streams, saved, applied. */
export function Layouts() {
  const api = useStudio((s) => s.api);
  const base = useProjectBase();
  const saved = useApi((a) => a.get<{ items: SavedLayout[] }>('/api/layouts'), []);
  const rooms = useApi((a) => a.get<{ items: RoomJson[] }>('/api/rooms'), [], ['stream.', 'session.']);
  const archives = useApi(
    (a) =>
      base
        ? a.get<{ items: ArchiveJson[] }>(`${base}/archive?count=100`)
        : Promise.resolve({ items: [] as ArchiveJson[] }),
    [base],
    ['archive.'],
  );
  const [resolution, setResolution] = useState('1280x720');
  const [history, setHistory] = useState<{ past: Layout[]; present: Layout; future: Layout[] }>({
    past: [],
    present: { type: 'bestFit' },
    future: [],
  });
  const [selected, setSelected] = useState<string | null>(null);
  const [name, setName] = useState('');
  const [savedId, setSavedId] = useState<string | null>(null);
  const [previewRoom, setPreviewRoom] = useState('');
  const [message, setMessage] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const layout = history.present;
  const [cw, ch] = resolution.split('x').map(Number) as [number, number];
  const canvas = { width: cw, height: ch };
  const scale = EDITOR_WIDTH / cw;

  const commit = (next: Layout) =>
    setHistory((h) => ({ past: [...h.past.slice(-49), h.present], present: next, future: [] }));
  const undo = () =>
    setHistory((h) =>
      h.past.length
        ? { past: h.past.slice(0, -1), present: h.past.at(-1)!, future: [h.present, ...h.future] }
        : h,
    );
  const redo = () =>
    setHistory((h) =>
      h.future.length
        ? { past: [...h.past, h.present], present: h.future[0]!, future: h.future.slice(1) }
        : h,
    );

  const regions = layout.type === 'custom' ? (layout.regions ?? {}) : {};
  const setRegion = (key: string, region: LayoutRegion | null, record = true) => {
    const next: Record<string, LayoutRegion> = { ...regions };
    if (region === null) delete next[key];
    else next[key] = region;
    const value: Layout = { type: 'custom', regions: next };
    if (record) commit(value);
    else setHistory((h) => ({ ...h, present: value }));
  };

  const issues = useMemo(() => {
    const result = normalizeLayout(layout, canvas);
    return 'issues' in result ? result.issues.map((i) => `${i.path.join('.')}: ${i.message}`) : [];
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [layout, cw, ch]);

  const liveRoom = rooms.data?.items.find((r) => r.id === previewRoom);
  const sources: LayoutSource[] = (liveRoom?.session?.streams ?? [])
    .filter((s) => s.hasVideo)
    .map((s) => ({
      id: s.id,
      streamId: s.id,
      connectionData:
        liveRoom?.session?.connections.find((c) => c.id === s.connectionId)?.connectionData ?? '',
      videoType: s.videoType,
      since: s.createdAt,
    }));
  const tiles = issues.length === 0 ? computeTiles(canvas, layout, sources) : [];

  // Dragging and resizing regions with the pointer.
  const drag = useRef<{
    key: string;
    mode: 'move' | 'resize';
    x: number;
    y: number;
    start: LayoutRegion;
    before: Layout;
  } | null>(null);
  const onPointerDown = (event: ReactPointerEvent, key: string, mode: 'move' | 'resize') => {
    event.stopPropagation();
    (event.target as Element).setPointerCapture(event.pointerId);
    setSelected(key);
    drag.current = { key, mode, x: event.clientX, y: event.clientY, start: regions[key]!, before: layout };
  };
  const onPointerMove = (event: ReactPointerEvent) => {
    const d = drag.current;
    if (!d) return;
    const dx = (event.clientX - d.x) / scale;
    const dy = (event.clientY - d.y) / scale;
    const r = d.start;
    const width = r.width ?? cw - r.x_pos;
    const height = r.height ?? ch - r.y_pos;
    const moved: LayoutRegion =
      d.mode === 'move'
        ? {
            ...r,
            x_pos: even(Math.min(Math.max(0, r.x_pos + dx), cw - width)),
            y_pos: even(Math.min(Math.max(0, r.y_pos + dy), ch - height)),
          }
        : {
            ...r,
            width: even(Math.min(Math.max(32, width + dx), cw - r.x_pos)),
            height: even(Math.min(Math.max(32, height + dy), ch - r.y_pos)),
          };
    setRegion(d.key, moved, false);
  };
  const onPointerUp = () => {
    const d = drag.current;
    if (!d) return;
    drag.current = null;
    // One undo step per drag.
    setHistory((h) => ({ past: [...h.past, d.before], present: h.present, future: [] }));
  };

  const save = async () => {
    try {
      const body = { name, resolution, layout };
      const result = savedId
        ? await api.put<SavedLayout>(`/api/layouts/${savedId}`, body)
        : await api.post<SavedLayout>('/api/layouts', body);
      setSavedId(result.id);
      setMessage(`Saved “${result.name}”.`);
      setError(null);
      saved.reload();
    } catch (e) {
      setError((e as Error).message);
    }
  };
  const load = (id: string) => {
    const l = saved.data?.items.find((x) => x.id === id);
    if (!l) return;
    setSavedId(l.id);
    setName(l.name);
    setResolution(l.resolution);
    commit(l.layout);
  };
  const applyTo = async (archive: ArchiveJson) => {
    try {
      if (archive.status === 'started' || archive.status === 'paused') {
        await api.put(`${base}/archive/${archive.id}/layout`, layout);
        setMessage(`Layout applied to the recording “${archive.name ?? archive.id}” from now on.`);
      } else {
        await api.post('/api/compositions', {
          archiveId: archive.id,
          videoLayout: layout,
          resolution,
          format: 'mp4',
        });
        setMessage(`Composition of “${archive.name ?? archive.id}” queued; see the archive for progress.`);
      }
      setError(null);
    } catch (e) {
      setError((e as Error).message);
    }
  };

  const selectedRegion = selected !== null ? regions[selected] : undefined;
  const recording = (archives.data?.items ?? []).filter(
    (a) => (a.status === 'started' || a.status === 'paused') && a.outputMode === 'composed',
  );
  const finished = (archives.data?.items ?? []).filter(
    (a) => a.status === 'available' || a.status === 'uploaded',
  );

  return (
    <section>
      <h2>Layout editor</h2>
      <div className="toolbar">
        <label>
          Saved layouts{' '}
          <select value={savedId ?? ''} onChange={(e) => load(e.target.value)} aria-label="Saved layouts">
            <option value="">—</option>
            {saved.data?.items.map((l) => (
              <option key={l.id} value={l.id}>
                {l.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Output{' '}
          <select value={resolution} onChange={(e) => setResolution(e.target.value)} aria-label="Resolution">
            {RESOLUTIONS.map((r) => (
              <option key={r}>{r}</option>
            ))}
          </select>
        </label>
        {LAYOUT_PRESETS.map((preset) => (
          <button
            key={preset}
            type="button"
            className={layout.type === preset ? '' : 'secondary'}
            onClick={() => commit({ type: preset })}
          >
            {preset}
          </button>
        ))}
        <button
          type="button"
          className={layout.type === 'custom' ? '' : 'secondary'}
          onClick={() => {
            const key = `region${Object.keys(regions).length + 1}`;
            setRegion(key, newRegion(Object.keys(regions).length, canvas));
            setSelected(key);
          }}
        >
          Add region
        </button>
        <button type="button" className="secondary" onClick={undo} disabled={history.past.length === 0}>
          Undo
        </button>
        <button type="button" className="secondary" onClick={redo} disabled={history.future.length === 0}>
          Redo
        </button>
      </div>
      <div className="two-col">
        <div>
          <div
            className="canvas"
            data-testid="layout-canvas"
            style={{ width: EDITOR_WIDTH, height: ch * scale }}
            onPointerMove={onPointerMove}
            onPointerUp={onPointerUp}
            onPointerDown={() => setSelected(null)}
          >
            {Object.entries(regions)
              .sort(([, a], [, b]) => a.z_pos - b.z_pos)
              .map(([key, r]) => (
                <div
                  key={key}
                  data-testid={`region-${key}`}
                  className={`region${key === selected ? ' selected' : ''}`}
                  style={{
                    left: r.x_pos * scale,
                    top: r.y_pos * scale,
                    width: (r.width ?? cw - r.x_pos) * scale,
                    height: (r.height ?? ch - r.y_pos) * scale,
                    zIndex: r.z_pos + 1,
                  }}
                  onPointerDown={(e) => onPointerDown(e, key, 'move')}
                >
                  {key} · {r.video_sources.join(', ')}
                  <div
                    className="handle"
                    data-testid={`resize-${key}`}
                    onPointerDown={(e) => onPointerDown(e, key, 'resize')}
                  />
                </div>
              ))}
            {tiles.map((t) => (
              <div
                key={`${t.sourceId}-${t.region}`}
                className="tile-preview"
                style={{
                  left: t.x * scale,
                  top: t.y * scale,
                  width: t.width * scale,
                  height: t.height * scale,
                  zIndex: 100 + t.z,
                }}
              >
                {sources.find((s) => s.id === t.sourceId)?.connectionData || t.sourceId.slice(0, 8)}
              </div>
            ))}
          </div>
          <p className="muted">
            {layout.type === 'custom'
              ? 'Drag regions to move them; drag the yellow corner to resize.'
              : `Preset: ${layout.type}.`}{' '}
            The dashed tiles show where each live stream of the preview room would go.
          </p>
          <label>
            Preview with the streams of{' '}
            <select
              value={previewRoom}
              onChange={(e) => setPreviewRoom(e.target.value)}
              aria-label="Preview room"
            >
              <option value="">no room</option>
              {rooms.data?.items
                .filter((r) => r.session)
                .map((r) => (
                  <option key={r.id} value={r.id}>
                    {r.name} ({r.session!.streams.length} streams)
                  </option>
                ))}
            </select>
          </label>
          {issues.map((issue) => (
            <p key={issue} className="error" role="alert">
              {issue}
            </p>
          ))}
        </div>
        <div>
          {selectedRegion && selected && (
            <RegionForm
              name={selected}
              region={selectedRegion}
              onChange={(r) => setRegion(selected, r)}
              onRemove={() => {
                setRegion(selected, null);
                setSelected(null);
              }}
            />
          )}
          <div className="card section">
            <label>
              Layout name
              <input value={name} onChange={(e) => setName(e.target.value)} placeholder="Interview" />
            </label>
            <button
              type="button"
              onClick={() => void save()}
              disabled={name.trim() === '' || issues.length > 0}
            >
              Save layout
            </button>
            {savedId && (
              <button
                type="button"
                className="secondary"
                onClick={() => {
                  setSavedId(null);
                  setName('');
                }}
              >
                Save as new
              </button>
            )}
          </div>
          <div className="card section">
            <strong>Apply</strong>
            {recording.length === 0 && finished.length === 0 && (
              <p className="muted">No archive to apply it to yet.</p>
            )}
            {recording.map((a) => (
              <p key={a.id}>
                <button type="button" onClick={() => void applyTo(a)} disabled={issues.length > 0}>
                  Apply to recording “{a.name ?? a.id.slice(0, 8)}”
                </button>
              </p>
            ))}
            {finished.length > 0 && (
              <ApplyToArchive
                archives={finished}
                disabled={issues.length > 0}
                onApply={(a) => void applyTo(a)}
              />
            )}
          </div>
          {message && (
            <p role="status" className="ok">
              {message}
            </p>
          )}
          <ErrorNote error={error} />
        </div>
      </div>
    </section>
  );
}

function ApplyToArchive({
  archives,
  onApply,
  disabled,
}: {
  archives: ArchiveJson[];
  onApply: (a: ArchiveJson) => void;
  disabled: boolean;
}) {
  const [id, setId] = useState(archives[0]?.id ?? '');
  const archive = archives.find((a) => a.id === id);
  return (
    <div className="row">
      <label>
        Archive
        <select value={id} onChange={(e) => setId(e.target.value)} aria-label="Archive to compose">
          {archives.map((a) => (
            <option key={a.id} value={a.id}>
              {a.name ?? a.id.slice(0, 8)} ({new Date(a.createdAt).toLocaleString()})
            </option>
          ))}
        </select>
      </label>
      <button type="button" disabled={disabled || !archive} onClick={() => archive && onApply(archive)}>
        Compose with this layout
      </button>
    </div>
  );
}

function RegionForm({
  name,
  region,
  onChange,
  onRemove,
}: {
  name: string;
  region: LayoutRegion;
  onChange: (r: LayoutRegion) => void;
  onRemove: () => void;
}) {
  const num = (
    key: 'x_pos' | 'y_pos' | 'width' | 'height' | 'z_pos' | 'max_columns' | 'max_rows',
    label: string,
  ) => (
    <label>
      {label}
      <input
        type="number"
        value={region[key] ?? ''}
        onChange={(e) =>
          onChange({ ...region, [key]: e.target.value === '' ? undefined : Number(e.target.value) })
        }
      />
    </label>
  );
  return (
    <div className="card" aria-label={`Region ${name}`}>
      <strong>Region {name}</strong>
      <div className="row">
        {num('x_pos', 'x')}
        {num('y_pos', 'y')}
        {num('width', 'width')}
        {num('height', 'height')}
      </div>
      <div className="row">
        {num('z_pos', 'z (stacking)')}
        {num('max_columns', 'max columns')}
        {num('max_rows', 'max rows')}
        <label>
          When more sources match
          <select
            value={region.reuse}
            onChange={(e) => onChange({ ...region, reuse: e.target.value as LayoutRegion['reuse'] })}
          >
            <option value="show_oldest">show the oldest</option>
            <option value="show_newest">show the newest</option>
            <option value="none">keep cells (none)</option>
          </select>
        </label>
      </div>
      <label>
        Sources (comma separated: *, type:screen, data:Host*, stream:&lt;id&gt;)
        <input
          aria-label="Sources"
          value={region.video_sources.join(', ')}
          onChange={(e) =>
            onChange({
              ...region,
              video_sources: e.target.value
                .split(',')
                .map((s) => s.trim())
                .filter(Boolean),
            })
          }
        />
      </label>
      <div className="toolbar">
        <button
          type="button"
          className="secondary"
          onClick={() => onChange({ ...region, z_pos: region.z_pos + 1 })}
        >
          Bring forward
        </button>
        <button
          type="button"
          className="secondary"
          onClick={() => onChange({ ...region, z_pos: Math.max(0, region.z_pos - 1) })}
        >
          Send back
        </button>
        <button type="button" className="danger" onClick={onRemove}>
          Remove region
        </button>
      </div>
    </div>
  );
}
