import { contextBridge, ipcRenderer } from 'electron';
import { DESKTOP_COMMANDS, IPC, type DesktopCommand, type SpoolBridge } from '../shared/bridge';

// Only these values and functions reach the page; ipcRenderer itself is never exposed.
const boot = ipcRenderer.sendSync(IPC.bootstrap) as { apiBase: string; token: string } | null;

const bridge: SpoolBridge = {
  apiBase: boot?.apiBase ?? '',
  token: boot?.token ?? '',
  pickFolder: () => ipcRenderer.invoke(IPC.pickFolder) as Promise<string | null>,
  revealFile: (path: string) => ipcRenderer.invoke(IPC.revealFile, String(path)) as Promise<void>,
  notify: (title: string, body: string) =>
    ipcRenderer.invoke(IPC.notify, String(title), String(body)) as Promise<void>,
  onCommand: (listener: (command: DesktopCommand) => void) => {
    const handler = (_event: unknown, command: unknown) => {
      if ((DESKTOP_COMMANDS as readonly unknown[]).includes(command)) listener(command as DesktopCommand);
    };
    ipcRenderer.on(IPC.command, handler);
    return () => {
      ipcRenderer.off(IPC.command, handler);
    };
  },
};

// A page that was refused the bootstrap (not the studio's main frame) gets no bridge at all.
if (boot !== null) contextBridge.exposeInMainWorld('spool', bridge);
