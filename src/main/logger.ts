import { pino, type Logger } from 'pino';

export type { Logger };

/** Options of the core's logger. */
export interface LoggerOptions {
  /** pino level; `silent` turns logging off (tests). */
  level?: string;
  /** Write pretty single lines to stderr instead of JSON to stdout. */
  destination?: number;
}

/**
 * The core's logger. Secrets are redacted by path so a credential that reaches a log line by
 * accident is never printed.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? process.env.SPOOL_LOG_LEVEL ?? 'info',
      base: undefined,
      redact: {
        paths: [
          'req.headers.authorization',
          'req.headers["x-opentok-auth"]',
          'req.headers["x-tb-partner-auth"]',
          '*.password',
          '*.secret',
          '*.apiSecret',
          '*.token',
          '*.privateKey',
          '*.secretAccessKey',
          '*.connectionString',
          '*.sasToken',
        ],
        censor: '[redacted]',
      },
    },
    pino.destination({ fd: options.destination ?? 1, sync: false }),
  );
}
