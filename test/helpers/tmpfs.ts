import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A small tmpfs mounted for a test (a disk that really fills up), or why it cannot be made. */
export function mountTmpfs(sizeMb: number): { path: string; unmount(): void } | { skip: string } {
  const path = mkdtempSync(join(tmpdir(), 'spool-tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMb}m`, 'tmpfs', path], { stdio: 'pipe' });
  } catch (error) {
    rmSync(path, { recursive: true, force: true });
    const message = (error as { stderr?: Buffer }).stderr?.toString().trim() || (error as Error).message;
    return { skip: `cannot mount a ${sizeMb} MB tmpfs (needs root): ${message}` };
  }
  return {
    path,
    unmount() {
      try {
        execFileSync('umount', ['-l', path], { stdio: 'pipe' });
      } finally {
        rmSync(path, { recursive: true, force: true });
      }
    },
  };
}
