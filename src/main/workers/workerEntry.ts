import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * Where the media worker's entry is: `mediaWorkerThread.ts` beside this file when the core runs from
 * sources (tsx: tests, benches), `out/main/mediaWorkerThread.js` when it runs built (headless,
 * Electron), whether this code was bundled into an entry or into a shared chunk.
 */
export function mediaWorkerEntry(): URL {
  const here = import.meta.url;
  const candidates = here.endsWith('.ts')
    ? [new URL('./mediaWorkerThread.ts', here)]
    : [new URL('./mediaWorkerThread.js', here), new URL('../mediaWorkerThread.js', here)];
  for (const url of candidates) if (existsSync(fileURLToPath(url))) return url;
  throw new Error(
    `the media worker entry is missing (looked for ${candidates.map((u) => fileURLToPath(u)).join(', ')}); rebuild with npm run build`,
  );
}
