import { useEffect, useRef, useState } from 'react';

/** A level meter of a stream's audio (WebAudio analyser). */
export function AudioMeter({ stream }: { stream: MediaStream | null }) {
  const [level, setLevel] = useState(0);
  const frame = useRef(0);
  useEffect(() => {
    const track = stream?.getAudioTracks()[0];
    if (!stream || !track) return;
    const context = new AudioContext();
    const source = context.createMediaStreamSource(new MediaStream([track]));
    const analyser = context.createAnalyser();
    analyser.fftSize = 512;
    source.connect(analyser);
    const data = new Float32Array(analyser.fftSize);
    const tick = () => {
      analyser.getFloatTimeDomainData(data);
      let sum = 0;
      for (const v of data) sum += v * v;
      const rms = Math.sqrt(sum / data.length);
      // -60 dB … 0 dB onto 0 … 100 %
      setLevel(Math.max(0, Math.min(100, ((20 * Math.log10(rms + 1e-9) + 60) / 60) * 100)));
      frame.current = requestAnimationFrame(tick);
    };
    frame.current = requestAnimationFrame(tick);
    return () => {
      cancelAnimationFrame(frame.current);
      void context.close();
    };
  }, [stream]);
  return (
    <div
      className="meter"
      role="meter"
      aria-label="Audio level"
      aria-valuenow={Math.round(level)}
      aria-valuemin={0}
      aria-valuemax={100}
    >
      <span style={{ width: `${level}%` }} />
    </div>
  );
}
