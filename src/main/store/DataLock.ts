import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** What a lock file says about the studio holding a data folder. */
export interface LockOwner {
  pid: number;
  startedAt: number;
  hostname?: string;
}

/** The data folder is held by another running studio. */
export class DataFolderInUseError extends Error {
  readonly owner: LockOwner;
  constructor(dataDir: string, owner: LockOwner) {
    super(
      `the data folder ${dataDir} is in use by another Spool Studio (pid ${owner.pid}, started ` +
        `${new Date(owner.startedAt).toISOString()}); stop that one first or use another data folder`,
    );
    this.name = 'DataFolderInUseError';
    this.owner = owner;
  }
}

/** Whether a process runs. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A killed process its parent has not reaped yet (a zombie: a studio SIGKILLed a moment ago
  // under a supervisor) still answers signal 0, but it holds nothing. Linux says so in
  // /proc/<pid>/stat: the state after the command name (which may itself hold ")").
  if (process.platform !== 'linux') return true;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    // Gone between the two looks, or no /proc: signal 0 answered, so take it as running.
    return true;
  }
}

/**
 * `<data>/studio.lock`: one studio per data folder. Created exclusively with the owner's pid; a
 * lock whose pid is gone (a crash) is taken over. Two studios on one folder would each "recover"
 * the archives the other is recording.
 */
export class DataLock {
  readonly path: string;
  #held = false;

  private constructor(path: string) {
    this.path = path;
  }

  /** Takes the lock of `dataDir`, or throws DataFolderInUseError naming the holder. */
  static acquire(dataDir: string): DataLock {
    const lock = new DataLock(join(dataDir, 'studio.lock'));
    const me: LockOwner = { pid: process.pid, startedAt: Date.now() };
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fd = openSync(lock.path, 'wx', 0o600);
        try {
          writeSync(fd, `${JSON.stringify(me)}\n`);
        } finally {
          closeSync(fd);
        }
        lock.#held = true;
        return lock;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      let owner: LockOwner | null = null;
      try {
        owner = JSON.parse(readFileSync(lock.path, 'utf8')) as LockOwner;
      } catch {
        // Unreadable or half-written: its writer died between creating and writing it.
      }
      if (owner !== null && owner.pid !== process.pid && alive(owner.pid))
        throw new DataFolderInUseError(dataDir, owner);
      rmSync(lock.path, { force: true });
    }
    throw new Error(`cannot take the lock ${lock.path}: another studio keeps taking it`);
  }

  release(): void {
    if (!this.#held) return;
    this.#held = false;
    try {
      const owner = JSON.parse(readFileSync(this.path, 'utf8')) as LockOwner;
      if (owner.pid === process.pid) rmSync(this.path, { force: true });
    } catch {
      // Already gone.
    }
  }
}
