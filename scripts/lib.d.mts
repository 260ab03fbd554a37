// Types of the helpers in lib.mjs that TypeScript code (the benches) uses.
/**
 * Builds main, preload and renderer when the build is missing or older than the sources.
 * `toStderr` sends the build's output to stderr (the benches keep stdout for their JSON line).
 */
export function ensureBuilt(options?: { toStderr?: boolean }): void;
/** V8 flags of the studio's main thread (`npm run serve`, `npm start`, the benches' built studio). */
export const STUDIO_V8_FLAGS: readonly string[];
