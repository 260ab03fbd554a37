/** What went wrong, in words the HTTP layer maps to a status and clients can branch on. */
export type ErrorCode =
  | 'InvalidArgument'
  | 'Unauthenticated'
  | 'PermissionDenied'
  | 'NotFound'
  | 'Conflict'
  | 'PreconditionFailed'
  | 'PayloadTooLarge'
  | 'Unprocessable'
  | 'RateLimited'
  | 'Unavailable'
  | 'Internal';

/** The one error body every API route answers with. */
export interface ErrorBody {
  code: ErrorCode;
  message: string;
  /** The request field (dotted path) or file the error is about, when there is one. */
  field?: string;
}

/** An error a user can act on: a code, a message naming what was wrong and, when known, the field. */
export class StudioError extends Error {
  readonly code: ErrorCode;
  readonly field?: string;
  /** When to try again, for a refusal that passes (HTTP `Retry-After`). */
  readonly retryAfterSec?: number;

  constructor(
    code: ErrorCode,
    message: string,
    field?: string,
    options?: { cause?: unknown; retryAfterSec?: number },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'StudioError';
    this.code = code;
    if (field !== undefined) this.field = field;
    if (options?.retryAfterSec !== undefined) this.retryAfterSec = options.retryAfterSec;
  }

  toBody(): ErrorBody {
    return this.field === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, field: this.field };
  }
}

export const invalidArgument = (message: string, field?: string): StudioError =>
  new StudioError('InvalidArgument', message, field);
export const notFound = (message: string, field?: string): StudioError =>
  new StudioError('NotFound', message, field);
export const conflict = (message: string, field?: string): StudioError =>
  new StudioError('Conflict', message, field);
export const unavailable = (message: string): StudioError => new StudioError('Unavailable', message);

const STATUS: Record<ErrorCode, number> = {
  InvalidArgument: 400,
  Unauthenticated: 401,
  PermissionDenied: 403,
  NotFound: 404,
  Conflict: 409,
  PreconditionFailed: 412,
  PayloadTooLarge: 413,
  Unprocessable: 422,
  RateLimited: 429,
  Unavailable: 503,
  Internal: 500,
};

/** The HTTP status for an error code. */
export function httpStatusOf(code: ErrorCode): number {
  return STATUS[code];
}

/** The error code for an HTTP status (for errors raised by the framework rather than by us). */
export function errorCodeOfStatus(status: number): ErrorCode {
  if (status === 401) return 'Unauthenticated';
  if (status === 403) return 'PermissionDenied';
  if (status === 404) return 'NotFound';
  if (status === 409) return 'Conflict';
  if (status === 412) return 'PreconditionFailed';
  if (status === 413) return 'PayloadTooLarge';
  if (status === 422) return 'Unprocessable';
  if (status === 429) return 'RateLimited';
  if (status === 503) return 'Unavailable';
  if (status >= 400 && status < 500) return 'InvalidArgument';
  return 'Internal';
}
