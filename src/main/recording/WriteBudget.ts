/**
 * The write queues of every thread that records (the main thread and each media worker), in
 * memory they all see: one slot per thread, written only by its thread. The disk is one, so its
 * queue is one: a thread whose recorders meet a slow disk may queue up to the whole limit while
 * the others queue nothing, and frames are dropped only when the studio's queue is full.
 */
export interface SharedQueue {
  slots: BigInt64Array;
  /** This thread's slot. */
  index: number;
}

/** Slots for `threads` threads (a `SharedArrayBuffer`: workers get the same memory). */
export function sharedQueueSlots(threads: number): BigInt64Array {
  return new BigInt64Array(new SharedArrayBuffer(threads * BigInt64Array.BYTES_PER_ELEMENT));
}

/** Bytes queued in every slot. */
export function queuedInSlots(slots: BigInt64Array): number {
  let sum = 0n;
  for (let i = 0; i < slots.length; i++) sum += Atomics.load(slots, i);
  return Number(sum);
}

/**
 * Bytes the recorder has handed to its writers but the disk has not taken yet, across the
 * studio. When the disk cannot keep up the queue stops growing at `limitBytes`: recorders drop
 * whole frames (up to the next keyframe) instead of holding them in memory. With a `shared`
 * queue the limit is the studio's: what every thread has queued counts (see `SharedQueue`).
 */
export class WriteBudget {
  readonly limitBytes: number;
  readonly #shared: SharedQueue | null;
  #queued = 0;
  #peak = 0;
  #total = 0;
  #halted: Error | null = null;

  constructor(limitBytes: number, shared?: SharedQueue) {
    this.limitBytes = limitBytes;
    this.#shared = shared ?? null;
    if (this.#shared !== null) Atomics.store(this.#shared.slots, this.#shared.index, 0n);
  }

  /** Bytes waiting for the disk now, from this thread's writers. */
  get queuedBytes(): number {
    return this.#queued;
  }

  /** Bytes waiting for the disk now, from every thread's writers (this thread's without a shared queue). */
  get studioQueuedBytes(): number {
    return this.#shared === null ? this.#queued : queuedInSlots(this.#shared.slots);
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

  /** Whether new frames should be dropped: the queue (the studio's, when shared) is at its limit. */
  get congested(): boolean {
    return this.studioQueuedBytes >= this.limitBytes;
  }

  /** Bytes handed to the writers since the start (the disk monitor's write rate). */
  get totalBytes(): number {
    return this.#total;
  }

  add(bytes: number): void {
    this.#total += bytes;
    this.#queued += bytes;
    if (this.#queued > this.#peak) this.#peak = this.#queued;
    this.#publish();
  }

  release(bytes: number): void {
    this.#queued = Math.max(0, this.#queued - bytes);
    this.#publish();
  }

  #publish(): void {
    if (this.#shared !== null) Atomics.store(this.#shared.slots, this.#shared.index, BigInt(this.#queued));
  }
}
