import type { TargetTestResult } from '../../../shared/targets';
import type { ResumeState } from '../../store/DeliveryRepository';

/** One file to upload, with what earlier attempts stored. */
export interface UploadJob {
  localPath: string;
  /** The rendered path template, relative to the target's folder, prefix or container. */
  remotePath: string;
  size: number;
  /** Kind-specific state saved by an earlier attempt ({} for a fresh upload). */
  resume: ResumeState;
  /** Persists resume state as the upload goes (upload id, parts, temp file). */
  saveResume(state: ResumeState): void;
  /** Bytes stored at the target so far, resumed bytes included. */
  onProgress(bytes: number): void;
  signal: AbortSignal;
}

export interface UploadResult {
  /** Where the file landed, without credentials. */
  url: string;
}

/**
 * A connection to one target. Uploads stream from disk, resume what an earlier attempt stored,
 * verify the size (and checksum where the protocol offers one) and only then make the file
 * visible under its final name, so a crash never leaves a partial or duplicate file behind.
 * Errors are DestinationErrors that name the stage and the reason.
 */
export interface Destination {
  /** Connects and authenticates; checks the folder, bucket or container exists. */
  connect(signal?: AbortSignal): Promise<void>;
  upload(job: UploadJob): Promise<UploadResult>;
  /** Writes a small file (the target test's probe). */
  write(remotePath: string, data: Buffer): Promise<void>;
  read(remotePath: string): Promise<Buffer>;
  remove(remotePath: string): Promise<void>;
  /** Removes what an abandoned upload left at the target (temp file, multipart upload). */
  discard(remotePath: string, resume: ResumeState): Promise<void>;
  /** Where a remote path lands, without credentials. */
  urlOf(remotePath: string): string;
  /** What the server showed that a user may pin (host key, certificate). */
  details(): NonNullable<TargetTestResult['details']>;
  /** Closes connections. Idempotent. */
  close(): Promise<void>;
}

/**
 * Resume state of uploads to a temp file (local, FTP, SFTP): set once writing began, so a temp
 * file is only continued by an attempt for the same version of the file.
 */
export interface TempFileResume {
  partial?: boolean;
}

/** Suffix of the temporary name a file is written under before it is renamed into place. */
export const PART_SUFFIX = '.spoolpart';

/**
 * Resume state of part-wise uploads (S3 multipart, Azure blocks): the part size the upload
 * started with, checksums of stored parts by number, and how many part uploads were sent in
 * all attempts (parts re-sent after a failure count again).
 */
export interface PartsResume {
  partSize: number;
  partsTotal: number;
  /** Part number (1-based) → ETag (S3) or block id (Azure) of stored parts. */
  stored: Record<string, string>;
  partsSent: number;
}

/** Concurrent part uploads of one file (bounded: each holds one part in memory). */
export const PART_CONCURRENCY = 4;
/** Smallest part: 8 MiB keeps the number of requests low and memory at 32 MiB per upload. */
export const MIN_PART_SIZE = 8 << 20;
