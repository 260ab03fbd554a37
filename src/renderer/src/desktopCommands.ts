import { useEffect } from 'react';
import type { DesktopCommand } from '../../shared/bridge';

/** The DOM event by which menu commands reach the screen that carries them out. */
export const COMMAND_EVENT = 'spool:command';

/** The id of the room-name field that "New Room" focuses. */
export const NEW_ROOM_INPUT_ID = 'new-room-name';

/**
 * Carries out the application menu's commands (desktop app only): New Room opens the rooms
 * screen on its name field; start and stop recording go to the open room as a DOM event.
 */
export function useDesktopCommands(): void {
  useEffect(() => {
    const bridge = window.spool;
    if (!bridge?.onCommand) return undefined;
    return bridge.onCommand((command) => {
      if (command === 'new-room') {
        window.location.hash = '#/rooms';
        // The rooms screen renders on the next frame.
        requestAnimationFrame(() => document.getElementById(NEW_ROOM_INPUT_ID)?.focus());
        return;
      }
      window.dispatchEvent(new CustomEvent<DesktopCommand>(COMMAND_EVENT, { detail: command }));
    });
  }, []);
}

/** The menu command of a `COMMAND_EVENT`. */
export function commandOf(event: Event): DesktopCommand | null {
  return event instanceof CustomEvent ? (event.detail as DesktopCommand) : null;
}
