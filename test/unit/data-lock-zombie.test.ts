import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DataLock, alive } from '../../src/main/store/DataLock';
import { tempDir } from '../helpers/tmp';

describe(
  'data folder lock: a zombie holds nothing',
  { skip: process.platform !== 'linux' && 'Linux /proc only' },
  () => {
    it('a lock whose pid is a killed but unreaped process is taken over', { timeout: 15_000 }, async () => {
      const dir = tempDir();
      // The shell starts a short `sleep` in the background, prints its pid and becomes a long
      // `sleep`, which never reaps it: once the short one exits it is a zombie until the long one
      // ends. (A child that ended before the `exec` could be reaped by the shell itself.)
      const parent = spawn('sh', ['-c', 'sleep 1 & echo $!; exec sleep 30'], {
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      try {
        const [chunk] = (await once(parent.stdout!, 'data')) as [Buffer];
        const zombie = Number(chunk.toString().trim());
        assert.ok(zombie > 0);
        const deadline = Date.now() + 5000;
        const state = () => {
          let stat: string;
          try {
            stat = readFileSync(`/proc/${zombie}/stat`, 'utf8');
          } catch (error) {
            throw new Error(
              `process ${zombie} is gone (reaped before the exec?): ${(error as Error).message}`,
            );
          }
          return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
        };
        while (state() !== 'Z') {
          assert.ok(Date.now() < deadline, `process ${zombie} never became a zombie (${state()})`);
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        assert.doesNotThrow(() => process.kill(zombie, 0), 'signal 0 still answers for a zombie');
        assert.equal(alive(zombie), false);
        assert.equal(alive(parent.pid!), true);

        writeFileSync(
          join(dir.path, 'studio.lock'),
          `${JSON.stringify({ pid: zombie, startedAt: Date.now() })}\n`,
        );
        const lock = DataLock.acquire(dir.path);
        const owner = JSON.parse(readFileSync(join(dir.path, 'studio.lock'), 'utf8')) as { pid: number };
        assert.equal(owner.pid, process.pid);
        lock.release();
      } finally {
        parent.kill('SIGKILL');
        dir.remove();
      }
    });
  },
);
