/**
 * What the app's window may do: navigate only inside the studio, use the camera, microphone and
 * screen only for the studio's own page, and hand the operator token only to the studio's main
 * frame. Pure functions over a few Electron objects, so plain Node tests can drive them.
 */

/** The permissions the studio page may be granted; every other one is denied. */
const STUDIO_PERMISSIONS: ReadonlySet<string> = new Set([
  // Camera and microphone (getUserMedia) and screen capture (getDisplayMedia).
  'media',
  'display-capture',
  // The join link's copy button (navigator.clipboard.writeText); reading is never granted.
  'clipboard-sanitized-write',
  // The player's full-screen button.
  'fullscreen',
]);

/** The origin (`scheme://host:port`) of a URL, or null for one that does not parse or is opaque. */
export function originOf(url: string | undefined | null): string | null {
  if (!url) return null;
  try {
    const origin = new URL(url).origin;
    return origin === 'null' ? null : origin;
  } catch {
    return null;
  }
}

/** Whether `url` is a page of the studio (same scheme, host and port as `studioOrigin`). */
export function isStudioUrl(url: string | undefined | null, studioOrigin: string): boolean {
  return originOf(url) === studioOrigin;
}

/** Whether a permission may be granted to a frame at `url`. */
export function permissionAllowed(
  permission: string,
  url: string | undefined,
  studioOrigin: string,
): boolean {
  return STUDIO_PERMISSIONS.has(permission) && isStudioUrl(url, studioOrigin);
}

/** The navigation event's shape (Electron passes an `Event<{ url }>`). */
interface NavigationEvent {
  url: string;
  preventDefault(): void;
}

/** The part of `WebContents` the navigation lock needs. */
export interface NavigableContents {
  on(event: 'will-navigate' | 'will-redirect', listener: (event: NavigationEvent) => void): unknown;
  setWindowOpenHandler(handler: (details: { url: string }) => { action: 'deny' }): void;
}

/**
 * Keeps the window inside the studio: a navigation or redirect to another origin is cancelled,
 * and a link that would open a window opens in the user's browser (http/https only) instead.
 */
export function lockNavigation(
  contents: NavigableContents,
  studioOrigin: string,
  openExternal: (url: string) => void,
): void {
  const guard = (event: NavigationEvent) => {
    if (!isStudioUrl(event.url, studioOrigin)) event.preventDefault();
  };
  contents.on('will-navigate', guard);
  contents.on('will-redirect', guard);
  contents.setWindowOpenHandler(({ url }) => {
    if (/^https?:\/\//i.test(url) && !isStudioUrl(url, studioOrigin)) openExternal(url);
    return { action: 'deny' };
  });
}

/** The part of Electron's `Session` the permission handlers need. */
export interface PermissionSession {
  setPermissionRequestHandler(
    handler: (
      contents: unknown,
      permission: string,
      callback: (granted: boolean) => void,
      details: { requestingUrl?: string; securityOrigin?: string },
    ) => void,
  ): void;
  setPermissionCheckHandler(
    handler: (
      contents: unknown,
      permission: string,
      requestingOrigin: string,
      details: { requestingUrl?: string; securityOrigin?: string },
    ) => boolean,
  ): void;
}

/**
 * Grants the camera, microphone, screen capture (and the clipboard write and full screen the
 * UI's buttons use) to the studio's page only; denies everything else, to everyone.
 */
export function installPermissionHandlers(session: PermissionSession, studioOrigin: string): void {
  session.setPermissionRequestHandler((_contents, permission, callback, details) => {
    // A media request names the frame's origin; other requests name the URL it loaded.
    const url = details.securityOrigin ?? details.requestingUrl;
    callback(
      permissionAllowed(permission, url, studioOrigin) &&
        (details.requestingUrl === undefined || isStudioUrl(details.requestingUrl, studioOrigin)),
    );
  });
  session.setPermissionCheckHandler((_contents, permission, requestingOrigin, details) => {
    const url = details.securityOrigin ?? requestingOrigin;
    return permissionAllowed(permission, url, studioOrigin);
  });
}

/** The sender of a synchronous IPC message: its frame and whether that is the main frame. */
export interface IpcSenderFrame {
  url: string;
  /** The frame's parent; null for a main frame. */
  parent: unknown;
}

/**
 * Whether a message comes from the studio's main frame: the bootstrap token is never handed to
 * an iframe (even one of the studio's origin) or to a page of another origin.
 */
export function isStudioMainFrame(frame: IpcSenderFrame | null | undefined, studioOrigin: string): boolean {
  return (
    frame !== null && frame !== undefined && frame.parent === null && isStudioUrl(frame.url, studioOrigin)
  );
}

/** Whether a message comes from any frame of the studio's origin (IPC other than the bootstrap). */
export function isStudioFrame(frame: IpcSenderFrame | null | undefined, studioOrigin: string): boolean {
  return frame !== null && frame !== undefined && isStudioUrl(frame.url, studioOrigin);
}

/** What a development build may do that a packaged one may not. */
export interface DevelopmentOptions {
  /** The URL the window loads: the core's page, or the dev server's in a development build. */
  pageUrl: string;
  /** Whether DevTools may open. */
  devTools: boolean;
}

/**
 * The page the window loads and whether DevTools are allowed. `ELECTRON_RENDERER_URL` (the
 * electron-vite dev server) and DevTools are honoured in development builds only: a packaged app
 * started with that variable still loads the studio's own page.
 */
export function developmentOptions(options: {
  isPackaged: boolean;
  env: Record<string, string | undefined>;
  studioUrl: string;
}): DevelopmentOptions {
  if (options.isPackaged) return { pageUrl: options.studioUrl, devTools: false };
  const devUrl = options.env.ELECTRON_RENDERER_URL;
  const pageUrl = devUrl && /^https?:\/\//.test(devUrl) && originOf(devUrl) ? devUrl : options.studioUrl;
  return { pageUrl, devTools: true };
}
