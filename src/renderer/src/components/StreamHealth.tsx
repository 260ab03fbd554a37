import { useState } from 'react';
import type { StreamHealthInfo } from '../../../shared/events/health';
import { useStudioEvents } from '../hooks';

/** The newest health of each stream of a room (`health.streams`, about once a second). */
export function useRoomHealth(roomId: string): Map<string, StreamHealthInfo> {
  const [health, setHealth] = useState<Map<string, StreamHealthInfo>>(new Map());
  useStudioEvents(['health.streams'], (event) => {
    if (event.type !== 'health.streams' || event.data.roomId !== roomId) return;
    setHealth(new Map(event.data.streams.map((s) => [s.streamId, s])));
  });
  return health;
}

function formatBitrate(kbps: number): string {
  return kbps >= 1000 ? `${(kbps / 1000).toFixed(1)} Mbit/s` : `${kbps} kbit/s`;
}

/** Why the badge warns, in words. */
function warningText(health: StreamHealthInfo): string {
  const reasons = health.warnings.map((w) =>
    w === 'loss' ? `${health.lossPercent.toFixed(1)} % packet loss` : 'frame rate dropped',
  );
  return `Poor connection: ${reasons.join(', ')}`;
}

/**
 * A guest stream's connection as the studio receives it: bitrate, loss, resolution and frame
 * rate, and a warning badge when loss passes 2 % or the frame rate halves.
 */
export function StreamHealthBadge({ health }: { health: StreamHealthInfo | undefined }) {
  if (health === undefined) return null;
  const parts = [
    formatBitrate(health.bitrateKbps),
    `${health.lossPercent.toFixed(1)} % loss`,
    ...(health.width !== null && health.height !== null ? [`${health.width}×${health.height}`] : []),
    ...(health.frameRate !== null ? [`${Math.round(health.frameRate)} fps`] : []),
  ];
  return (
    <span className="health" data-testid="stream-health">
      <span className="muted" aria-label={`Connection: ${parts.join(', ')}`}>
        {parts.join(' · ')}
      </span>
      {health.warnings.length > 0 && (
        <span className="badge badge-warning" role="status" data-testid="health-warning">
          {warningText(health)}
        </span>
      )}
    </span>
  );
}
