import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { chmodSync, linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from './processes';

/** The system account the SFTP and FTP test servers log in to. */
export interface TestUser {
  name: string;
  password: string;
  home: string;
  uid: number;
  gid: number;
}

let cached: TestUser | null = null;

/** The account's password, made once per machine and kept where only root reads it. */
const PASSWORD_FILE = join(tmpdir(), 'spooltest.password');

/**
 * The password every test process uses: test files run side by side, and a process that set a
 * new one would lock the others' FTP logins out. The first to create the file chooses it.
 */
function sharedPassword(): string {
  // Written whole under a name of its own, then linked into place: the file is never seen empty,
  // and a link fails if another process got there first (theirs is kept).
  const mine = `${PASSWORD_FILE}.${process.pid}`;
  writeFileSync(mine, `pw-${randomBytes(9).toString('base64url')}`, { mode: 0o600 });
  try {
    linkSync(mine, PASSWORD_FILE);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    rmSync(mine, { force: true });
  }
  return readFileSync(PASSWORD_FILE, 'utf8');
}

/**
 * Creates (once per machine) the `spooltest` account and sets its password. sshd and vsftpd
 * authenticate real accounts, so the tests need one; they run as root.
 */
export function testUser(): TestUser {
  if (cached !== null) return cached;
  const name = 'spooltest';
  const exists = () => spawnSync('id', ['-u', name]).status === 0;
  // Another test process may be adding it at the same moment: then theirs is ours.
  if (!exists()) {
    const added = spawnSync('useradd', ['-m', '-s', '/bin/bash', name], { encoding: 'utf8' });
    if (added.status !== 0 && !exists()) throw new Error(`useradd ${name} failed: ${added.stderr}`);
  }
  const password = sharedPassword();
  // The same password from every process; /etc/shadow is locked while another one writes it.
  for (let attempt = 1; ; attempt++) {
    const set = spawnSync('chpasswd', [], { encoding: 'utf8', input: `${name}:${password}\n` });
    if (set.status === 0) break;
    if (attempt === 50) throw new Error(`chpasswd failed: ${set.stderr}`);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100); // 100 ms, synchronously
  }
  const uid = Number(run('id', ['-u', name]).trim());
  const gid = Number(run('id', ['-g', name]).trim());
  const home = join('/home', name);
  mkdirSync(home, { recursive: true });
  chmodSync(home, 0o755);
  cached = { name, password, home, uid, gid };
  return cached;
}
