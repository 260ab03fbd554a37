/**
 * Bytes the recorder has handed to its writers but the disk has not taken yet, across the
 * studio. When the disk cannot keep up the queue stops growing at `limitBytes`: recorders drop
 * whole frames (up to the next keyframe) instead of holding them in memory.
 */
export class WriteBudget {
  readonly limitBytes: number;
  #queued = 0;
  #peak = 0;
  #total = 0;
  #halted: Error | null = null;

  constructor(limitBytes: number) {
    this.limitBytes = limitBytes;
  }

  /** Bytes waiting for the disk now. */
  get queuedBytes(): number {
    return this.#queued;
  }

  /** The most bytes that ever waited at once. */
  get peakBytes(): number {
    return this.#peak;
  }

  /** The disk is full: every writer stops appending (its file ends at its last whole cluster). */
  halt(error: Error): void {
    this.#halted ??= error;
  }

  /** Writing may go on again (space was freed). */
  resume(): void {
    this.#halted = null;
  }

  /** Why writers must not append, or null. */
  get halted(): Error | null {
    return this.#halted;
  }

  /** Whether new frames should be dropped: the queue is at its limit. */
  get congested(): boolean {
    return this.#queued >= this.limitBytes;
  }

  /** Bytes handed to the writers since the start (the disk monitor's write rate). */
  get totalBytes(): number {
    return this.#total;
  }

  add(bytes: number): void {
    this.#total += bytes;
    this.#queued += bytes;
    if (this.#queued > this.#peak) this.#peak = this.#queued;
  }

  release(bytes: number): void {
    this.#queued = Math.max(0, this.#queued - bytes);
  }
}
