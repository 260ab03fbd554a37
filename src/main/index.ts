/**
 * The Electron entry: starts the core in the main process and opens a window on the renderer,
 * which the core serves. The desktop conventions (one instance, power-save blocker while
 * recording, application menu, tray, a quit that asks while recording, a remembered window)
 * and the window's security (navigation lock, permissions, IPC checks) live in `./desktop`,
 * as modules that take the Electron objects they use so plain Node tests can drive them.
 */
import { join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  app,
  BrowserWindow,
  dialog,
  ipcMain,
  Menu,
  nativeImage,
  Notification,
  powerMonitor,
  powerSaveBlocker,
  safeStorage,
  screen,
  session,
  shell,
  Tray,
  type IpcMainEvent,
  type IpcMainInvokeEvent,
} from 'electron';
import { IPC, type DesktopCommand } from '../shared/bridge';
import { buildMenuTemplate } from './desktop/appMenu';
import { PowerSaveGuard } from './desktop/PowerSaveGuard';
import { QuitGuard } from './desktop/QuitGuard';
import { RecordingMonitor } from './desktop/RecordingMonitor';
import { stopStudio } from './desktop/shutdown';
import { claimSingleInstance, focusWindow } from './desktop/singleInstance';
import { StudioTray } from './desktop/StudioTray';
import type { DiskLevel } from './desktop/trayStatus';
import {
  developmentOptions,
  installPermissionHandlers,
  isStudioFrame,
  isStudioMainFrame,
  lockNavigation,
  originOf,
  type DevelopmentOptions,
} from './desktop/webSecurity';
import { loadWindowState, trackWindowState } from './desktop/windowState';
import { Studio } from './Studio';

const APP_NAME = 'Spool Studio';

let studio: Studio | null = null;
let operatorToken = '';
let mainWindow: BrowserWindow | null = null;
let dev: DevelopmentOptions | null = null;
/** The origin of the page the window shows: the only one trusted with IPC and permissions. */
let pageOrigin = '';
let monitor: RecordingMonitor | null = null;
let tray: StudioTray | null = null;
const disk: { level: DiskLevel | null; freeBytes: number | null } = { level: null, freeBytes: null };

/** A file of `resources/` (inside the app's folder, packaged or not). */
function resource(name: string): string {
  return join(app.getAppPath(), 'resources', name);
}

function fromStudioPage(event: IpcMainEvent | IpcMainInvokeEvent): boolean {
  return studio !== null && isStudioFrame(event.senderFrame, pageOrigin);
}

function sendCommand(command: DesktopCommand): void {
  if (mainWindow === null || mainWindow.isDestroyed()) return;
  focusWindow(mainWindow);
  mainWindow.webContents.send(IPC.command, command);
}

function openDataFolder(): void {
  if (studio !== null) void shell.openPath(studio.config.dataDir);
}

function installMenu(recording: boolean): void {
  Menu.setApplicationMenu(
    Menu.buildFromTemplate(
      buildMenuTemplate({
        platform: process.platform,
        appName: APP_NAME,
        development: dev?.devTools ?? false,
        recording,
        actions: { command: sendCommand, openDataFolder },
      }),
    ),
  );
}

function registerIpc(): void {
  ipcMain.on(IPC.bootstrap, (event) => {
    // The operator token goes to the studio's main frame only: never to an iframe or another site.
    event.returnValue =
      studio !== null && isStudioMainFrame(event.senderFrame, pageOrigin)
        ? { apiBase: studio.url, token: operatorToken }
        : null;
  });
  ipcMain.handle(IPC.pickFolder, async (event) => {
    if (!fromStudioPage(event)) throw new Error('not allowed');
    const window = BrowserWindow.fromWebContents(event.sender);
    const options = {
      properties: ['openDirectory', 'createDirectory'] as Array<'openDirectory' | 'createDirectory'>,
    };
    const result = window
      ? await dialog.showOpenDialog(window, options)
      : await dialog.showOpenDialog(options);
    return result.canceled ? null : (result.filePaths[0] ?? null);
  });
  ipcMain.handle(IPC.revealFile, (event, path: unknown) => {
    if (!fromStudioPage(event) || typeof path !== 'string' || studio === null) throw new Error('not allowed');
    const full = resolve(studio.config.dataDir, path);
    // Only files of the studio's data directory can be revealed.
    if (!full.startsWith(resolve(studio.config.dataDir) + sep))
      throw new Error('path is outside the data directory');
    shell.showItemInFolder(full);
  });
  ipcMain.handle(IPC.notify, (event, title: unknown, body: unknown) => {
    if (!fromStudioPage(event) || typeof title !== 'string' || typeof body !== 'string')
      throw new Error('not allowed');
    if (Notification.isSupported())
      new Notification({
        title: title.slice(0, 200),
        body: body.slice(0, 1000),
        icon: nativeImage.createFromPath(resource('icon.png')),
      }).show();
  });
}

async function openWindow(quitGuard: QuitGuard): Promise<void> {
  if (studio === null || dev === null) return;
  const stateFile = join(app.getPath('userData'), 'window-state.json');
  const state = loadWindowState(
    stateFile,
    screen.getAllDisplays().map((d) => d.workArea),
  );
  const window = new BrowserWindow({
    ...state,
    minWidth: 640,
    minHeight: 480,
    title: APP_NAME,
    icon: resource('icon.png'),
    show: false,
    webPreferences: {
      preload: fileURLToPath(new URL('../preload/index.cjs', import.meta.url)),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webviewTag: false,
      devTools: dev.devTools,
    },
  });
  mainWindow = window;
  if (state.maximized) window.maximize();
  window.once('ready-to-show', () => window.show());
  trackWindowState(window, stateFile);
  window.on('close', (event) => quitGuard.onWindowClose(event));
  // Windows: the user logs off or the system shuts down.
  window.on('session-end', () => void quitGuard.onSystemShutdown());
  window.on('closed', () => {
    if (mainWindow === window) mainWindow = null;
  });
  await window.loadURL(dev.pageUrl);
}

function startDesktopShell(quitGuard: QuitGuard): void {
  if (studio === null) return;
  const current = studio;
  monitor = new RecordingMonitor((listener) => {
    current.bus.on('event', listener);
    return () => current.bus.off('event', listener);
  });
  const power = new PowerSaveGuard(powerSaveBlocker);
  const image = (name: string) => nativeImage.createFromPath(resource(name));
  try {
    tray = new StudioTray(
      {
        appName: APP_NAME,
        create: (img) => new Tray(img as Electron.NativeImage),
        buildMenu: (template) => Menu.buildFromTemplate(template),
        images: { idle: image('tray.png'), recording: image('tray-recording.png') },
        showWindow: () => {
          if (mainWindow !== null) focusWindow(mainWindow);
          else void openWindow(quitGuard);
        },
        quit: () => app.quit(),
      },
      monitor.snapshot(),
    );
  } catch (error) {
    // Some Linux desktops have no tray: the app works without it.
    current.logger.warn({ err: error }, 'no tray icon');
  }
  let wasRecording = false;
  monitor.on('change', (snapshot) => {
    power.update(snapshot.recording);
    tray?.update(snapshot, disk);
    if (snapshot.recording !== wasRecording) installMenu(snapshot.recording);
    wasRecording = snapshot.recording;
  });
  current.bus.on('event', (event) => {
    if (event.type !== 'studio.health') return;
    const data = event.data as { freeBytes: number; level?: DiskLevel };
    disk.freeBytes = data.freeBytes;
    disk.level = data.level ?? null;
    if (monitor !== null) tray?.update(monitor.snapshot(), disk);
  });
}

function main(): void {
  // The app keeps its package name (not APP_NAME): the name decides the user-data folder, which
  // holds the studio's data, and renaming it would strand existing recordings.
  if (!claimSingleInstance(app, () => mainWindow !== null && focusWindow(mainWindow))) return;

  const quitGuard = new QuitGuard({
    app,
    ask: (options) =>
      mainWindow !== null && !mainWindow.isDestroyed()
        ? dialog.showMessageBox(mainWindow, options)
        : dialog.showMessageBox(options),
    isRecording: () => monitor?.recording ?? false,
    shutdown: async () => {
      tray?.close();
      await stopStudio(studio);
    },
    onError: (error) => studio?.logger.error({ err: error }, 'quitting failed'),
  });

  app.on('web-contents-created', (_event, contents) => {
    // No <webview>, and no window of the app leaves the studio's pages.
    contents.on('will-attach-webview', (event) => event.preventDefault());
    if (pageOrigin !== '') lockNavigation(contents, pageOrigin, (url) => void shell.openExternal(url));
  });

  app.whenReady().then(async () => {
    try {
      studio = await Studio.start({
        dataDir: process.env.SPOOL_DATA_DIR || app.getPath('userData'),
        // Target credentials and webhook secrets are sealed by the OS keychain when it is available.
        ...(safeStorage.isEncryptionAvailable()
          ? {
              encryptor: {
                encrypt: (plaintext: string) => safeStorage.encryptString(plaintext),
                decrypt: (ciphertext: Buffer) => safeStorage.decryptString(ciphertext),
              },
            }
          : {}),
      });
      operatorToken = (await studio.auth.issueOperatorToken(30 * 24 * 3600)).token;
    } catch (error) {
      dialog.showErrorBox(`${APP_NAME} could not start`, (error as Error).message);
      app.exit(1);
      return;
    }
    dev = developmentOptions({ isPackaged: app.isPackaged, env: process.env, studioUrl: studio.url });
    pageOrigin = originOf(dev.pageUrl) ?? '';
    installPermissionHandlers(session.defaultSession, pageOrigin);
    registerIpc();
    installMenu(false);
    startDesktopShell(quitGuard);
    // macOS and Linux: the system shuts down or the user logs out.
    powerMonitor.on(
      'shutdown',
      ((event?: { preventDefault(): void }) => void quitGuard.onSystemShutdown(event)) as () => void,
    );
    await openWindow(quitGuard);
    app.on('activate', () => {
      if (BrowserWindow.getAllWindows().length === 0) void openWindow(quitGuard);
    });
  });

  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });
}

main();
