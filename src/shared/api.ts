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

/** `GET /health`. */
export interface Health {
  status: 'ok';
  version: string;
  uptimeSec: number;
  ffmpeg: FfmpegInfo;
  disk: DiskInfo;
}

/** `GET /api/studio`: what the operator's UI shows about this studio. */
export interface StudioInfo {
  version: string;
  apiKey: string;
  dataDir: string;
  httpUrl: string;
  lanUrl: string | null;
  certificateFingerprint: string | null;
}

/** `POST /api/auth/login`. */
export interface LoginResponse {
  token: string;
  expiresAt: number;
}
