/**
 * One fake `electron` for main-process unit tests (the Electron binary cannot run here). It
 * models the objects the desktop modules use — app, windows, web contents, frames, session
 * permissions, power-save blocker, power monitor, dialogs, menus, tray — with the same method
 * names and event shapes as Electron, plus helpers that play the part of the browser or the OS
 * (navigate, request a permission, launch a second instance, shut the system down).
 */
import { EventEmitter } from 'node:events';

/** A cancellable event, as Electron passes to `before-quit`, `will-navigate`, `close`… */
export class FakeEvent {
  defaultPrevented = false;
  constructor(readonly url = '') {}
  preventDefault(): void {
    this.defaultPrevented = true;
  }
}

/** Holds the single-instance lock across the "processes" (FakeApp instances) of one test. */
export class FakeLockRegistry {
  holder: FakeApp | null = null;
}

export class FakeApp extends EventEmitter {
  isPackaged = false;
  /** How many times `quit()` was called, and whether a call went through (not prevented). */
  quitCalls = 0;
  quitted = false;
  name = 'Electron';
  readonly #locks: FakeLockRegistry;
  readonly #paths: Record<string, string>;

  constructor(locks = new FakeLockRegistry(), paths: Record<string, string> = {}) {
    super();
    this.#locks = locks;
    this.#paths = paths;
  }

  requestSingleInstanceLock(): boolean {
    const holder = this.#locks.holder;
    if (holder === null || holder.quitted) {
      this.#locks.holder = this;
      return true;
    }
    // As in Electron, the first instance hears about the second one.
    holder.emit('second-instance', new FakeEvent(), ['spool-studio'], '/', {});
    return false;
  }

  quit(): void {
    this.quitCalls += 1;
    const event = new FakeEvent();
    this.emit('before-quit', event);
    if (!event.defaultPrevented) {
      this.quitted = true;
      this.emit('will-quit', new FakeEvent());
    }
  }

  exit(): void {
    this.quitted = true;
  }

  setName(name: string): void {
    this.name = name;
  }

  getPath(name: string): string {
    const path = this.#paths[name];
    if (path === undefined) throw new Error(`fake app has no path ${name}`);
    return path;
  }
}

/** A frame of a page (`WebFrameMain`): its URL and its parent (null for the main frame). */
export class FakeFrame {
  constructor(
    readonly url: string,
    readonly parent: FakeFrame | null = null,
  ) {}

  /** A child frame (an iframe) of this one. */
  child(url: string): FakeFrame {
    return new FakeFrame(url, this);
  }
}

export class FakeWebContents extends EventEmitter {
  windowOpenHandler: ((details: { url: string }) => { action: 'deny' | 'allow' }) | null = null;
  /** Messages sent to the page: `[channel, ...args]`. */
  readonly sent: unknown[][] = [];
  mainFrame: FakeFrame;

  constructor(url = 'about:blank') {
    super();
    this.mainFrame = new FakeFrame(url);
  }

  setWindowOpenHandler(handler: (details: { url: string }) => { action: 'deny' | 'allow' }): void {
    this.windowOpenHandler = handler;
  }

  send(channel: string, ...args: unknown[]): void {
    this.sent.push([channel, ...args]);
  }

  /** The page navigates (a link, `location = …`): true when the navigation goes ahead. */
  navigate(url: string): boolean {
    const event = new FakeEvent(url);
    this.emit('will-navigate', event, url, false, true);
    return !event.defaultPrevented;
  }

  /** A server redirect during a navigation: true when it goes ahead. */
  redirect(url: string): boolean {
    const event = new FakeEvent(url);
    this.emit('will-redirect', event, url, false, true);
    return !event.defaultPrevented;
  }

  /** The page calls `window.open(url)` or a link has `target=_blank`. */
  openWindow(url: string): 'deny' | 'allow' {
    if (this.windowOpenHandler === null) return 'allow';
    return this.windowOpenHandler({ url }).action;
  }
}

type RequestHandler = (
  contents: unknown,
  permission: string,
  callback: (granted: boolean) => void,
  details: { requestingUrl?: string; securityOrigin?: string; isMainFrame?: boolean; mediaTypes?: string[] },
) => void;
type CheckHandler = (
  contents: unknown,
  permission: string,
  requestingOrigin: string,
  details: { requestingUrl?: string; securityOrigin?: string; isMainFrame?: boolean; mediaType?: string },
) => boolean;

export class FakeSession {
  requestHandler: RequestHandler | null = null;
  checkHandler: CheckHandler | null = null;

  setPermissionRequestHandler(handler: RequestHandler | null): void {
    this.requestHandler = handler;
  }

  setPermissionCheckHandler(handler: CheckHandler | null): void {
    this.checkHandler = handler;
  }

  /**
   * A page asks for a permission. Without a handler Electron grants everything, as here; with
   * one the answer is what it calls back with (a handler that never answers fails the test).
   */
  request(
    permission: string,
    details: { requestingUrl: string; securityOrigin?: string; isMainFrame?: boolean; mediaTypes?: string[] },
  ): Promise<boolean> {
    const handler = this.requestHandler;
    if (handler === null) return Promise.resolve(true);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer to the ${permission} request`)), 1000);
      handler(
        new FakeWebContents(details.requestingUrl),
        permission,
        (granted) => {
          clearTimeout(timer);
          resolve(granted);
        },
        { isMainFrame: true, ...details },
      );
    });
  }

  /** A page checks a permission (`navigator.permissions.query`, enumerateDevices labels…). */
  check(
    permission: string,
    requestingOrigin: string,
    details: {
      requestingUrl?: string;
      securityOrigin?: string;
      isMainFrame?: boolean;
      mediaType?: string;
    } = {},
  ): boolean {
    if (this.checkHandler === null) return true;
    return this.checkHandler(null, permission, requestingOrigin, { isMainFrame: true, ...details });
  }
}

export interface Bounds {
  x: number;
  y: number;
  width: number;
  height: number;
}

export class FakeBrowserWindow extends EventEmitter {
  readonly webContents: FakeWebContents;
  bounds: Bounds;
  minimized = false;
  maximized = false;
  fullScreen = false;
  visible = false;
  focused = false;
  destroyed = false;

  constructor(options: Partial<Bounds> = {}, url = 'about:blank') {
    super();
    this.bounds = {
      x: options.x ?? 0,
      y: options.y ?? 0,
      width: options.width ?? 800,
      height: options.height ?? 600,
    };
    this.webContents = new FakeWebContents(url);
  }

  isDestroyed(): boolean {
    return this.destroyed;
  }
  isMinimized(): boolean {
    return this.minimized;
  }
  isMaximized(): boolean {
    return this.maximized;
  }
  isFullScreen(): boolean {
    return this.fullScreen;
  }
  isVisible(): boolean {
    return this.visible;
  }
  restore(): void {
    this.minimized = false;
  }
  minimize(): void {
    this.minimized = true;
    this.focused = false;
  }
  show(): void {
    this.visible = true;
  }
  hide(): void {
    this.visible = false;
  }
  focus(): void {
    this.focused = true;
  }
  getNormalBounds(): Bounds {
    return { ...this.bounds };
  }
  setBounds(bounds: Partial<Bounds>): void {
    this.bounds = { ...this.bounds, ...bounds };
    this.emit(bounds.width !== undefined || bounds.height !== undefined ? 'resize' : 'move');
  }
  /** The user closes the window: true when it closes (not prevented). */
  close(): boolean {
    const event = new FakeEvent();
    this.emit('close', event);
    if (event.defaultPrevented) return false;
    this.destroyed = true;
    this.emit('closed');
    return true;
  }
}

export class FakePowerSaveBlocker {
  #next = 1;
  /** Blockers now on, by id, with their type. */
  readonly active = new Map<number, string>();
  /** Every start, in order. */
  readonly started: string[] = [];

  start(type: 'prevent-app-suspension' | 'prevent-display-sleep'): number {
    const id = this.#next++;
    this.active.set(id, type);
    this.started.push(type);
    return id;
  }
  stop(id: number): void {
    this.active.delete(id);
  }
  isStarted(id: number): boolean {
    return this.active.has(id);
  }
}

/** `powerMonitor`: the test plays the OS with `shutdown()`. */
export class FakePowerMonitor extends EventEmitter {
  /** The OS is about to shut down; resolves with whether the app asked to delay it. */
  shutdown(): boolean {
    const event = new FakeEvent();
    this.emit('shutdown', event);
    return event.defaultPrevented;
  }
}

export interface MessageBoxOptions {
  message: string;
  buttons: string[];
  defaultId?: number;
  cancelId?: number;
  [key: string]: unknown;
}

/** `dialog.showMessageBox`: each question waits until the test answers it. */
export class FakeDialog {
  readonly questions: Array<{ options: MessageBoxOptions; answer(response: number): void }> = [];

  showMessageBox(...args: unknown[]): Promise<{ response: number; checkboxChecked: boolean }> {
    const options = args[args.length - 1] as MessageBoxOptions;
    return new Promise((resolve) => {
      this.questions.push({ options, answer: (response) => resolve({ response, checkboxChecked: false }) });
    });
  }

  /** Answers the newest question with the button labelled `label`. */
  answer(label: string): void {
    const question = this.questions.at(-1);
    if (question === undefined) throw new Error('no question was asked');
    const index = question.options.buttons.indexOf(label);
    if (index < 0) throw new Error(`no button "${label}" in ${JSON.stringify(question.options.buttons)}`);
    question.answer(index);
  }
}

/** A built menu: the template it was built from. */
export class FakeMenu {
  static applicationMenu: FakeMenu | null = null;
  constructor(readonly template: unknown[]) {}
  static buildFromTemplate(template: unknown[]): FakeMenu {
    return new FakeMenu(template);
  }
  static setApplicationMenu(menu: FakeMenu | null): void {
    FakeMenu.applicationMenu = menu;
  }
}

export class FakeTray extends EventEmitter {
  tooltip = '';
  image: unknown;
  menu: unknown = null;
  destroyed = false;

  constructor(image: unknown) {
    super();
    this.image = image;
  }
  setToolTip(text: string): void {
    this.tooltip = text;
  }
  setImage(image: unknown): void {
    this.image = image;
  }
  setContextMenu(menu: unknown): void {
    this.menu = menu;
  }
  isDestroyed(): boolean {
    return this.destroyed;
  }
  destroy(): void {
    this.destroyed = true;
  }
}

/** The fake module: the same names as `import { … } from 'electron'`. */
export interface FakeElectron {
  app: FakeApp;
  session: { defaultSession: FakeSession };
  powerSaveBlocker: FakePowerSaveBlocker;
  powerMonitor: FakePowerMonitor;
  dialog: FakeDialog;
  Menu: typeof FakeMenu;
  Tray: typeof FakeTray;
  BrowserWindow: typeof FakeBrowserWindow;
  shell: {
    opened: string[];
    openedExternal: string[];
    openPath(path: string): Promise<string>;
    openExternal(url: string): Promise<void>;
  };
}

/** A fresh fake `electron`; pass a shared lock registry to model two launches of the app. */
export function createFakeElectron(
  options: { locks?: FakeLockRegistry; paths?: Record<string, string> } = {},
): FakeElectron {
  FakeMenu.applicationMenu = null;
  const shell = {
    opened: [] as string[],
    openedExternal: [] as string[],
    openPath(path: string) {
      shell.opened.push(path);
      return Promise.resolve('');
    },
    openExternal(url: string) {
      shell.openedExternal.push(url);
      return Promise.resolve();
    },
  };
  return {
    app: new FakeApp(options.locks, options.paths),
    session: { defaultSession: new FakeSession() },
    powerSaveBlocker: new FakePowerSaveBlocker(),
    powerMonitor: new FakePowerMonitor(),
    dialog: new FakeDialog(),
    Menu: FakeMenu,
    Tray: FakeTray,
    BrowserWindow: FakeBrowserWindow,
    shell,
  };
}
