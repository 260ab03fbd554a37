import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runHeadless, startHeadless, TEST_CREDENTIALS, type HeadlessCore } from '../helpers/headless';
import { tempDir } from '../helpers/tmp';

describe('data folder lock', () => {
  it(
    'a second studio on the same data folder refuses to start, naming the first; a lock left by a killed studio is taken over',
    { timeout: 90_000 },
    async () => {
      const dir = tempDir();
      let first: HeadlessCore | null = null;
      let third: HeadlessCore | null = null;
      try {
        first = await startHeadless({ dataDir: dir.path });
        const lock = JSON.parse(readFileSync(join(dir.path, 'studio.lock'), 'utf8')) as { pid: number };
        assert.equal(lock.pid, first.process.pid);

        const second = await runHeadless(['--data', dir.path, '--port', '0'], TEST_CREDENTIALS);
        assert.equal(second.code, 1);
        assert.match(second.stderr, new RegExp(`in use by another Spool Studio \\(pid ${first.process.pid}`));
        assert.match(second.stderr, new RegExp(dir.path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
        // The first one still serves.
        assert.equal((await fetch(`${first.url}/health`)).status, 200);

        await first.kill();
        assert.ok(existsSync(join(dir.path, 'studio.lock')), 'a killed studio leaves its lock');
        third = await startHeadless({ dataDir: dir.path });
        const taken = JSON.parse(readFileSync(join(dir.path, 'studio.lock'), 'utf8')) as { pid: number };
        assert.equal(taken.pid, third.process.pid);
        assert.equal(await third.stop(), 0);
        assert.ok(!existsSync(join(dir.path, 'studio.lock')), 'a clean stop removes the lock');
      } finally {
        await first?.kill();
        await third?.kill();
        dir.remove();
      }
    },
  );
});
