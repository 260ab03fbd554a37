/** A write error as the operator reads it: "disk full" for ENOSPC/EDQUOT. */
export function describeWriteError(error: Error): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC' || code === 'EDQUOT') return 'disk full';
  return `disk write error${code ? ` (${code})` : ''}: ${error.message}`;
}
