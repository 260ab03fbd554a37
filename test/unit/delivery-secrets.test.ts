import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { scrubFailure } from '../../src/main/delivery/DestinationError';
import { SecretBox } from '../../src/main/security/SecretBox';
import { Store } from '../../src/main/store/Store';
import { TargetRepository } from '../../src/main/store/TargetRepository';
import type { TargetConfig } from '../../src/shared/targets';
import { tempDir } from '../helpers/tmp';

describe('credentials at rest', () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => (dir = tempDir()));
  afterEach(() => dir.remove());

  it('SecretBox round-trips and refuses a tampered or foreign ciphertext', () => {
    const box = SecretBox.forDataDir(dir.path);
    const sealed = box.encrypt('hunter2');
    assert.equal(box.decrypt(sealed), 'hunter2');
    assert.notEqual(box.encrypt('hunter2').toString('hex'), sealed.toString('hex'), 'a fresh IV each time');
    const tampered = Buffer.from(sealed);
    tampered[tampered.length - 1]! ^= 1;
    assert.throws(() => box.decrypt(tampered), /cannot be decrypted/);
    const other = new SecretBox(Buffer.alloc(32, 7));
    assert.throws(() => other.decrypt(sealed), /cannot be decrypted/);
  });

  it('uses the same key file on the next start, readable only by the user', () => {
    const sealed = SecretBox.forDataDir(dir.path).encrypt('s3cret');
    assert.equal(SecretBox.forDataDir(dir.path).decrypt(sealed), 's3cret');
    assert.equal(statSync(join(dir.path, 'keys', 'credentials.key')).mode & 0o777, 0o600);
  });

  it('stores target credentials encrypted: the database file never holds them in the clear', () => {
    const path = join(dir.path, 'db.sqlite');
    const store = new Store({ path });
    const repo = new TargetRepository(store.db, SecretBox.forDataDir(dir.path));
    const config: TargetConfig = {
      kind: 's3',
      name: 'S3',
      enabled: true,
      pathTemplate: '{file}',
      region: 'us-east-1',
      bucket: 'bucket',
      prefix: '',
      forcePathStyle: true,
      accessKeyId: 'AKIAEXAMPLE',
      secretAccessKey: 'wJalrXUtnFEMI-very-secret-KEY',
    };
    repo.insert({ id: 't1', config, createdAt: 1, updatedAt: 1 });
    assert.deepEqual(repo.get('t1')?.config, config);
    store.db.pragma('wal_checkpoint(TRUNCATE)');
    store.close();
    const bytes = readFileSync(path).toString('latin1');
    assert.ok(bytes.includes('AKIAEXAMPLE'), 'non-secret fields are plain');
    assert.ok(!bytes.includes('very-secret'), 'the secret is not in the database file');
  });

  it('a target whose credentials cannot be decrypted is still listed, flagged, and the others work', () => {
    const store = new Store({ path: join(dir.path, 'db.sqlite') });
    const base = {
      enabled: true,
      pathTemplate: '{file}',
      host: 'h',
      port: 21,
      user: 'u',
      secure: false,
      path: '',
    } as const;
    new TargetRepository(store.db, new SecretBox(Buffer.alloc(32, 1))).insert({
      id: 'old',
      config: { ...base, kind: 'ftp', name: 'Old key', password: 'pw-old-key' },
      createdAt: 1,
      updatedAt: 1,
    });
    const repo = new TargetRepository(store.db, new SecretBox(Buffer.alloc(32, 2)));
    repo.insert({
      id: 'new',
      config: { ...base, kind: 'ftp', name: 'New key', password: 'pw-new-key' },
      createdAt: 2,
      updatedAt: 2,
    });
    const [old, fresh] = repo.list();
    assert.match(old!.credentialsError!, /cannot be decrypted/);
    assert.equal((old!.config as { password?: string }).password, undefined);
    assert.equal(fresh!.credentialsError, undefined);
    assert.equal((fresh!.config as { password?: string }).password, 'pw-new-key');
    store.close();
  });

  it('scrubs credentials and SAS signatures out of error messages', () => {
    const config = {
      kind: 'ftp',
      name: 'f',
      enabled: true,
      pathTemplate: '{file}',
      host: 'h',
      port: 21,
      user: 'u',
      password: 'pa55word',
      secure: false,
      path: '',
    } as const;
    const failure = scrubFailure(
      {
        stage: 'upload',
        reason: 'auth',
        permanent: true,
        message: 'ftp://u:pa55word@h/x?sig=abc%2Fdef&se=1',
      },
      config,
    );
    assert.equal(failure.message, 'ftp://u:[redacted]@h/x?sig=[redacted]&se=1');
  });
});
