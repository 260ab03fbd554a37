import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { ConnectionInfo } from '../../../shared/events/rooms';
import type { RecordingState } from '../../../shared/signaling';
import { MediaView } from '../components/MediaView';
import { RecordingClock } from '../components/RecordingClock';
import { RoomClient, SignalingError, type RemoteStream } from '../rtc/RoomClient';

function signalingUrl(): string {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/signaling`;
}

function useDevices(): { cameras: MediaDeviceInfo[]; mics: MediaDeviceInfo[]; refresh(): Promise<void> } {
  const [devices, setDevices] = useState<MediaDeviceInfo[]>([]);
  const refresh = useCallback(async () => setDevices(await navigator.mediaDevices.enumerateDevices()), []);
  useEffect(() => {
    navigator.mediaDevices.addEventListener('devicechange', refresh);
    return () => navigator.mediaDevices.removeEventListener('devicechange', refresh);
  }, [refresh]);
  return {
    cameras: devices.filter((d) => d.kind === 'videoinput'),
    mics: devices.filter((d) => d.kind === 'audioinput'),
    refresh,
  };
}

/** The guest page: pick devices with a preview, join, publish, share the screen, leave. */
export function JoinApp() {
  const token = useMemo(() => new URLSearchParams(location.search).get('t') ?? '', []);
  const { cameras, mics, refresh } = useDevices();
  const [cameraId, setCameraId] = useState('');
  const [micId, setMicId] = useState('');
  const [preview, setPreview] = useState<MediaStream | null>(null);
  const [error, setError] = useState<string | null>(null);
  // The preview's own error, apart: a preview that arrives late (a slow camera) clears only it,
  // never a refusal or a disconnection the guest must read.
  const [deviceError, setDeviceError] = useState<string | null>(null);
  const [phase, setPhase] = useState<'lobby' | 'joining' | 'joined' | 'left'>('lobby');
  const [streams, setStreams] = useState<RemoteStream[]>([]);
  const [connections, setConnections] = useState<ConnectionInfo[]>([]);
  const [recording, setRecording] = useState<RecordingState>({ active: false, archives: [] });
  const [micMuted, setMicMuted] = useState(false);
  const [camOff, setCamOff] = useState(false);
  // The same, for a rejoin after a `reconnect` (its handler outlives the render that set it up).
  const muted = useRef({ mic: false, cam: false });
  const [screen, setScreenState] = useState<{ media: MediaStream; streamId: string } | null>(null);
  // The same, for a rejoin after a `reconnect`, which shares the screen again.
  const screenRef = useRef<{ media: MediaStream; streamId: string } | null>(null);
  const setScreen = (value: { media: MediaStream; streamId: string } | null) => {
    screenRef.current = value;
    setScreenState(value);
  };
  const client = useRef<RoomClient | null>(null);
  const [role, setRole] = useState<string | null>(null);
  const cameraStreamId = useRef<string | null>(null);

  // The preview follows the chosen devices; the last one acquired is the one published.
  const previewRef = useRef<MediaStream | null>(null);
  useEffect(() => {
    if (phase !== 'lobby') return;
    let cancelled = false;
    navigator.mediaDevices
      .getUserMedia({
        audio: micId ? { deviceId: { exact: micId } } : true,
        video: cameraId
          ? { deviceId: { exact: cameraId }, width: 1280, height: 720 }
          : { width: 1280, height: 720 },
      })
      .then(async (media) => {
        if (cancelled) {
          media.getTracks().forEach((t) => t.stop());
          return;
        }
        previewRef.current?.getTracks().forEach((t) => t.stop());
        previewRef.current = media;
        setPreview(media);
        setDeviceError(null);
        await refresh();
      })
      .catch((e: Error) => setDeviceError(`Camera or microphone unavailable: ${e.message}`));
    return () => {
      cancelled = true;
    };
    // The phase is not a dependency: joining must not restart (and stop) the camera.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [cameraId, micId, refresh]);
  useEffect(() => () => previewRef.current?.getTracks().forEach((t) => t.stop()), []);

  useEffect(() => () => client.current?.close(), []);

  /** Publishes a screen capture in `room`; its end (the browser's "Stop sharing") unpublishes it. */
  const shareScreen = async (room: RoomClient, media: MediaStream) => {
    // A clone is sent: the capture outlives the connection (closing it stops what it sent), so
    // a rejoin can share it again.
    const streamId = await room.publish(media.clone(), 'screen');
    media.getVideoTracks()[0]?.addEventListener(
      'ended',
      () => {
        if (client.current !== room) return;
        void room.unpublish(streamId).catch(() => {});
        setScreen(null);
      },
      { once: true },
    );
    setScreen({ media, streamId });
  };

  /** Ends the screen capture (leaving, or a connection that ended for good). */
  const endScreen = () => {
    screenRef.current?.media.getTracks().forEach((t) => t.stop());
    setScreen(null);
  };

  /**
   * Joins the room; `resume` (from a `reconnect`) joins again as the same connection, trying
   * again while the studio cannot take it yet (its media worker is restarting) and the resume holds.
   */
  const join = async (resume?: { secret: string; until: number }) => {
    if (!token) {
      setError('This link has no join token. Ask the host for a new link.');
      return;
    }
    setPhase('joining');
    const room = new RoomClient(signalingUrl());
    client.current = room;
    // Exposed for diagnostics (and the end-to-end tests): the peer connection's stats.
    (window as unknown as { spoolRoom: RoomClient }).spoolRoom = room;
    room.on('streams', (map) => setStreams([...map.values()]));
    room.on('connections', (map) => setConnections([...map.values()]));
    room.on('recording', setRecording);
    room.on('error', (e) => setError(e.message));
    let admitted = false;
    let reconnecting = false;
    room.on('reconnect', ({ reason, resume, resumeWithinSec }) => {
      // The studio lost our media (docs/signaling.md): join again as ourselves, with the same
      // link and devices (our streams keep their ids; a recording goes on in a new segment).
      reconnecting = true;
      setError(`Reconnecting: ${reason}`);
      setTimeout(() => {
        if (client.current === room)
          void join({ secret: resume, until: Date.now() + resumeWithinSec * 1000 });
      }, 500);
    });
    room.on('closed', (reason) => {
      // A refused join keeps the refusal's reason on screen; only a live call ends here.
      if (!admitted || reconnecting) return;
      endScreen();
      setPhase('left');
      if (reason !== 'left') setError(`Disconnected: ${reason}`);
    });
    try {
      const roomId = decodeURIComponent(location.pathname.split('/')[2] ?? '');
      const joined = await room.join(token, roomId || undefined, resume?.secret);
      admitted = true;
      setRole(joined.role);
      setPhase('joined');
      setError(null);
      // A rejoin publishes the camera again as the guest left it (a muted microphone stays
      // muted: its track is off before it is sent), and a screen still being captured again.
      if (resume === undefined) muted.current = { mic: false, cam: false };
      const keep = { ...muted.current };
      const shared = resume !== undefined ? screenRef.current : null;
      setMicMuted(keep.mic);
      setCamOff(keep.cam);
      if (shared === null) endScreen();
      else setScreen(null);
      if (joined.role !== 'subscriber') {
        // Joining before the preview is ready still publishes: wait for the devices.
        let source = previewRef.current;
        if (source === null) {
          source = await navigator.mediaDevices
            .getUserMedia({ audio: true, video: { width: 1280, height: 720 } })
            .catch(() => null);
          if (source !== null) {
            previewRef.current = source;
            setPreview(source);
          }
        }
        if (source !== null) {
          const media = source.clone();
          for (const track of media.getAudioTracks()) track.enabled = !keep.mic;
          for (const track of media.getVideoTracks()) track.enabled = !keep.cam;
          const id = await room.publish(media, 'camera');
          cameraStreamId.current = id;
          if (keep.mic) room.mute(id, 'audio', true);
          if (keep.cam) room.mute(id, 'video', true);
        } else setError('Joined without camera and microphone: they are not available.');
        if (shared !== null && shared.media.getVideoTracks().some((t) => t.readyState === 'live'))
          await shareScreen(room, shared.media).catch((e: Error) =>
            setError(`Screen sharing failed: ${e.message}`),
          );
      }
    } catch (e) {
      room.close('refused');
      if (
        !admitted &&
        resume !== undefined &&
        e instanceof SignalingError &&
        e.code === 'Unavailable' &&
        Date.now() < resume.until
      ) {
        setError(`Reconnecting: ${e.message}`);
        setTimeout(() => {
          if (client.current === room) void join(resume);
        }, 1000);
        return;
      }
      setError((e as Error).message);
      endScreen();
      setPhase('lobby');
    }
  };

  const toggleMic = () => {
    const id = cameraStreamId.current;
    if (!client.current || !id) return;
    client.current.mute(id, 'audio', !micMuted);
    muted.current.mic = !micMuted;
    setMicMuted(!micMuted);
  };
  const toggleCam = () => {
    const id = cameraStreamId.current;
    if (!client.current || !id) return;
    client.current.mute(id, 'video', !camOff);
    muted.current.cam = !camOff;
    setCamOff(!camOff);
  };
  const toggleScreen = async () => {
    const room = client.current;
    if (!room) return;
    if (screen) {
      screen.media.getTracks().forEach((t) => t.stop());
      await room.unpublish(screen.streamId).catch(() => {});
      setScreen(null);
      return;
    }
    try {
      await shareScreen(room, await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false }));
    } catch (e) {
      setError(`Screen sharing failed: ${(e as Error).message}`);
    }
  };
  const toggleRecording = async () => {
    const room = client.current;
    if (!room) return;
    try {
      if (recording.active) await room.stopRecording();
      else await room.startRecording();
    } catch (e) {
      setError(`Recording: ${(e as Error).message}`);
    }
  };
  const leave = () => {
    client.current?.close('left');
    endScreen();
    preview?.getTracks().forEach((t) => t.stop());
    setPhase('left');
  };

  const nameOf = (connectionId: string) => {
    const data = connections.find((c) => c.id === connectionId)?.connectionData;
    return data && data.length > 0 ? data : 'Guest';
  };

  if (phase === 'left') {
    return (
      <main className="join">
        <div className="card">
          <h1>You left the room</h1>
          {error && (
            <p role="alert" className="error">
              {error}
            </p>
          )}
          <button type="button" onClick={() => location.reload()}>
            Join again
          </button>
        </div>
      </main>
    );
  }

  return (
    <main className="join">
      <header className="join-header">
        <h1>{client.current?.joined?.room.name ?? 'Join the studio'}</h1>
        {recording.active && (
          <span className="rec-indicator" data-testid="recording-indicator" role="status">
            REC <RecordingClock startedAt={recording.archives.map((a) => a.createdAt)} />
          </span>
        )}
      </header>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {deviceError && phase !== 'joined' && (
        <p role="alert" className="error">
          {deviceError}
        </p>
      )}
      {phase !== 'joined' ? (
        <section className="lobby card">
          <MediaView stream={preview} muted mirrored label="Preview" testId="preview" />
          <label>
            Camera
            <select value={cameraId} onChange={(e) => setCameraId(e.target.value)} aria-label="Camera">
              <option value="">Default camera</option>
              {cameras.map((d) => (
                <option key={d.deviceId} value={d.deviceId}>
                  {d.label || d.deviceId}
                </option>
              ))}
            </select>
          </label>
          <label>
            Microphone
            <select value={micId} onChange={(e) => setMicId(e.target.value)} aria-label="Microphone">
              <option value="">Default microphone</option>
              {mics.map((d) => (
                <option key={d.deviceId} value={d.deviceId}>
                  {d.label || d.deviceId}
                </option>
              ))}
            </select>
          </label>
          <button type="button" onClick={() => void join()} disabled={phase === 'joining'}>
            {phase === 'joining' ? 'Joining…' : 'Join'}
          </button>
        </section>
      ) : (
        <>
          <section className="grid" aria-label="Participants">
            <MediaView stream={preview} muted mirrored label="You" testId="self" />
            {screen && <MediaView stream={screen.media} muted label="Your screen" />}
            {streams.map((s) => (
              <MediaView
                key={s.info.id}
                stream={s.media}
                muted={false}
                label={`${nameOf(s.info.connectionId)}${s.info.videoType === 'screen' ? ' (screen)' : ''}${s.info.audioMuted ? ' · muted' : ''}`}
                testId="remote"
              />
            ))}
          </section>
          <nav className="controls">
            <button
              type="button"
              className="secondary"
              onClick={toggleMic}
              disabled={!cameraStreamId.current}
            >
              {micMuted ? 'Unmute' : 'Mute'}
            </button>
            <button
              type="button"
              className="secondary"
              onClick={toggleCam}
              disabled={!cameraStreamId.current}
            >
              {camOff ? 'Camera on' : 'Camera off'}
            </button>
            <button type="button" className="secondary" onClick={() => void toggleScreen()}>
              {screen ? 'Stop sharing' : 'Share screen'}
            </button>
            {role === 'moderator' && (
              <button type="button" onClick={() => void toggleRecording()}>
                {recording.active ? 'Stop recording' : 'Record'}
              </button>
            )}
            <button type="button" className="danger" onClick={leave}>
              Leave
            </button>
          </nav>
        </>
      )}
    </main>
  );
}
