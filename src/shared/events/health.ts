/** Connection health of published streams, as the studio receives them (pushed about 1 Hz). */

/** Why a stream's health badge warns. */
export type HealthWarning = 'loss' | 'frameRate';

export interface StreamHealthInfo {
  streamId: string;
  connectionId: string;
  /** Received bitrate of the stream (audio + video), kbit/s. */
  bitrateKbps: number;
  /** Packets lost on the way to the studio over the last seconds, in percent (0–100). */
  lossPercent: number;
  /** Video frames received per second; null for an audio-only stream. */
  frameRate: number | null;
  /** Size of the received video; null until a keyframe told it (or for audio only). */
  width: number | null;
  height: number | null;
  /** Non-empty when the stream is in trouble: loss above 2 %, frame rate halved. */
  warnings: HealthWarning[];
}

export interface HealthEventPayloads {
  /** The health of every stream of a room (not persisted; about once a second). */
  'health.streams': { roomId: string; streams: StreamHealthInfo[] };
}
