import { EventEmitter } from 'node:events';

/** Maps event names to the tuple of their listener arguments. */
export type EventMap = Record<string, unknown[]>;

/**
 * An EventEmitter whose event names and arguments are typed. `safeEmit` survives a throwing
 * listener (it reports to `onListenerError`) so one bad subscriber never breaks the emitter.
 */
export class TypedEmitter<E extends EventMap> {
  readonly #emitter = new EventEmitter();
  /** Called when a listener throws during `safeEmit`. */
  onListenerError: (event: string, error: unknown) => void = () => {};

  constructor() {
    this.#emitter.setMaxListeners(Infinity);
  }

  on<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
    this.#emitter.on(event, listener as (...args: unknown[]) => void);
    return this;
  }

  once<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
    this.#emitter.once(event, listener as (...args: unknown[]) => void);
    return this;
  }

  off<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
    this.#emitter.off(event, listener as (...args: unknown[]) => void);
    return this;
  }

  removeAllListeners<K extends keyof E & string>(event?: K): this {
    if (event === undefined) this.#emitter.removeAllListeners();
    else this.#emitter.removeAllListeners(event);
    return this;
  }

  listenerCount<K extends keyof E & string>(event: K): number {
    return this.#emitter.listenerCount(event);
  }

  /** Emits to every listener; a listener that throws is reported and the others still run. */
  safeEmit<K extends keyof E & string>(event: K, ...args: E[K]): boolean {
    const listeners = this.#emitter.rawListeners(event) as Array<(...a: unknown[]) => void>;
    for (const listener of listeners) {
      try {
        listener.apply(this, args);
      } catch (error) {
        this.onListenerError(event, error);
      }
    }
    // once() wrappers remove themselves only when called through emit(); drop them here.
    for (const listener of listeners) {
      const wrapped = listener as { listener?: unknown };
      if (wrapped.listener !== undefined) this.#emitter.removeListener(event, listener);
    }
    return listeners.length > 0;
  }
}
