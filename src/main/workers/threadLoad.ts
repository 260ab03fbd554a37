import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import type { ThreadStats } from '../../shared/api';

export type ThreadLoad = Pick<ThreadStats, 'eventLoopUtilization' | 'eventLoopDelayMs'>;

/** The probe timer's period (ms). Node's histogram records the time between its runs. */
const RESOLUTION_MS = 10;

/**
 * This thread's event-loop load since the previous reading: the share of time it was busy and
 * how late its timers ran (a 10 ms probe timer: p99 and the worst delay). A media thread whose
 * delay grows holds packets that long. `monitorEventLoopDelay` records the interval between the
 * probe's runs, so its period is taken off: an idle thread reads 0, not 10 ms.
 */
export function threadLoadMeter(): () => ThreadLoad {
  const delay = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  delay.enable();
  let last = performance.eventLoopUtilization();
  return () => {
    const elu = performance.eventLoopUtilization(last);
    last = performance.eventLoopUtilization();
    const ms = (ns: number) => Math.max(0, Math.round((ns / 1e6 - RESOLUTION_MS) * 100) / 100);
    const load = {
      eventLoopUtilization: elu.utilization,
      eventLoopDelayMs: { p99: delay.count === 0 ? 0 : ms(delay.percentile(99)), max: ms(delay.max) },
    };
    delay.reset();
    return load;
  };
}
