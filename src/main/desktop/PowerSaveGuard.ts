/** The part of Electron's `powerSaveBlocker` the guard uses. */
export interface PowerSaveBlockerApi {
  start(type: 'prevent-app-suspension' | 'prevent-display-sleep'): number;
  stop(id: number): void;
  isStarted(id: number): boolean;
}

/**
 * Keeps the computer awake while anything records: `prevent-app-suspension` (the screen may
 * still turn off) from the first recording archive until the last one stops.
 */
export class PowerSaveGuard {
  readonly #blocker: PowerSaveBlockerApi;
  #id: number | null = null;
  #closed = false;

  constructor(blocker: PowerSaveBlockerApi) {
    this.#blocker = blocker;
  }

  /** Whether the blocker is on now. */
  get active(): boolean {
    return this.#id !== null && this.#blocker.isStarted(this.#id);
  }

  /** Turns the blocker on while `recording` is true, off when it becomes false. */
  update(recording: boolean): void {
    if (this.#closed) return;
    if (recording && !this.active) this.#id = this.#blocker.start('prevent-app-suspension');
    else if (!recording) this.#release();
  }

  #release(): void {
    if (this.#id === null) return;
    if (this.#blocker.isStarted(this.#id)) this.#blocker.stop(this.#id);
    this.#id = null;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#release();
  }
}
