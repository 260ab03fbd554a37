/** Archive words and shapes, following OpenTok's archive API and individual-stream manifest. */

export type ArchiveStatus =
  'started' | 'paused' | 'stopped' | 'available' | 'uploaded' | 'failed' | 'expired' | 'deleted';

/** OpenTok's reasons, exactly. */
export type ArchiveReason =
  | ''
  | 'user initiated'
  | 'maximum duration exceeded'
  | 'maximum idle time exceeded'
  | 'session ended'
  | 'failure';

export type OutputMode = 'composed' | 'individual';
export type StreamMode = 'auto' | 'manual';
export type VideoType = 'camera' | 'screen' | 'custom';
/** Container of recorded files: WebM (VP8/VP9/AV1 + Opus) or MP4 (H.264 + Opus). */
export type RecordingFormat = 'webm' | 'mp4';

/** OpenTok composed-archive resolutions (custom even sizes up to 1920 are also accepted). */
export const STANDARD_RESOLUTIONS = [
  '640x480',
  '480x640',
  '1280x720',
  '720x1280',
  '1920x1080',
  '1080x1920',
] as const;

/** One stream an archive is recording (`streams[]` of the archive JSON). */
export interface ArchiveStream {
  streamId: string;
  hasAudio: boolean;
  hasVideo: boolean;
}

/** The archive as the OpenTok REST API returns it (extra studio fields allowed). */
export interface ArchiveJson {
  id: string;
  event: 'archive';
  status: ArchiveStatus;
  name: string | null;
  reason: ArchiveReason;
  sessionId: string;
  /** OpenTok: the API key (a number when the key is numeric). */
  partnerId: number | string;
  applicationId: string;
  createdAt: number;
  updatedAt: number;
  /** Seconds; 0 while recording. */
  duration: number;
  /** Bytes of the archive's files; 0 until they are generated. */
  size: number;
  outputMode: OutputMode;
  streamMode: StreamMode;
  hasAudio: boolean;
  hasVideo: boolean;
  resolution: string | null;
  /** Download URL on the protected file server once available; null otherwise. */
  url: string | null;
  streams: ArchiveStream[];
  multiArchiveTag?: string;
  password: string;
  sha256sum: string;
  /** Studio: the container of the individual files. */
  format: RecordingFormat;
  /** Studio: the room (OpenTok session) the archive records. */
  roomId: string;
  /** Studio: free metadata given at start. */
  recordingMetadata?: unknown;
  /** Studio: split output settings. */
  splitDuration?: number;
  splitOnly?: boolean;
  /** Studio: when the local files expire (ms since epoch), if set. */
  expireTime?: number | null;
  /** Studio: what a `failure` was, when known ("disk full"). */
  detail?: string;
}

/** Why a recorder dropped frames of a track (never re-timed: dropped and counted). */
export interface FramesDropped {
  /** Arrived after the file had been written past its time. */
  late: number;
  /**
   * Incomplete or undecodable (lost packets), or depending on a frame not written, until the next
   * keyframe.
   */
  broken: number;
  /** The writer could not keep up. */
  backpressure: number;
  /** Larger than the bound (8 MB video, 64 KB audio): discarded whole while assembled. */
  oversized: number;
}

/** How a track of a file was timed (docs/recording-timing.md). */
export interface TrackTiming {
  /** Measured rate of the track's RTP clock against the sender's wall clock, in ppm. */
  driftPpm: number;
  /** How far lip sync (the audio/video sender-report pair) moved this track, in ms. */
  lipSyncCorrectionMs: number;
  /** Pauses of the sender (no capture for ≥ 100 ms): ms from the file's start, and length. */
  pauses: Array<{ at: number; length: number }>;
  /** Audio: whole Opus frames added (silence, repeats of quiet frames) and left out to keep time. */
  framesInserted?: number;
  framesRemoved?: number;
}

/** Per-track report of a recorded file in the manifest. */
export interface ManifestTrack {
  timing: TrackTiming;
  framesDropped: FramesDropped;
}

/** One file of the individual-stream manifest (`manifest.json` → `files[]`). */
export interface ManifestFile {
  streamId: string;
  filename: string;
  size: number;
  /** ms from the manifest's `createdAt` to the first media of this file. */
  startTimeOffset: number;
  /** ms from the manifest's `createdAt` to the end of this file. */
  stopTimeOffset: number;
  connectionData: string;
  videoType: VideoType | null;
  /** Studio extras. */
  connectionId?: string;
  hasAudio?: boolean;
  hasVideo?: boolean;
  audioCodec?: string | null;
  videoCodec?: string | null;
  /** Segment index: 0 for `<streamId>.webm`, 1 for `<streamId>_1.webm`, … */
  segment?: number;
  /**
   * When the stream was created (ms since the epoch; before the archive started for a stream
   * already there). Compositions order their sources by it, as the studio's live views do.
   */
  streamCreatedAt?: number;
  /** Timing and dropped frames of each recorded track. */
  tracks?: Partial<Record<'audio' | 'video', ManifestTrack>>;
  /** The write error that ended this file early ("disk full"); it plays up to there. */
  error?: string;
  /** OpenTok layout classes of the stream (`PUT …/session/{id}/stream`), as the file ended. */
  layoutClassList?: string[];
  /**
   * When the classes changed while the file recorded: each entry holds from `atMs` (the
   * manifest's offsets) on, the first one the classes it started with. Compositions switch there.
   */
  layoutClassChanges?: Array<{ atMs: number; classes: string[] }>;
  /** The file's metadata JSON beside it (Sora's recording metadata fields). */
  metadataFilename?: string;
}

/** `manifest.json` of an archive: OpenTok's individual-stream format, extra fields allowed. */
export interface Manifest {
  createdAt: number;
  id: string;
  name: string;
  partnerId: number | string;
  sessionId: string;
  files: ManifestFile[];
  /** Studio extras. */
  roomId?: string;
  format?: RecordingFormat;
  /** Split files, when split output is on: `split/<streamId>_0001.webm`, … */
  splits?: Array<{
    streamId: string;
    filename: string;
    size: number;
    startTimeOffset: number;
    stopTimeOffset: number;
    /** 1, 2, … as in the file name. */
    splitIndex?: number;
    metadataFilename?: string;
  }>;
  /** `split/<base>_end.json` of each stream segment with split files (Sora's split-archive-end). */
  splitEnds?: string[];
  /** When the start call came (ms), when recording began later (`createdAt` is that). */
  startCalledAt?: number;
}

/** What the archive list shows beside the OpenTok fields (`GET /api/archives/summaries`). */
export interface ArchiveSummary {
  id: string;
  /** The names (connection data) of everyone whose media the archive holds, in order of joining. */
  participants: string[];
  /** Whether a poster frame can be fetched from `GET /api/archives/{id}/poster`. */
  poster: boolean;
  /** Delivery of the archive's files to the targets: counts by outcome. */
  deliveries: { total: number; succeeded: number; failed: number; pending: number };
}
