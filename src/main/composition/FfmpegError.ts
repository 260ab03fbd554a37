/** Why an ffmpeg run ended without a file. */
export class FfmpegError extends Error {
  /** ffmpeg's last lines on stderr. */
  readonly stderr: string;
  readonly exitCode: number | null;
  /** The run was cancelled (or closed), not failed. */
  readonly cancelled: boolean;

  constructor(message: string, stderr: string, exitCode: number | null, cancelled: boolean) {
    super(message);
    this.name = 'FfmpegError';
    this.stderr = stderr;
    this.exitCode = exitCode;
    this.cancelled = cancelled;
  }
}
