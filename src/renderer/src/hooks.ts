import { useCallback, useEffect, useRef, useState } from 'react';
import type { AnyStudioEvent, EventType } from '../../shared/events';
import type { ApiClient } from './api/client';
import { onStudioEvent, useStudio } from './store';

/** Calls `listener` for events of the given types (prefixes like `archive.` match a family). */
export function useStudioEvents(types: string[], listener: (event: AnyStudioEvent) => void): void {
  const latest = useRef(listener);
  latest.current = listener;
  const key = types.join(',');
  useEffect(
    () =>
      onStudioEvent((event) => {
        if (
          key
            .split(',')
            .some((t) => event.type === (t as EventType) || (t.endsWith('.') && event.type.startsWith(t)))
        ) {
          latest.current(event);
        }
      }),
    [key],
  );
}

export interface Loaded<T> {
  data: T | null;
  error: string | null;
  loading: boolean;
  reload(): void;
}

/** Loads data from the API, again on `reload()` and whenever an event of `refreshOn` arrives. */
export function useApi<T>(
  load: (api: ApiClient) => Promise<T>,
  deps: unknown[],
  refreshOn: string[] = [],
): Loaded<T> {
  const api = useStudio((s) => s.api);
  const [state, setState] = useState<{ data: T | null; error: string | null; loading: boolean }>({
    data: null,
    error: null,
    loading: true,
  });
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  useEffect(() => {
    let cancelled = false;
    load(api).then(
      (data) => !cancelled && setState({ data, error: null, loading: false }),
      (error: Error) =>
        !cancelled && setState((s) => ({ data: s.data, error: error.message, loading: false })),
    );
    return () => {
      cancelled = true;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [api, tick, ...deps]);
  // Bursts of events cause one reload.
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  useStudioEvents(refreshOn, () => {
    if (timer.current !== null) return;
    timer.current = setTimeout(() => {
      timer.current = null;
      reload();
    }, 150);
  });
  return { ...state, reload };
}

/** A value that re-renders every `ms` (clocks, recorded time). */
export function useNow(ms = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(timer);
  }, [ms]);
  return now;
}

/** The OpenTok API base for the studio's API key. */
export function useProjectBase(): string | null {
  const info = useStudio((s) => s.info);
  return info ? `/v2/project/${encodeURIComponent(info.apiKey)}` : null;
}
