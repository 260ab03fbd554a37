import { useEffect, useMemo, useRef, useState } from 'react';
import type { ArchiveJson } from '../../../shared/archive';
import {
  computeTiles,
  DEFAULT_LAYOUT,
  LAYOUT_PRESETS,
  normalizeLayout,
  type Layout,
  type LayoutSource,
} from '../../../shared/layout';
import type { RoomJson } from '../../../shared/rooms';
import { useApi, useProjectBase } from '../hooks';
import type { RemoteStream } from '../rtc/RoomClient';
import { useStudio } from '../store';

interface SavedLayout {
  id: string;
  name: string;
  resolution: string;
  layout: unknown;
}

/** Width of the program view on screen, in CSS pixels. */
const VIEW_WIDTH = 640;

function canvasOf(resolution: string | null): { width: number; height: number } {
  const [width, height] = (resolution ?? '640x480').split('x').map(Number) as [number, number];
  return { width, height };
}

/** A live stream in a tile, letterboxed the way the composer scales it (fit, centred). */
function ProgramTile({ media }: { media: MediaStream }) {
  const ref = useRef<HTMLVideoElement>(null);
  useEffect(() => {
    const video = ref.current;
    if (video === null) return;
    if (video.srcObject !== media) video.srcObject = media;
    void video.play().catch(() => {});
  });
  return (
    <video
      ref={ref}
      autoPlay
      playsInline
      muted
      style={{ width: '100%', height: '100%', objectFit: 'contain', display: 'block' }}
    />
  );
}

/** One stream's layout classes, edited as text ("focus", "full", names used by `class:` patterns). */
function ClassesForm({
  name,
  classes,
  onSubmit,
}: {
  name: string;
  classes: readonly string[];
  onSubmit: (text: string) => void;
}) {
  const current = classes.join(' ');
  const [text, setText] = useState(current);
  // The stream's classes as the studio has them (after this form or the API changed them).
  useEffect(() => setText(current), [current]);
  return (
    <form
      className="toolbar"
      data-testid="program-classes"
      onSubmit={(e) => {
        e.preventDefault();
        onSubmit(text);
      }}
    >
      <label>
        Classes of {name}{' '}
        <input
          aria-label={`Layout classes of ${name}`}
          value={text}
          placeholder="e.g. focus"
          maxLength={400}
          onChange={(e) => setText(e.target.value)}
        />
      </label>
      <button type="submit">Set classes</button>
      <span className="muted" data-testid="program-classes-current">
        {current === '' ? 'no classes' : current}
      </span>
    </form>
  );
}

/**
 * The program of a composed archive while it records: the live streams placed by the
 * archive's current layout with the composer's own `computeTiles`, so what the operator sees is
 * where the composed file draws each guest. Switching the layout here stores it on the archive
 * (`PUT …/archive/{id}/layout`), and the composed file switches at that moment.
 */
export function ProgramView({
  room,
  archive,
  streams,
  onError,
}: {
  room: RoomJson;
  archive: ArchiveJson;
  streams: RemoteStream[];
  onError: (e: string | null) => void;
}) {
  const api = useStudio((s) => s.api);
  const base = useProjectBase();
  const canvas = canvasOf(archive.resolution);
  const [layout, setLayout] = useState<Layout | null>(null);
  const [choice, setChoice] = useState('');
  const [switchedAt, setSwitchedAt] = useState<number | null>(null);
  const saved = useApi((a) => a.get<{ items: SavedLayout[] }>('/api/layouts'), [], ['layout.']);

  useEffect(() => {
    let stale = false;
    api
      .get<{ layout: Layout }>(`/api/archives/${archive.id}/layout`)
      .then((r) => {
        if (!stale) setLayout(r.layout);
      })
      .catch((e: unknown) => onError(`Program view: ${(e as Error).message}`));
    return () => {
      stale = true;
    };
    // Loaded once per archive; later changes are made here.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [api, archive.id]);

  const apply = async (next: Layout, label: string) => {
    if (!base) return;
    const normalized = normalizeLayout(next, canvas);
    if ('issues' in normalized) {
      onError(`Layout ${label}: ${normalized.issues.map((i) => i.message).join('; ')}`);
      return;
    }
    try {
      const r = await api.put<{ atMs: number }>(`${base}/archive/${archive.id}/layout`, next);
      setLayout(normalized.layout);
      setChoice(label);
      setSwitchedAt(r.atMs);
      onError(null);
    } catch (e) {
      onError((e as Error).message);
    }
  };

  const recorded = (s: RemoteStream) =>
    s.info.hasVideo &&
    (archive.streamMode !== 'manual' || archive.streams.some((x) => x.streamId === s.info.id && x.hasVideo));
  const sources: LayoutSource[] = streams.filter(recorded).map((s) => ({
    id: s.info.id,
    streamId: s.info.id,
    connectionData: room.session?.connections.find((c) => c.id === s.info.connectionId)?.connectionData ?? '',
    videoType: s.info.videoType,
    classes: s.info.layoutClassList ?? [],
    since: s.info.createdAt,
  }));
  const tiles = useMemo(
    () => computeTiles(canvas, layout ?? DEFAULT_LAYOUT, sources),
    // Sources and canvas are rebuilt each render; their content is what matters.
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [layout, JSON.stringify(sources), canvas.width, canvas.height],
  );
  const scale = VIEW_WIDTH / canvas.width;
  const nameOf = (id: string) => sources.find((s) => s.id === id)?.connectionData || 'Guest';

  /**
   * Sets a stream's layout classes (OpenTok's stream API): layouts without focus patterns put
   * `focus`/`full` streams in the large area. The recording keeps the change with its time, so
   * the composed file switches at that moment too; the view re-flows when the stream's update
   * comes back over signaling.
   */
  const setClasses = async (streamId: string, text: string) => {
    if (!base) return;
    const layoutClassList = text.split(/[\s,]+/).filter((c) => c !== '');
    try {
      await api.put(`${base}/session/${encodeURIComponent(room.id)}/stream`, {
        items: [{ id: streamId, layoutClassList }],
      });
      onError(null);
    } catch (e) {
      onError(`Layout classes: ${(e as Error).message}`);
    }
  };

  const onSelect = (value: string) => {
    if (value.startsWith('preset:')) {
      void apply({ type: value.slice(7) as (typeof LAYOUT_PRESETS)[number] }, value);
    } else if (value.startsWith('saved:')) {
      const layoutOf = saved.data?.items.find((l) => l.id === value.slice(6));
      if (layoutOf) void apply(layoutOf.layout as Layout, value);
    }
  };

  return (
    <div className="section" data-testid="program-view">
      <h3>Program</h3>
      <div className="toolbar">
        <label>
          Layout{' '}
          <select aria-label="Program layout" value={choice} onChange={(e) => onSelect(e.target.value)}>
            <option value="" disabled>
              {layout ? `current: ${layout.type}` : 'loading…'}
            </option>
            {LAYOUT_PRESETS.filter((p) => p !== 'focus').map((p) => (
              <option key={p} value={`preset:${p}`}>
                {p}
              </option>
            ))}
            {(saved.data?.items ?? []).map((l) => (
              <option key={l.id} value={`saved:${l.id}`}>
                saved: {l.name}
              </option>
            ))}
          </select>
        </label>
        {switchedAt !== null && (
          <span className="muted" data-testid="program-switched-at">
            switched at {(switchedAt / 1000).toFixed(2)} s
          </span>
        )}
      </div>
      <div
        data-testid="program-canvas"
        style={{
          position: 'relative',
          width: canvas.width * scale,
          height: canvas.height * scale,
          background: '#000',
          overflow: 'hidden',
        }}
      >
        {tiles.map((t) => {
          const stream = streams.find((s) => s.info.id === t.sourceId);
          return (
            <div
              key={`${t.sourceId}-${t.region}-${t.z}`}
              data-testid="program-tile"
              data-source-id={t.sourceId}
              data-rect={`${t.x},${t.y},${t.width},${t.height}`}
              title={nameOf(t.sourceId)}
              style={{
                position: 'absolute',
                left: t.x * scale,
                top: t.y * scale,
                width: t.width * scale,
                height: t.height * scale,
                zIndex: t.z + 1,
                // The composer clears what lies under a tile that overlaps others.
                background: '#000',
              }}
            >
              {stream && <ProgramTile media={stream.media} />}
            </div>
          );
        })}
      </div>
      {sources.length > 0 && (
        <div className="toolbar">
          {sources.map((s) => (
            <button
              type="button"
              key={s.id}
              onClick={() =>
                void apply(
                  { type: 'horizontalPresentation', focus: [`stream:${s.streamId}`] },
                  `focus:${s.id}`,
                )
              }
            >
              Focus {nameOf(s.id)}
            </button>
          ))}
        </div>
      )}
      {sources.map((s) => (
        <ClassesForm
          key={s.id}
          name={nameOf(s.id)}
          classes={s.classes ?? []}
          onSubmit={(text) => void setClasses(s.streamId, text)}
        />
      ))}
    </div>
  );
}
