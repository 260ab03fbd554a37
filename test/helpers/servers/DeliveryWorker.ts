import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { AnyStudioEvent } from '../../../src/shared/events';
import { ROOT } from '../headless';

/** A delivery service in a child process, and the delivery events it printed. */
export class DeliveryWorker {
  readonly child: ChildProcess;
  readonly events: AnyStudioEvent[] = [];
  readonly #waiters = new Set<() => void>();

  /** `env`: added to this process's environment (e.g. `SPOOL_FAULT`). */
  constructor(dataDir: string, settings: object = {}, env: Record<string, string> = {}) {
    this.child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(ROOT, 'test/helpers/servers/deliveryWorkerMain.ts'),
        dataDir,
        JSON.stringify(settings),
      ],
      {
        cwd: ROOT,
        env: { ...process.env, ...env },
        stdio: ['pipe', 'pipe', 'inherit'],
      },
    );
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      const message = JSON.parse(line) as AnyStudioEvent | { type: 'ready' };
      if (message.type !== 'ready') this.events.push(message as AnyStudioEvent);
      for (const wake of this.#waiters) wake();
    });
  }

  /** Resolves with the first printed event that `predicate` accepts. */
  waitFor(predicate: (event: AnyStudioEvent) => boolean, timeoutMs = 60_000): Promise<AnyStudioEvent> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`worker: no matching event in ${timeoutMs} ms`)),
        timeoutMs,
      );
      const check = () => {
        const found = this.events.find(predicate);
        if (found === undefined) return;
        clearTimeout(timer);
        this.#waiters.delete(check);
        resolve(found);
      };
      this.#waiters.add(check);
      check();
    });
  }

  /** Queues the deliveries of an archive made available by another process. */
  enqueue(archiveId: string): void {
    this.child.stdin!.write(`${JSON.stringify({ enqueue: archiveId })}\n`);
  }

  /** Peak resident memory of the process so far, in bytes (Linux). */
  peakRss(): number {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${this.child.pid}/status`, 'utf8'));
    return match === null ? 0 : Number(match[1]) * 1024;
  }

  /** Resolves when the process has ended by itself (a fault point), within `timeoutMs`. */
  async exited(timeoutMs = 60_000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    await once(this.child, 'exit', { signal: AbortSignal.timeout(timeoutMs) });
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill(signal);
    await once(this.child, 'exit');
  }
}
