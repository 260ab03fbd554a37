import type { Logger } from '../logger';

/**
 * Wraps a timer or event callback so an error (a SQLite error on a full disk, a bug) is logged
 * instead of taking the process down: timers that touch the store use it.
 */
export function guarded(logger: Logger, what: string, fn: () => unknown): () => void {
  return () => {
    try {
      const result = fn();
      if (result instanceof Promise)
        result.catch((error: unknown) => logger.error({ err: error }, `${what} failed`));
    } catch (error) {
      logger.error({ err: error }, `${what} failed`);
    }
  };
}
