/** What the desktop shell needs from the core to shut it down. */
export interface ClosableCore {
  close(): Promise<void>;
}

/**
 * The one path by which the desktop shell stops the studio (quit, OS shutdown, logout): every
 * recording is stopped and its files finalized, queues persist, services close in reverse order.
 * `Studio.close()` does all of that today; an ordered stop-all in the core plugs in here.
 */
export function stopStudio(core: ClosableCore | null): Promise<void> {
  return core === null ? Promise.resolve() : core.close();
}
