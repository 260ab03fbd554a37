import { useEffect, useRef } from 'react';

/** A <video> showing a MediaStream (muted for one's own preview, audible for others). */
export function MediaView({
  stream,
  muted,
  label,
  testId,
  mirrored,
}: {
  stream: MediaStream | null;
  muted: boolean;
  label?: string;
  testId?: string;
  mirrored?: boolean;
}) {
  const ref = useRef<HTMLVideoElement>(null);
  useEffect(() => {
    const video = ref.current;
    if (video === null) return;
    if (video.srcObject !== stream) video.srcObject = stream;
    if (stream !== null) void video.play().catch(() => {});
  });
  return (
    <figure className="tile" data-testid={testId}>
      <video ref={ref} autoPlay playsInline muted={muted} className={mirrored ? 'mirrored' : undefined} />
      {label !== undefined && <figcaption>{label}</figcaption>}
    </figure>
  );
}
