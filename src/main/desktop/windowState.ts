import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** A window's remembered place. */
export interface WindowState {
  x?: number;
  y?: number;
  width: number;
  height: number;
  maximized: boolean;
}

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export const DEFAULT_WINDOW_STATE: WindowState = { width: 1280, height: 800, maximized: false };
const MIN_WIDTH = 640;
const MIN_HEIGHT = 480;

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/** Whether at least a 100×50 corner of `rect` lies on one of the displays' work areas. */
function visibleOn(rect: Rect, workAreas: Rect[]): boolean {
  return workAreas.some((area) => {
    const w = Math.min(rect.x + rect.width, area.x + area.width) - Math.max(rect.x, area.x);
    const h = Math.min(rect.y + rect.height, area.y + area.height) - Math.max(rect.y, area.y);
    return w >= 100 && h >= 50;
  });
}

/**
 * The saved window state, checked: a file that is missing or damaged, a size that is too small,
 * or a position on a display that is no longer connected gives the default (size kept, centred).
 */
export function loadWindowState(file: string, workAreas: Rect[]): WindowState {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return { ...DEFAULT_WINDOW_STATE };
  }
  if (typeof raw !== 'object' || raw === null) return { ...DEFAULT_WINDOW_STATE };
  const r = raw as Record<string, unknown>;
  const width = isFiniteNumber(r.width)
    ? Math.max(MIN_WIDTH, Math.round(r.width))
    : DEFAULT_WINDOW_STATE.width;
  const height = isFiniteNumber(r.height)
    ? Math.max(MIN_HEIGHT, Math.round(r.height))
    : DEFAULT_WINDOW_STATE.height;
  const state: WindowState = { width, height, maximized: r.maximized === true };
  if (isFiniteNumber(r.x) && isFiniteNumber(r.y)) {
    const rect = { x: Math.round(r.x), y: Math.round(r.y), width, height };
    if (visibleOn(rect, workAreas)) {
      state.x = rect.x;
      state.y = rect.y;
    }
  }
  return state;
}

/** Writes the state atomically (a crash mid-write leaves the previous file). */
export function saveWindowState(file: string, state: WindowState): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, JSON.stringify(state));
  renameSync(tmp, file);
}

/** The part of a `BrowserWindow` whose place is remembered. */
export interface TrackedWindow {
  on(event: 'resize' | 'move' | 'close', listener: () => void): unknown;
  isDestroyed(): boolean;
  isMaximized(): boolean;
  isMinimized(): boolean;
  isFullScreen(): boolean;
  /** Bounds when not maximized or minimized. */
  getNormalBounds(): Rect;
}

/**
 * Remembers where the window is: saved a moment after it is moved or resized, and when it
 * closes. Returns a function that saves now and stops tracking.
 */
export function trackWindowState(window: TrackedWindow, file: string, delayMs = 500): () => void {
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;
  const save = () => {
    if (timer !== null) clearTimeout(timer);
    timer = null;
    if (stopped || window.isDestroyed() || window.isMinimized() || window.isFullScreen()) return;
    const bounds = window.getNormalBounds();
    try {
      saveWindowState(file, { ...bounds, maximized: window.isMaximized() });
    } catch {
      // Not being able to remember the window's place is not worth an error dialog.
    }
  };
  const later = () => {
    if (timer !== null) clearTimeout(timer);
    timer = setTimeout(save, delayMs);
  };
  window.on('resize', later);
  window.on('move', later);
  window.on('close', save);
  return () => {
    save();
    stopped = true;
  };
}
