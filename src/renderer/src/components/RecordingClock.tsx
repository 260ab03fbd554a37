import { useEffect, useState } from 'react';
import { formatDuration } from '../format';

// Its own clock: the guest page does not load the operator's store (which `hooks` imports).
function useNow(ms: number): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(timer);
  }, [ms]);
  return now;
}

/**
 * Time since the oldest of the given recordings started, ticking. Starts are the studio's clock;
 * a guest whose clock runs behind the studio's sees 00:00 rather than a negative time.
 */
export function RecordingClock({ startedAt }: { startedAt: number[] }) {
  const now = useNow(500);
  if (startedAt.length === 0) return null;
  const elapsed = Math.max(0, (now - Math.min(...startedAt)) / 1000);
  return (
    <span
      className="rec-time"
      data-testid="recording-elapsed"
      aria-label={`Recording for ${formatDuration(elapsed)}`}
    >
      {formatDuration(elapsed)}
    </span>
  );
}
