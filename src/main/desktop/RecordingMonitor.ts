import type { AnyStudioEvent } from '../../shared/events';
import { TypedEmitter } from '../util/TypedEmitter';

/** One archive being recorded, as the desktop shell shows it (tray, power save, quit). */
export interface RecordingEntry {
  archiveId: string;
  roomId: string;
  name: string | null;
  /** When recording started (ms since the epoch). */
  startedAt: number;
  /** Recorded seconds and bytes written so far (from `archive.progress`). */
  durationSec: number;
  size: number;
  paused: boolean;
}

/** What the monitor knows at a moment. */
export interface RecordingSnapshot {
  recording: boolean;
  archives: RecordingEntry[];
  durationSec: number;
  size: number;
}

export interface RecordingMonitorEvents {
  [key: string]: unknown[];
  /** The set of recording archives or their progress changed. */
  change: [RecordingSnapshot];
}

/** Archive statuses after which an archive no longer records. */
const ENDED = new Set(['stopped', 'available', 'uploaded', 'failed', 'expired', 'deleted']);

/**
 * Follows the event stream and keeps the archives that are recording now: the one place the
 * desktop shell asks "is anything recording?" (power-save blocker, tray, quit confirmation).
 */
export class RecordingMonitor extends TypedEmitter<RecordingMonitorEvents> {
  readonly #archives = new Map<string, RecordingEntry>();
  readonly #unsubscribe: () => void;
  #closed = false;

  /** `subscribe` registers a listener on the studio's events and returns its removal. */
  constructor(subscribe: (listener: (event: AnyStudioEvent) => void) => () => void) {
    super();
    this.#unsubscribe = subscribe((event) => this.#onEvent(event));
  }

  get closed(): boolean {
    return this.#closed;
  }

  get recording(): boolean {
    return this.#archives.size > 0;
  }

  snapshot(): RecordingSnapshot {
    const archives = [...this.#archives.values()].map((a) => ({ ...a }));
    return {
      recording: archives.length > 0,
      archives,
      durationSec: archives.reduce((m, a) => Math.max(m, a.durationSec), 0),
      size: archives.reduce((n, a) => n + a.size, 0),
    };
  }

  #onEvent(event: AnyStudioEvent): void {
    if (this.#closed) return;
    if (event.type === 'archive.progress') {
      const entry = this.#archives.get(event.data.archiveId);
      if (entry === undefined) return;
      entry.durationSec = event.data.durationSec;
      entry.size = event.data.size;
      this.safeEmit('change', this.snapshot());
      return;
    }
    if (!event.type.startsWith('archive.')) return;
    const archive = event.data as { id: string; status: string; roomId: string; name: string | null };
    if (event.type === 'archive.started' || event.type === 'archive.paused') {
      const existing = this.#archives.get(archive.id);
      this.#archives.set(archive.id, {
        archiveId: archive.id,
        roomId: archive.roomId,
        name: archive.name,
        startedAt: existing?.startedAt ?? event.createdAt,
        durationSec: existing?.durationSec ?? 0,
        size: existing?.size ?? 0,
        paused: event.type === 'archive.paused',
      });
      this.safeEmit('change', this.snapshot());
    } else if (ENDED.has(archive.status) && this.#archives.delete(archive.id)) {
      this.safeEmit('change', this.snapshot());
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#unsubscribe();
    this.removeAllListeners();
    this.#archives.clear();
  }
}
