/** Types of the studio's HTTP API shared by the core and the renderer. */

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
}

/** `GET /health` (public): no paths, no messages that could name them. */
export interface Health {
  status: 'ok';
  version: string;
  uptimeSec: number;
  ffmpeg: Pick<FfmpegInfo, 'found' | 'version'>;
  disk: Omit<DiskInfo, 'path'>;
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
}

/** `POST /api/auth/login`. */
export interface LoginResponse {
  token: string;
  expiresAt: number;
}
