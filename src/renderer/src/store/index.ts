import { create, type StateCreator } from 'zustand';
import type { Health, LoginResponse, StudioInfo } from '../../../shared/api';
import type { SpoolBridge } from '../../../shared/bridge';
import type { AnyStudioEvent } from '../../../shared/events';
import { ApiClient, ApiError } from '../api/client';
import { EventSocket, type SocketState } from '../api/EventSocket';
import { clearPlayerCredentials } from '../api/player';

declare global {
  interface Window {
    spool?: SpoolBridge;
  }
}

const TOKEN_KEY = 'spool.operatorToken';

export interface AuthSlice {
  api: ApiClient;
  /** True inside Electron, where the preload hands over the token. */
  desktop: boolean;
  loginError: string | null;
  login(password: string): Promise<void>;
  logout(): void;
}

export interface StatusSlice {
  health: Health | null;
  info: StudioInfo | null;
  statusError: string | null;
  socketState: SocketState;
  refreshStatus(): Promise<void>;
}

export interface EventsSlice {
  /** The newest events, newest last (a short log for the UI). */
  recentEvents: AnyStudioEvent[];
  handleEvent(event: AnyStudioEvent): void;
}

export type StudioState = AuthSlice & StatusSlice & EventsSlice;

function initialApi(): { api: ApiClient; desktop: boolean } {
  const bridge = typeof window !== 'undefined' ? window.spool : undefined;
  if (bridge) return { api: new ApiClient(bridge.apiBase, bridge.token), desktop: true };
  const stored = typeof sessionStorage !== 'undefined' ? sessionStorage.getItem(TOKEN_KEY) : null;
  return { api: new ApiClient(window.location.origin, stored), desktop: false };
}

const authSlice: StateCreator<StudioState, [], [], AuthSlice> = (set, get) => ({
  ...initialApi(),
  loginError: null,
  async login(password) {
    try {
      const result = await get().api.withToken(null).post<LoginResponse>('/api/auth/login', { password });
      sessionStorage.setItem(TOKEN_KEY, result.token);
      set({ api: get().api.withToken(result.token), loginError: null });
    } catch (error) {
      set({ loginError: error instanceof ApiError ? error.message : String(error) });
    }
  },
  logout() {
    sessionStorage.removeItem(TOKEN_KEY);
    void clearPlayerCredentials();
    set({ api: get().api.withToken(null) });
  },
});

const statusSlice: StateCreator<StudioState, [], [], StatusSlice> = (set, get) => ({
  health: null,
  info: null,
  statusError: null,
  socketState: 'closed',
  async refreshStatus() {
    try {
      const [health, info] = await Promise.all([
        get().api.get<Health>('/health'),
        get().api.get<StudioInfo>('/api/studio'),
      ]);
      set({ health, info, statusError: null });
    } catch (error) {
      if (error instanceof ApiError && (error.status === 401 || error.status === 403)) get().logout();
      set({ statusError: (error as Error).message });
    }
  },
});

const eventListeners = new Set<(event: AnyStudioEvent) => void>();

/** Hears every event from the socket (screens refresh their data on the ones they show). */
export function onStudioEvent(listener: (event: AnyStudioEvent) => void): () => void {
  eventListeners.add(listener);
  return () => eventListeners.delete(listener);
}

const eventsSlice: StateCreator<StudioState, [], [], EventsSlice> = (set, get) => ({
  recentEvents: [],
  handleEvent(event) {
    for (const listener of eventListeners) listener(event);
    set({ recentEvents: [...get().recentEvents.slice(-99), event] });
    if (event.type === 'studio.disk') {
      // The level changed: every screen's banner follows it without a reload.
      const { health, info } = get();
      const { level, freeBytes, warnBytes, floorBytes, detail } = event.data;
      set({
        ...(health ? { health: { ...health, disk: { ...health.disk, level, freeBytes } } } : {}),
        ...(info
          ? {
              info: {
                ...info,
                disk: {
                  ...info.disk,
                  level,
                  freeBytes,
                  warnBytes,
                  floorBytes,
                  ...(detail !== undefined ? { detail } : { detail: undefined }),
                },
              },
            }
          : {}),
      });
    }
    if (event.type === 'studio.health') {
      const health = get().health;
      if (health)
        set({
          health: {
            ...health,
            uptimeSec: event.data.uptimeSec,
            disk: { ...health.disk, freeBytes: event.data.freeBytes },
          },
        });
    }
  },
});

/** The renderer's one store, built from typed slices. */
export const useStudio = create<StudioState>()((...a) => ({
  ...authSlice(...a),
  ...statusSlice(...a),
  ...eventsSlice(...a),
}));

let socket: EventSocket | null = null;

/** Opens the event socket for the current token (and closes the old one). */
export function connectEvents(): () => void {
  const { api } = useStudio.getState();
  socket?.close();
  if (api.token === null) return () => {};
  const current = new EventSocket(
    api.base,
    api.token,
    (event) => useStudio.getState().handleEvent(event),
    (socketState) => useStudio.setState({ socketState }),
  );
  socket = current;
  return () => current.close();
}
