import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The folder holding the studio's package.json (source checkout, build output or packaged app). */
function findAppRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string };
      if (pkg.name === 'spool-studio') return dir;
    }
    const parent = dirname(dir);
    if (parent === dir)
      throw new Error('cannot find the spool-studio package.json above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

export const APP_ROOT = findAppRoot();

export const APP_VERSION: string = (
  JSON.parse(readFileSync(join(APP_ROOT, 'package.json'), 'utf8')) as { version: string }
).version;

/** Where `electron-vite build` puts the renderer. */
export const DEFAULT_RENDERER_DIR = join(APP_ROOT, 'out', 'renderer');
