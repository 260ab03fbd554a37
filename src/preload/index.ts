import { contextBridge, ipcRenderer } from 'electron';
import { IPC, type SpoolBridge } from '../shared/bridge';

// Only these values and functions reach the page; ipcRenderer itself is never exposed.
const boot = ipcRenderer.sendSync(IPC.bootstrap) as { apiBase: string; token: string };

const bridge: SpoolBridge = {
  apiBase: boot.apiBase,
  token: boot.token,
  pickFolder: () => ipcRenderer.invoke(IPC.pickFolder) as Promise<string | null>,
  revealFile: (path: string) => ipcRenderer.invoke(IPC.revealFile, String(path)) as Promise<void>,
  notify: (title: string, body: string) =>
    ipcRenderer.invoke(IPC.notify, String(title), String(body)) as Promise<void>,
};

contextBridge.exposeInMainWorld('spool', bridge);
