/** What the Electron preload exposes to the renderer as `window.spool`. Absent in a browser. */
export interface SpoolBridge {
  /** Base URL of the core's HTTP API. */
  apiBase: string;
  /** Operator bearer token for the API and the event socket. */
  token: string;
  /** Opens a native folder picker; resolves with the folder or null when cancelled. */
  pickFolder(): Promise<string | null>;
  /** Shows a file of the data directory in the OS file manager. */
  revealFile(path: string): Promise<void>;
  /** Shows a native notification. */
  notify(title: string, body: string): Promise<void>;
  /** Calls `listener` with each command chosen in the application menu; returns its removal. */
  onCommand(listener: (command: DesktopCommand) => void): () => void;
}

/** Commands of the application menu that the page carries out (it knows the open room). */
export const DESKTOP_COMMANDS = ['new-room', 'start-recording', 'stop-recording'] as const;
export type DesktopCommand = (typeof DESKTOP_COMMANDS)[number];

/** IPC channel names between preload and main. */
export const IPC = {
  bootstrap: 'spool:bootstrap',
  pickFolder: 'spool:pick-folder',
  revealFile: 'spool:reveal-file',
  notify: 'spool:notify',
  /** main → page: a menu command ({@link DesktopCommand}). */
  command: 'spool:command',
} as const;
