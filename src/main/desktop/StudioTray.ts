import type { MenuItemConstructorOptions } from 'electron';
import type { RecordingSnapshot } from './RecordingMonitor';
import { trayTooltip, type DiskLevel } from './trayStatus';

/** The part of Electron's `Tray` the studio uses. */
export interface TrayLike {
  setToolTip(text: string): void;
  setImage(image: unknown): void;
  setContextMenu(menu: unknown): void;
  on(event: 'click', listener: () => void): unknown;
  isDestroyed(): boolean;
  destroy(): void;
}

export interface StudioTrayOptions {
  appName: string;
  /** Creates the tray with its first image. */
  create(image: unknown): TrayLike;
  /** Builds a native menu from a template (`Menu.buildFromTemplate`). */
  buildMenu(template: MenuItemConstructorOptions[]): unknown;
  images: { idle: unknown; recording: unknown };
  showWindow(): void;
  quit(): void;
}

/**
 * The tray indicator: its icon turns red while anything records, its tooltip says for how long,
 * how big and how much disk is left, and its menu shows the window or quits.
 */
export class StudioTray {
  readonly #options: StudioTrayOptions;
  readonly #tray: TrayLike;
  #recording = false;
  #menuBuilt = false;
  #tooltip = '';
  #closed = false;

  constructor(options: StudioTrayOptions, snapshot: RecordingSnapshot) {
    this.#options = options;
    this.#tray = options.create(options.images.idle);
    this.#tray.on('click', () => options.showWindow());
    this.update(snapshot, { level: null, freeBytes: null });
  }

  /** Whether the tray shows the recording state now. */
  get recording(): boolean {
    return this.#recording;
  }

  get tooltip(): string {
    return this.#tooltip;
  }

  update(snapshot: RecordingSnapshot, disk: { level: DiskLevel | null; freeBytes: number | null }): void {
    if (this.#closed || this.#tray.isDestroyed()) return;
    const tooltip = trayTooltip(this.#options.appName, snapshot, disk);
    if (tooltip !== this.#tooltip) {
      this.#tooltip = tooltip;
      this.#tray.setToolTip(tooltip);
    }
    if (snapshot.recording === this.#recording && this.#menuBuilt) return;
    this.#recording = snapshot.recording;
    this.#tray.setImage(snapshot.recording ? this.#options.images.recording : this.#options.images.idle);
    this.#tray.setContextMenu(
      this.#options.buildMenu([
        { label: snapshot.recording ? 'Recording…' : 'Not recording', enabled: false },
        { type: 'separator' },
        { label: `Show ${this.#options.appName}`, click: () => this.#options.showWindow() },
        { label: 'Quit', click: () => this.#options.quit() },
      ]),
    );
    this.#menuBuilt = true;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (!this.#tray.isDestroyed()) this.#tray.destroy();
  }
}
