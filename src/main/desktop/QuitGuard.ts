/** A cancellable event (Electron's `before-quit`, `close`, powerMonitor `shutdown`). */
export interface PreventableEvent {
  preventDefault(): void;
}

/** The part of Electron's `app` the guard uses. */
export interface QuitApp {
  on(event: 'before-quit', listener: (event: PreventableEvent) => void): unknown;
  quit(): void;
}

/** Asks the user; resolves with the index of the chosen button. */
export type AskQuit = (options: {
  type: 'warning';
  title: string;
  message: string;
  detail: string;
  buttons: string[];
  defaultId: number;
  cancelId: number;
  noLink: boolean;
}) => Promise<{ response: number }>;

export interface QuitGuardOptions {
  app: QuitApp;
  ask: AskQuit;
  /** Whether any archive records now. */
  isRecording(): boolean;
  /** Stops every recording, finalizes the files and closes the studio (the one shutdown path). */
  shutdown(): Promise<void>;
  /** Called when a shutdown step fails (it is logged; the app still quits). */
  onError?(error: unknown): void;
}

export type QuitState = 'running' | 'asking' | 'closing' | 'closed';

/**
 * The app's way out. Quitting while recording asks first (stop and quit, or cancel); quitting
 * otherwise, or when the operating system shuts down or logs out, stops the recordings and
 * finalizes their files before the process ends — an OS shutdown is never held up by a question.
 */
export class QuitGuard {
  readonly #options: QuitGuardOptions;
  #state: QuitState = 'running';
  #closing: Promise<void> | null = null;

  constructor(options: QuitGuardOptions) {
    this.#options = options;
    options.app.on('before-quit', (event) => this.#beforeQuit(event));
  }

  get state(): QuitState {
    return this.#state;
  }

  /** The window's `close`: while recording, closing the window is a quit that asks first. */
  onWindowClose(event: PreventableEvent): void {
    if (this.#state === 'closed' || this.#state === 'closing') return;
    if (!this.#options.isRecording()) return;
    event.preventDefault();
    this.#options.app.quit();
  }

  /**
   * The system shuts down or the user logs out (powerMonitor `shutdown`, the window's
   * `session-end`): stop and finalize now, without asking. The event is held (where the platform
   * lets it) until the files are closed.
   */
  onSystemShutdown(event?: Partial<PreventableEvent>): Promise<void> {
    event?.preventDefault?.();
    return this.#closeAndQuit();
  }

  #beforeQuit(event: PreventableEvent): void {
    if (this.#state === 'closed') return;
    event.preventDefault();
    if (this.#state === 'closing' || this.#state === 'asking') return;
    if (!this.#options.isRecording()) {
      void this.#closeAndQuit();
      return;
    }
    this.#state = 'asking';
    this.#options
      .ask({
        type: 'warning',
        title: 'Recording in progress',
        message: 'A recording is in progress. Stop it and quit?',
        detail: 'Stopping finalizes the files recorded so far; nothing recorded is lost.',
        buttons: ['Stop Recording and Quit', 'Cancel'],
        defaultId: 1,
        cancelId: 1,
        noLink: true,
      })
      .then(
        ({ response }) => {
          // A shutdown that began while the question was open has already taken over.
          if (this.#state !== 'asking') return;
          if (response === 0) void this.#closeAndQuit();
          else this.#state = 'running';
        },
        (error: unknown) => {
          this.#options.onError?.(error);
          if (this.#state === 'asking') this.#state = 'running';
        },
      );
  }

  #closeAndQuit(): Promise<void> {
    this.#closing ??= (async () => {
      this.#state = 'closing';
      try {
        await this.#options.shutdown();
      } catch (error) {
        this.#options.onError?.(error);
      }
      this.#state = 'closed';
      this.#options.app.quit();
    })();
    return this.#closing;
  }
}
