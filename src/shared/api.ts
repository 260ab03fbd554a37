/** Types of the studio's HTTP API shared by the core and the renderer. */
import type { DiskLevel } from './events';

export interface FfmpegInfo {
  found: boolean;
  /** Where it was found: `ffmpeg-static`, `FFMPEG_PATH`, `config` or `PATH`. */
  source?: string;
  path?: string;
  version?: string;
  /** Why none was found, naming every place that was tried. */
  error?: string;
}

export interface DiskInfo {
  path: string;
  freeBytes: number;
  totalBytes: number;
  /** `low`: below the warning threshold; `full`: recording stops and new archives are refused. */
  level: DiskLevel;
}

/** The data folder's disk as the operator's UI shows it (`GET /api/studio`). */
export interface DiskReport {
  level: DiskLevel;
  freeBytes: number;
  totalBytes: number;
  warnBytes: number;
  floorBytes: number;
  /** Bytes per second the recorder wrote lately. */
  writeRate: number;
  /** Whether the database's reserve file is in place. */
  reserveHeld: boolean;
  /** Bytes of recorded media waiting for the disk now, and the most that ever waited. */
  queuedBytes: number;
  peakQueuedBytes: number;
  detail?: string;
}

/** `GET /health` (public): no paths, no messages that could name them. */
export interface Health {
  status: 'ok';
  version: string;
  uptimeSec: number;
  ffmpeg: Pick<FfmpegInfo, 'found' | 'version'>;
  disk: Omit<DiskInfo, 'path'>;
}

/** One thread of the studio (`GET /api/studio/threads`): memory, load and what it hosts. */
export interface ThreadStats {
  /** `main`, `media-0`, `media-1`… */
  name: string;
  threadId: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  /** Share of the time since the previous report the thread's event loop was busy (0..1). */
  eventLoopUtilization: number;
  /** How late the thread's timers ran since the previous report (ms): p99 and the worst. */
  eventLoopDelayMs: { p99: number; max: number };
  /** What a media worker hosts (absent for the main thread). */
  hosts?: { peers: number; streams: number; whip: number; recorders: number };
}

/** `GET /api/studio`: what the operator's UI shows about this studio. */
export interface StudioInfo {
  version: string;
  apiKey: string;
  dataDir: string;
  /** Where ffmpeg was found, or why not (operator only: it names paths). */
  ffmpeg: FfmpegInfo;
  httpUrl: string;
  lanUrl: string | null;
  certificateFingerprint: string | null;
  disk: DiskReport;
}

/** `POST /api/auth/login`. */
export interface LoginResponse {
  token: string;
  expiresAt: number;
}
