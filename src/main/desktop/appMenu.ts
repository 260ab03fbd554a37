import type { MenuItemConstructorOptions } from 'electron';
import type { DesktopCommand } from '../../shared/bridge';

/** What the menu's Studio items do. */
export interface MenuActions {
  /** Sends a command to the page (new room, start or stop recording in the open room). */
  command(command: DesktopCommand): void;
  openDataFolder(): void;
}

export interface MenuOptions {
  platform: NodeJS.Platform;
  appName: string;
  /** Development builds get Reload and DevTools in the View menu. */
  development: boolean;
  /** Whether anything records now (enables Stop recording). */
  recording: boolean;
  actions: MenuActions;
}

/**
 * The application menu: the platform's standard roles (app menu on macOS, Edit with
 * copy/paste, View, Window, Help) and a Studio menu with the studio's own items. The recording
 * shortcuts are the page's (Ctrl+Shift+R / Ctrl+Shift+S): the menu shows them without
 * capturing the keys, so the page keeps handling them as it does in a browser.
 */
export function buildMenuTemplate(options: MenuOptions): MenuItemConstructorOptions[] {
  const mac = options.platform === 'darwin';
  const { actions } = options;
  const studio: MenuItemConstructorOptions = {
    label: mac ? 'Studio' : '&Studio',
    submenu: [
      {
        id: 'new-room',
        label: 'New Room',
        accelerator: 'CmdOrCtrl+N',
        click: () => actions.command('new-room'),
      },
      { type: 'separator' },
      {
        id: 'start-recording',
        label: 'Start Recording',
        accelerator: 'Ctrl+Shift+R',
        registerAccelerator: false,
        click: () => actions.command('start-recording'),
      },
      {
        id: 'stop-recording',
        label: 'Stop Recording',
        accelerator: 'Ctrl+Shift+S',
        registerAccelerator: false,
        enabled: options.recording,
        click: () => actions.command('stop-recording'),
      },
      { type: 'separator' },
      { id: 'open-data-folder', label: 'Open Data Folder', click: () => actions.openDataFolder() },
      ...(mac ? [] : [{ type: 'separator' } as const, { role: 'quit' } as const]),
    ],
  };
  const view: MenuItemConstructorOptions = {
    label: mac ? 'View' : '&View',
    submenu: [
      ...(options.development
        ? [{ role: 'reload' } as const, { role: 'forceReload' } as const, { role: 'toggleDevTools' } as const]
        : []),
      { type: 'separator' },
      { role: 'resetZoom' },
      { role: 'zoomIn' },
      { role: 'zoomOut' },
      { type: 'separator' },
      { role: 'togglefullscreen' },
    ],
  };
  return [
    ...(mac ? [{ role: 'appMenu', label: options.appName } as const] : []),
    studio,
    { role: 'editMenu' },
    view,
    { role: 'windowMenu' },
    {
      role: 'help',
      submenu: [
        {
          id: 'open-data-folder-help',
          label: 'Show Recordings Folder',
          click: () => actions.openDataFolder(),
        },
      ],
    },
  ];
}
