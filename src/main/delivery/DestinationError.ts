import { StudioError, type ErrorCode } from '../../shared/errors';
import {
  DESTINATION_REASONS,
  SECRET_FIELDS,
  type TargetConfig,
  type DestinationFailure,
  type DestinationReason,
  type TestStage,
} from '../../shared/targets';

export type FailureStage = DestinationFailure['stage'];

const CODES: Partial<Record<DestinationReason, ErrorCode>> = {
  auth: 'PermissionDenied',
  permission: 'PermissionDenied',
  'host-key': 'PermissionDenied',
  tls: 'PermissionDenied',
  bucket: 'NotFound',
  'not-found': 'NotFound',
  source: 'NotFound',
  config: 'InvalidArgument',
};

/**
 * A destination failed: where (stage), why (reason) and whether a retry can help. Permanent
 * reasons (credentials, missing bucket, refused…) need the user; transient ones (reset, timeout,
 * 5xx) are retried on the fast schedule.
 */
export class DestinationError extends StudioError {
  readonly stage: FailureStage;
  readonly reason: DestinationReason;

  constructor(
    stage: FailureStage,
    reason: DestinationReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(CODES[reason] ?? 'Unavailable', message, undefined, options);
    this.name = 'DestinationError';
    this.stage = stage;
    this.reason = reason;
  }

  get permanent(): boolean {
    return DESTINATION_REASONS[this.reason].permanent;
  }

  toFailure(): DestinationFailure {
    return { stage: this.stage, reason: this.reason, permanent: this.permanent, message: this.message };
  }
}

/** Reasons for Node's socket and file system error codes. */
const NODE_CODES: Record<string, DestinationReason> = {
  ENOTFOUND: 'dns',
  EAI_NONAME: 'dns',
  EAI_AGAIN: 'unreachable',
  ECONNREFUSED: 'refused',
  ECONNRESET: 'reset',
  EPIPE: 'reset',
  ECONNABORTED: 'reset',
  ERR_STREAM_PREMATURE_CLOSE: 'reset',
  ETIMEDOUT: 'timeout',
  ESOCKETTIMEDOUT: 'timeout',
  ENETUNREACH: 'unreachable',
  EHOSTUNREACH: 'unreachable',
  ENETDOWN: 'unreachable',
  EHOSTDOWN: 'unreachable',
  EACCES: 'permission',
  EPERM: 'permission',
  EROFS: 'permission',
  ENOSPC: 'no-space',
  EDQUOT: 'no-space',
  ENOENT: 'not-found',
  ENOTDIR: 'not-found',
  CERT_HAS_EXPIRED: 'tls',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'tls',
  SELF_SIGNED_CERT_IN_CHAIN: 'tls',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'tls',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'tls',
  ERR_TLS_CERT_ALTNAME_INVALID: 'tls',
};

/** The Node error code of an error or of any error in its cause chain. */
export function nodeCode(error: unknown): string | undefined {
  for (let e = error, depth = 0; e !== null && typeof e === 'object' && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code in NODE_CODES) return code;
    e = (e as { cause?: unknown }).cause;
  }
  // Some clients flatten the cause into the message ("connect ECONNREFUSED 127.0.0.1:21").
  const message = error instanceof Error ? error.message : String(error);
  return Object.keys(NODE_CODES).find((code) => new RegExp(`\\b${code}\\b`).test(message));
}

/** The reason for a Node socket or file error, or undefined when it is not one. */
export function nodeReason(error: unknown): DestinationReason | undefined {
  const code = nodeCode(error);
  return code === undefined ? undefined : NODE_CODES[code];
}

export function messageOf(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  // One line, bounded: server answers can be long HTML pages.
  return text.replace(/\s+/g, ' ').trim().slice(0, 500);
}

/** True when an error came from aborting the attempt (close, cancel). */
export function isAbort(error: unknown, signal?: AbortSignal): boolean {
  if (signal?.aborted === true) return true;
  const name = (error as { name?: unknown } | null)?.name;
  return name === 'AbortError';
}

/** Wraps any error as a DestinationError at `stage`, with a reason from its Node code if it has one. */
export function toDestinationError(error: unknown, stage: FailureStage, what: string): DestinationError {
  if (error instanceof DestinationError) return error;
  const reason = nodeReason(error) ?? 'unknown';
  return new DestinationError(
    stage,
    reason,
    `${what}: ${DESTINATION_REASONS[reason].text} (${messageOf(error)})`,
    {
      cause: error,
    },
  );
}

/**
 * A failure with every credential of the target taken out of its message: servers and client
 * libraries sometimes echo the request (an Azure SAS signature, a user:password URL).
 */
export function scrubFailure(failure: DestinationFailure, config: TargetConfig): DestinationFailure {
  let message = failure.message.replace(/([?&]sig=)[^&\s]+/gi, '$1[redacted]');
  for (const field of SECRET_FIELDS[config.kind] as readonly string[]) {
    const value = (config as Record<string, unknown>)[field];
    if (typeof value === 'string' && value.length >= 4) message = message.split(value).join('[redacted]');
  }
  return { ...failure, message };
}

export type { TestStage };
