import { useEffect, useRef, useState } from 'react';
import { authorizePrefix, basicAuthorization } from '../api/player';
import { formatDuration } from '../format';
import { useStudio } from '../store';

/** Registers the file-server credentials with the player worker once per session. */
export function useFileAccess(): { ready: boolean; error: string | null } {
  const api = useStudio((s) => s.api);
  const [state, setState] = useState<{ ready: boolean; error: string | null }>({ ready: false, error: null });
  useEffect(() => {
    let cancelled = false;
    void (async () => {
      try {
        const creds = await api.get<{ user: string; password: string }>('/api/settings/files-credentials');
        await authorizePrefix(`${location.origin}/files/`, basicAuthorization(creds.user, creds.password));
        if (api.token)
          await authorizePrefix(`${location.origin}/api/playback-sources/`, `Bearer ${api.token}`);
        if (!cancelled) setState({ ready: true, error: null });
      } catch (e) {
        if (!cancelled) setState({ ready: false, error: (e as Error).message });
      }
    })();
    return () => {
      cancelled = true;
    };
  }, [api]);
  return state;
}

/** One file in a <video> with the browser's controls. */
export function FilePlayer({
  src,
  label,
  testId,
  poster,
}: {
  src: string;
  label: string;
  testId?: string;
  /** A picture shown before playback (instead of a black box). */
  poster?: string | null;
}) {
  const [error, setError] = useState<string | null>(null);
  return (
    <figure className="player" data-testid={testId}>
      <video
        src={src}
        {...(poster ? { poster } : {})}
        aria-label={label}
        controls
        preload="metadata"
        onError={(e) => setError(`cannot play: media error ${e.currentTarget.error?.code ?? ''}`)}
      />
      <figcaption>
        {label} {error && <span className="error">{error}</span>}
      </figcaption>
    </figure>
  );
}

export interface Track {
  src: string;
  label: string;
  startOffsetMs: number;
  stopOffsetMs: number;
}

/** Every track of an archive on one timeline: one clock, each video placed at its offset. */
export function MultiTrackPlayer({ tracks }: { tracks: Track[] }) {
  const videos = useRef<Array<HTMLVideoElement | null>>([]);
  const totalMs = Math.max(1, ...tracks.map((t) => t.stopOffsetMs));
  const [position, setPosition] = useState(0);
  const [playing, setPlaying] = useState(false);
  const clock = useRef<{ startedAt: number; from: number } | null>(null);

  const place = (ms: number, play: boolean) => {
    tracks.forEach((track, i) => {
      const video = videos.current[i];
      if (!video) return;
      const local = (ms - track.startOffsetMs) / 1000;
      const inside = ms >= track.startOffsetMs && ms < track.stopOffsetMs;
      video.style.opacity = inside ? '1' : '0.25';
      if (!inside) {
        video.pause();
        return;
      }
      if (Math.abs(video.currentTime - local) > 0.25) video.currentTime = local;
      if (play && video.paused) void video.play().catch(() => {});
      if (!play && !video.paused) video.pause();
    });
  };

  useEffect(() => {
    if (!playing) return;
    const timer = setInterval(() => {
      const c = clock.current!;
      const ms = c.from + (performance.now() - c.startedAt);
      if (ms >= totalMs) {
        setPlaying(false);
        place(totalMs, false);
        setPosition(totalMs);
        return;
      }
      setPosition(ms);
      place(ms, true);
    }, 200);
    return () => clearInterval(timer);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [playing, totalMs]);

  const toggle = () => {
    if (playing) {
      setPlaying(false);
      place(position, false);
    } else {
      clock.current = { startedAt: performance.now(), from: position >= totalMs ? 0 : position };
      setPlaying(true);
      place(clock.current.from, true);
    }
  };
  const seek = (ms: number) => {
    setPosition(ms);
    clock.current = { startedAt: performance.now(), from: ms };
    place(ms, playing);
  };

  return (
    <div className="section" data-testid="multitrack">
      <div className="toolbar">
        <button type="button" onClick={toggle}>
          {playing ? 'Pause' : 'Play all'}
        </button>
        <input
          type="range"
          min={0}
          max={totalMs}
          value={position}
          aria-label="Timeline"
          onChange={(e) => seek(Number(e.target.value))}
          style={{ flex: 1 }}
        />
        <span className="rec-time">
          {formatDuration(position / 1000)} / {formatDuration(totalMs / 1000)}
        </span>
      </div>
      <div className="player-grid">
        {tracks.map((track, i) => (
          <figure key={track.src} className="player">
            <video
              ref={(el) => {
                videos.current[i] = el;
              }}
              src={track.src}
              preload="auto"
              playsInline
            />
            <figcaption>
              {track.label} <span className="muted">from {formatDuration(track.startOffsetMs / 1000)}</span>
            </figcaption>
          </figure>
        ))}
      </div>
    </div>
  );
}
