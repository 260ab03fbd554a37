import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A random key kept in `<data>/keys/<name>.key`, readable only by the user. Created on first
 * use; the same key is returned on every later start.
 */
export function loadOrCreateKey(dataDir: string, name: string, bytes = 32): Buffer {
  const dir = join(dataDir, 'keys');
  const path = join(dir, `${name}.key`);
  if (existsSync(path)) {
    const key = Buffer.from(readFileSync(path, 'utf8').trim(), 'base64');
    if (key.length === bytes) return key;
    throw new Error(`key file ${path} is damaged (expected ${bytes} bytes); remove it to create a new key`);
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const key = randomBytes(bytes);
  writeFileSync(path, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(path, 0o600);
  return key;
}
