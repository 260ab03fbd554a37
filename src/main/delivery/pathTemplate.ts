import { posix } from 'node:path';
import { DEFAULT_PATH_TEMPLATE, type PathPlaceholder } from '../../shared/targets';

/** Values a path template is filled with for one file. */
export type PathValues = Record<PathPlaceholder, string>;

/** One path segment made safe: no separators, no control characters, never "." or "..". */
function segment(value: string): string {
  // eslint-disable-next-line no-control-regex
  const cleaned = value.replace(/[\u0000-\u001f\u007f/\\]/g, '_').trim();
  return cleaned === '' || cleaned === '.' || cleaned === '..' ? '_' : cleaned;
}

/** A file path inside the archive folder keeps its folders (`split/…`), each segment made safe. */
function relativePath(value: string): string {
  return value
    .split(/[/\\]/)
    .filter((part) => part !== '')
    .map(segment)
    .join('/');
}

/**
 * Renders a target's path template (`{room}/{archiveId}/{file}`) into a relative remote path.
 * Values cannot climb out of the target's folder: each is one safe segment, `{file}` keeps its
 * own sub-folders.
 */
export function renderPath(template: string | undefined, values: PathValues): string {
  const rendered = (template ?? DEFAULT_PATH_TEMPLATE).replace(/\{([A-Za-z]+)\}/g, (whole, name: string) => {
    if (!(name in values)) return whole;
    const value = values[name as PathPlaceholder];
    return name === 'file' ? relativePath(value) : segment(value);
  });
  const parts = rendered.split('/').filter((part) => part !== '' && part !== '.');
  return posix.normalize(parts.map((part) => (part === '..' ? '_' : part)).join('/'));
}

/** The date placeholders of a time (UTC, so paths do not depend on the machine's zone). */
export function dateValues(ms: number): Pick<PathValues, 'date' | 'time' | 'year' | 'month' | 'day'> {
  const iso = new Date(ms).toISOString();
  return {
    date: iso.slice(0, 10),
    time: iso.slice(11, 19).replace(/:/g, '-'),
    year: iso.slice(0, 4),
    month: iso.slice(5, 7),
    day: iso.slice(8, 10),
  };
}
