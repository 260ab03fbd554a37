import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync } from 'node:fs';
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

/**
 * Creates (once per machine) the `spooltest` account and sets a fresh password (once per test
 * process). sshd and vsftpd authenticate real accounts, so the tests need one; they run as root.
 */
export function testUser(): TestUser {
  if (cached !== null) return cached;
  const name = 'spooltest';
  if (spawnSync('id', ['-u', name]).status !== 0) run('useradd', ['-m', '-s', '/bin/bash', name]);
  const password = `pw-${randomBytes(9).toString('base64url')}`;
  run('chpasswd', [], `${name}:${password}\n`);
  const uid = Number(run('id', ['-u', name]).trim());
  const gid = Number(run('id', ['-g', name]).trim());
  const home = join('/home', name);
  mkdirSync(home, { recursive: true });
  chmodSync(home, 0o755);
  cached = { name, password, home, uid, gid };
  return cached;
}
