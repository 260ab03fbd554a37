/**
 * The Electron entry: starts the core in the main process and opens a window on the renderer,
 * which the core serves. Every IPC call is checked: it must come from the studio's own page and
 * carry arguments of the right shape.
 */
import { resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  app,
  BrowserWindow,
  dialog,
  ipcMain,
  Notification,
  safeStorage,
  shell,
  type IpcMainEvent,
  type IpcMainInvokeEvent,
} from 'electron';
import { IPC } from '../shared/bridge';
import { Studio } from './Studio';

let studio: Studio | null = null;
let operatorToken = '';

function fromStudioPage(event: IpcMainEvent | IpcMainInvokeEvent): boolean {
  const url = event.senderFrame?.url ?? '';
  return studio !== null && (url === studio.url || url.startsWith(`${studio.url}/`));
}

function registerIpc(): void {
  ipcMain.on(IPC.bootstrap, (event) => {
    event.returnValue =
      fromStudioPage(event) && studio ? { apiBase: studio.url, token: operatorToken } : null;
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
      new Notification({ title: title.slice(0, 200), body: body.slice(0, 1000) }).show();
  });
}

async function openWindow(): Promise<void> {
  if (studio === null) return;
  const window = new BrowserWindow({
    width: 1280,
    height: 800,
    title: 'Spool Studio',
    webPreferences: {
      preload: fileURLToPath(new URL('../preload/index.cjs', import.meta.url)),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
    },
  });
  // Links to other sites open in the user's browser, never inside the app.
  window.webContents.setWindowOpenHandler(({ url }) => {
    if (/^https?:/.test(url)) void shell.openExternal(url);
    return { action: 'deny' };
  });
  await window.loadURL(process.env.ELECTRON_RENDERER_URL ?? studio.url);
}

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
    dialog.showErrorBox('Spool Studio could not start', (error as Error).message);
    app.exit(1);
    return;
  }
  registerIpc();
  await openWindow();
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) void openWindow();
  });
});

app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit();
});

let quitting = false;
app.on('before-quit', (event) => {
  if (quitting || studio === null) return;
  // Let recordings finalize and queues persist before the process ends.
  event.preventDefault();
  quitting = true;
  void studio.close().finally(() => app.quit());
});
