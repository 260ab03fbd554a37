import type * as LocalMediaModule from './localMedia';

/** The main-thread media plane's classes (`localMedia.ts`), once loaded. */
export type LocalMedia = typeof LocalMediaModule;

/** Loads the main-thread media plane (`mediaWorkers: 0`) and installs the werift fixes. */
export async function loadLocalMedia(): Promise<LocalMedia> {
  const local = await import('./localMedia');
  local.installWeriftFixes();
  return local;
}
