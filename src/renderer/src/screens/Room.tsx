import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import type { ArchiveJson, FramesDropped } from '../../../shared/archive';
import type { StreamInfo } from '../../../shared/events/rooms';
import type { Role, RoomJson, TokenResponse } from '../../../shared/rooms';
import { AudioMeter } from '../components/AudioMeter';
import { MediaView } from '../components/MediaView';
import { RecordingStats, StreamDrops, useRecordingProgress } from '../components/RecordingStats';
import { StreamHealthBadge, useRoomHealth } from '../components/StreamHealth';
import { CopyButton, EmptyState, ErrorNote } from '../components/ui';
import { COMMAND_EVENT, commandOf } from '../desktopCommands';
import { formatDuration } from '../format';
import { useApi, useNow, useProjectBase, useStudioEvents } from '../hooks';
import { RoomClient, type RemoteStream } from '../rtc/RoomClient';
import { useStudio } from '../store';
import { ProgramView } from './ProgramView';

interface RecordOptions {
  name: string;
  outputMode: 'individual' | 'composed';
  format: 'webm' | 'mp4';
  streamMode: 'auto' | 'manual';
  splitDuration: string;
  resolution: string;
}

function signalingUrl(base: string): string {
  return `${base.replace(/^http/, 'ws')}/signaling`;
}

/** One room: settings, join links, and — while someone is in it — session control. */
export function Room({ id }: { id: string }) {
  const api = useStudio((s) => s.api);
  const info = useStudio((s) => s.info);
  const base = useProjectBase();
  const room = useApi(
    (a) => a.get<RoomJson>(`/api/rooms/${id}`),
    [id],
    ['room.', 'session.', 'connection.', 'stream.', 'archive.'],
  );
  const archives = useApi(
    (a) =>
      base
        ? a.get<{ items: ArchiveJson[] }>(`${base}/archive?sessionId=${id}&count=20`)
        : Promise.resolve({ items: [] }),
    [id, base],
    ['archive.'],
  );
  const [error, setError] = useState<string | null>(null);
  const active = (archives.data?.items ?? []).filter((a) => a.status === 'started' || a.status === 'paused');
  const progress = useRecordingProgress(active);

  if (room.error && !room.data) return <ErrorNote error={room.error} />;
  if (!room.data) return <p className="muted">Loading room…</p>;
  const r = room.data;
  return (
    <section>
      <p>
        <a href="#/rooms">← Rooms</a>
      </p>
      <header className="toolbar">
        <h2 style={{ margin: 0 }}>{r.name}</h2>
        {active.length > 0 && <RecordingIndicator archives={active} />}
        {active.length > 0 && <RecordingStats progress={progress} />}
        <span className="muted">
          {r.session ? `${r.session.connections.length} connected` : 'nobody is in the room'}
        </span>
      </header>
      <ErrorNote error={error} />
      <JoinLinks
        roomId={r.id}
        lanUrl={info?.lanUrl ?? null}
        fingerprint={info?.certificateFingerprint ?? null}
      />
      <RecordingControl room={r} active={active} onError={setError} />
      {r.session ? (
        <SessionView room={r} active={active} drops={progress.byStream} onError={setError} />
      ) : (
        <EmptyState title="Nobody is in the room">
          <p>Send a join link to your guests; their video appears here when they join.</p>
        </EmptyState>
      )}
      <RoomSettings room={r} onSaved={room.reload} onError={setError} api={api} />
    </section>
  );
}

function RecordingIndicator({ archives }: { archives: ArchiveJson[] }) {
  const now = useNow(500);
  const first = archives[0]!;
  const paused = archives.every((a) => a.status === 'paused');
  return (
    <span
      className="rec-indicator"
      data-testid="room-recording"
      title={paused ? 'paused: nothing is published' : 'recording'}
    >
      {paused ? 'PAUSED' : 'REC'}{' '}
      <span className="rec-time">{formatDuration((now - first.createdAt) / 1000)}</span>
    </span>
  );
}

function JoinLinks({
  roomId,
  lanUrl,
  fingerprint,
}: {
  roomId: string;
  lanUrl: string | null;
  fingerprint: string | null;
}) {
  const api = useStudio((s) => s.api);
  const [role, setRole] = useState<Role>('publisher');
  const [hours, setHours] = useState('24');
  const [connectionData, setConnectionData] = useState('');
  const [recordingBlock, setRecordingBlock] = useState(false);
  const [link, setLink] = useState<TokenResponse | null>(null);
  const [error, setError] = useState<string | null>(null);
  const create = async (event: FormEvent) => {
    event.preventDefault();
    try {
      setLink(
        await api.post<TokenResponse>(`/api/rooms/${roomId}/tokens`, {
          role,
          expiresInSec: Math.round(Number(hours) * 3600),
          connectionData,
          recordingBlock,
        }),
      );
      setError(null);
    } catch (e) {
      setError((e as Error).message);
    }
  };
  return (
    <details className="section card" open>
      <summary>
        <strong>Join links</strong>
      </summary>
      <form className="row" onSubmit={(e) => void create(e)} aria-label="Join link">
        <label>
          Role
          <select value={role} onChange={(e) => setRole(e.target.value as Role)}>
            <option value="publisher">Guest (publisher)</option>
            <option value="moderator">Moderator (can record)</option>
            <option value="subscriber">Viewer (subscriber)</option>
          </select>
        </label>
        <label>
          Name shown
          <input
            value={connectionData}
            onChange={(e) => setConnectionData(e.target.value)}
            placeholder="Guest name"
          />
        </label>
        <label>
          Expires in (hours)
          <input
            type="number"
            min="0.01"
            step="any"
            value={hours}
            onChange={(e) => setHours(e.target.value)}
          />
        </label>
        <label className="inline">
          <input
            type="checkbox"
            checked={recordingBlock}
            onChange={(e) => setRecordingBlock(e.target.checked)}
          />{' '}
          Never record this guest
        </label>
        <button type="submit">Create link</button>
      </form>
      <ErrorNote error={error} />
      {link && (
        <dl className="facts">
          <dt>Join link</dt>
          <dd>
            <code className="long" data-testid="join-url">
              {link.joinUrl}
            </code>{' '}
            <CopyButton text={link.joinUrl} label="Copy link" />
          </dd>
          {link.lanJoinUrl && (
            <>
              <dt>On the LAN</dt>
              <dd>
                <code className="long">{link.lanJoinUrl}</code>{' '}
                <CopyButton text={link.lanJoinUrl} label="Copy LAN link" />
              </dd>
            </>
          )}
          <dt>WHIP (OBS…)</dt>
          <dd>
            <code className="long">{link.whipUrl}</code>{' '}
            <CopyButton text={link.whipUrl} label="Copy WHIP URL" /> with bearer token{' '}
            <CopyButton text={link.token} label="Copy token" />
          </dd>
        </dl>
      )}
      {lanUrl ? (
        <p className="muted">
          Guests on the LAN use {lanUrl}. The certificate is self-signed; its SHA-256 fingerprint is{' '}
          <code className="long">{fingerprint}</code>.
        </p>
      ) : (
        <p className="muted">
          Guests can join from this computer only. Set a LAN address in Settings to invite guests on your
          network.
        </p>
      )}
    </details>
  );
}

function RecordingControl({
  room,
  active,
  onError,
}: {
  room: RoomJson;
  active: ArchiveJson[];
  onError: (e: string | null) => void;
}) {
  const api = useStudio((s) => s.api);
  const base = useProjectBase();
  const [options, setOptions] = useState<RecordOptions>({
    name: '',
    outputMode: room.recording.outputMode,
    format: room.recording.format,
    streamMode: room.recording.streamMode,
    splitDuration: room.recording.splitDuration ? String(room.recording.splitDuration) : '',
    resolution: room.recording.resolution,
  });
  const [busy, setBusy] = useState(false);
  const start = useCallback(async () => {
    if (!base || busy) return;
    setBusy(true);
    try {
      await api.post(`${base}/archive`, {
        sessionId: room.id,
        outputMode: options.outputMode,
        format: options.format,
        streamMode: options.streamMode,
        ...(options.name ? { name: options.name } : {}),
        ...(options.splitDuration ? { splitDuration: Number(options.splitDuration) } : {}),
        ...(options.outputMode === 'composed' ? { resolution: options.resolution } : {}),
      });
      onError(null);
    } catch (e) {
      onError((e as Error).message);
    } finally {
      setBusy(false);
    }
  }, [api, base, busy, options, room.id, onError]);
  const stop = useCallback(async () => {
    if (!base) return;
    // Every archive of the room is asked to stop, even when one refuses; automatic ones too
    // (the operator route turns automatic recording off for the room).
    const results = await Promise.allSettled(
      active.map((archive) => api.post(`/api/archives/${archive.id}/stop`)),
    );
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    onError(failed.length === 0 ? null : failed.map((r) => (r.reason as Error).message).join('; '));
  }, [api, base, active, onError]);

  // Keyboard shortcuts: Ctrl+Shift+R records, Ctrl+Shift+S stops.
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (!event.ctrlKey || !event.shiftKey) return;
      if (event.key.toLowerCase() === 'r' && active.length === 0) {
        event.preventDefault();
        void start();
      } else if (event.key.toLowerCase() === 's' && active.length > 0) {
        event.preventDefault();
        void stop();
      }
    };
    // The desktop app's Studio menu sends the same two actions.
    const onCommand = (event: Event) => {
      const command = commandOf(event);
      if (command === 'start-recording' && active.length === 0) void start();
      else if (command === 'stop-recording' && active.length > 0) void stop();
    };
    window.addEventListener('keydown', onKey);
    window.addEventListener(COMMAND_EVENT, onCommand);
    return () => {
      window.removeEventListener('keydown', onKey);
      window.removeEventListener(COMMAND_EVENT, onCommand);
    };
  }, [start, stop, active.length]);

  const set = <K extends keyof RecordOptions>(key: K, value: RecordOptions[K]) =>
    setOptions((o) => ({ ...o, [key]: value }));
  return (
    <div className="section card" aria-label="Recording">
      <div className="row">
        <label>
          Archive name
          <input value={options.name} onChange={(e) => set('name', e.target.value)} placeholder="optional" />
        </label>
        <OutputChoices
          outputMode={options.outputMode}
          format={options.format}
          onOutputMode={(v) => set('outputMode', v)}
          onFormat={(v) => set('format', v)}
        />
        <label>
          Streams
          <select
            value={options.streamMode}
            onChange={(e) => set('streamMode', e.target.value as RecordOptions['streamMode'])}
          >
            <option value="auto">All streams</option>
            <option value="manual">Chosen streams</option>
          </select>
        </label>
        <label>
          Split every (s)
          <input
            type="number"
            min="5"
            value={options.splitDuration}
            onChange={(e) => set('splitDuration', e.target.value)}
            placeholder="no split"
          />
        </label>
        {active.length === 0 ? (
          <button
            type="button"
            onClick={() => void start()}
            disabled={busy || !room.session}
            title="Ctrl+Shift+R"
          >
            Start recording
          </button>
        ) : (
          <button type="button" className="danger" onClick={() => void stop()} title="Ctrl+Shift+S">
            Stop recording
          </button>
        )}
      </div>
      <p className="muted">
        <kbd>Ctrl</kbd>+<kbd>Shift</kbd>+<kbd>R</kbd> records, <kbd>Ctrl</kbd>+<kbd>Shift</kbd>+<kbd>S</kbd>{' '}
        stops.
        {!room.session && ' Recording starts once someone has joined.'}
      </p>
    </div>
  );
}

/** The output mode and container of a recording, as the room settings and the record panel ask. */
function OutputChoices(props: {
  outputMode: RecordOptions['outputMode'];
  format: RecordOptions['format'];
  onOutputMode: (v: RecordOptions['outputMode']) => void;
  onFormat: (v: RecordOptions['format']) => void;
  prefix?: string;
}) {
  return (
    <>
      <label>
        {props.prefix ?? ''}Output
        <select
          value={props.outputMode}
          onChange={(e) => props.onOutputMode(e.target.value as RecordOptions['outputMode'])}
        >
          <option value="individual">Individual tracks</option>
          <option value="composed">Composed MP4</option>
        </select>
      </label>
      <label>
        {props.prefix ?? ''}Format
        <select
          value={props.format}
          onChange={(e) => props.onFormat(e.target.value as RecordOptions['format'])}
        >
          <option value="webm">WebM / Matroska</option>
          <option value="mp4">MP4 where the codec allows</option>
        </select>
      </label>
    </>
  );
}

/** Live tiles: the UI joins the room like a guest who publishes nothing. */
function SessionView({
  room,
  active,
  drops,
  onError,
}: {
  room: RoomJson;
  active: ArchiveJson[];
  /** Frames each recorded stream dropped in its current file. */
  drops: Map<string, Partial<Record<'audio' | 'video', FramesDropped>>>;
  onError: (e: string | null) => void;
}) {
  const api = useStudio((s) => s.api);
  const base = useProjectBase();
  const [streams, setStreams] = useState<RemoteStream[]>([]);
  const [state, setState] = useState('connecting');
  const client = useRef<RoomClient | null>(null);
  useEffect(() => {
    let closed = false;
    let room_: RoomClient | null = null;
    void (async () => {
      try {
        const token = await api.post<TokenResponse>(`/api/rooms/${room.id}/tokens`, {
          role: 'moderator',
          connectionData: 'Studio operator',
          expiresInSec: 12 * 3600,
        });
        if (closed) return;
        room_ = new RoomClient(signalingUrl(api.base));
        client.current = room_;
        room_.on('streams', (map) => setStreams([...map.values()]));
        room_.on('state', setState);
        await room_.join(token.token, room.id);
      } catch (e) {
        if (!closed) onError(`Live view: ${(e as Error).message}`);
      }
    })();
    return () => {
      closed = true;
      room_?.close('left');
    };
    // The live view follows the room and its session, nothing else.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [api, room.id, room.session?.id]);
  useStudioEvents(['stream.'], () => undefined);
  const health = useRoomHealth(room.id);

  const manual = active.find((a) => a.streamMode === 'manual');
  const composed = active.find((a) => a.outputMode === 'composed');
  const toggle = async (stream: StreamInfo, kind: 'hasAudio' | 'hasVideo') => {
    if (!manual || !base) return;
    const current = manual.streams.find((s) => s.streamId === stream.id);
    const next = {
      hasAudio: current?.hasAudio ?? false,
      hasVideo: current?.hasVideo ?? false,
      [kind]: !(current?.[kind] ?? false),
    };
    try {
      if (current) await api.patch(`${base}/archive/${manual.id}/streams`, { removeStream: stream.id });
      if (next.hasAudio || next.hasVideo) {
        await api.patch(`${base}/archive/${manual.id}/streams`, { addStream: stream.id, ...next });
      }
    } catch (e) {
      onError((e as Error).message);
    }
  };
  const nameOf = (stream: StreamInfo) =>
    room.session?.connections.find((c) => c.id === stream.connectionId)?.connectionData || 'Guest';

  return (
    <div className="section">
      <h3>Live</h3>
      {state !== 'joined' && <p className="muted">Connecting the live view…</p>}
      {streams.length === 0 && state === 'joined' && <p className="muted">Nobody publishes yet.</p>}
      {composed && <ProgramView room={room} archive={composed} streams={streams} onError={onError} />}
      <div className="tiles">
        {streams.map((s) => (
          <div key={s.info.id} data-testid="live-tile">
            <MediaView
              stream={s.media}
              muted
              label={`${nameOf(s.info)}${s.info.videoType === 'screen' ? ' (screen)' : ''}`}
            />
            <AudioMeter stream={s.media} />
            <div className="toolbar">
              {s.info.audioMuted && <span className="badge">mic muted</span>}
              {s.info.videoMuted && <span className="badge">camera off</span>}
              <span className="muted">
                {[s.info.codecs.video, s.info.codecs.audio].filter(Boolean).join(' + ')}
              </span>
              <StreamHealthBadge health={health.get(s.info.id)} />
              <StreamDrops drops={drops.get(s.info.id)} />
              {manual && (
                <>
                  <label className="inline">
                    <input
                      type="checkbox"
                      checked={manual.streams.some((x) => x.streamId === s.info.id && x.hasAudio)}
                      onChange={() => void toggle(s.info, 'hasAudio')}
                    />{' '}
                    record audio
                  </label>
                  <label className="inline">
                    <input
                      type="checkbox"
                      checked={manual.streams.some((x) => x.streamId === s.info.id && x.hasVideo)}
                      onChange={() => void toggle(s.info, 'hasVideo')}
                    />{' '}
                    record video
                  </label>
                </>
              )}
            </div>
          </div>
        ))}
      </div>
    </div>
  );
}

function RoomSettings({
  room,
  onSaved,
  onError,
  api,
}: {
  room: RoomJson;
  onSaved: () => void;
  onError: (e: string | null) => void;
  api: ReturnType<typeof useStudio.getState>['api'];
}) {
  const [name, setName] = useState(room.name);
  const [autoRecord, setAutoRecord] = useState(room.autoRecord);
  const [maxParticipants, setMax] = useState(String(room.maxParticipants));
  const [codec, setCodec] = useState(room.preferredVideoCodec);
  const [outputMode, setOutputMode] = useState(room.recording.outputMode);
  const [format, setFormat] = useState(room.recording.format);
  const [split, setSplit] = useState(
    room.recording.splitDuration ? String(room.recording.splitDuration) : '',
  );
  const save = async (event: FormEvent) => {
    event.preventDefault();
    try {
      await api.patch(`/api/rooms/${room.id}`, {
        name,
        autoRecord,
        maxParticipants: Number(maxParticipants),
        preferredVideoCodec: codec,
        recording: { outputMode, format, ...(split ? { splitDuration: Number(split) } : {}) },
      });
      onError(null);
      onSaved();
    } catch (e) {
      onError((e as Error).message);
    }
  };
  return (
    <details className="section card">
      <summary>
        <strong>Room settings</strong>
      </summary>
      <form className="row" onSubmit={(e) => void save(e)} aria-label="Room settings">
        <label>
          Name
          <input value={name} onChange={(e) => setName(e.target.value)} />
        </label>
        <label className="inline">
          <input type="checkbox" checked={autoRecord} onChange={(e) => setAutoRecord(e.target.checked)} />{' '}
          Record automatically
        </label>
        <label>
          Max participants
          <input
            type="number"
            min="1"
            max="100"
            value={maxParticipants}
            onChange={(e) => setMax(e.target.value)}
          />
        </label>
        <label>
          Preferred video codec
          <select value={codec} onChange={(e) => setCodec(e.target.value as RoomJson['preferredVideoCodec'])}>
            {['VP8', 'VP9', 'H264', 'AV1'].map((c) => (
              <option key={c}>{c}</option>
            ))}
          </select>
        </label>
        <OutputChoices
          outputMode={outputMode}
          format={format}
          onOutputMode={setOutputMode}
          onFormat={setFormat}
          prefix="Recording "
        />
        <label>
          Split every (s)
          <input
            type="number"
            min="5"
            value={split}
            onChange={(e) => setSplit(e.target.value)}
            placeholder="no split"
          />
        </label>
        <button type="submit">Save</button>
      </form>
    </details>
  );
}
