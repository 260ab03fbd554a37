import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import type { ThreadStats } from '../../shared/api';

export type ThreadLoad = Pick<ThreadStats, 'eventLoopUtilization' | 'eventLoopDelayMs'>;

/**
 * The probe timer's period (ms). Node's histogram records the time between its runs. Each run
 * wakes an idle thread: at 10 ms an idle studio woke ~100 times a second per thread and took
 * 0.83 % of a core, at 50 ms 26 times and 0.53 % (this 2-core VM). A probe that lands in a busy
 * stretch reads the rest of it whatever the period, so the percentiles keep their meaning with
 * fewer samples (20 a second); under load no difference in CPU showed (`bench/record`).
 */
const RESOLUTION_MS = 50;

/**
 * This thread's event-loop load since the previous reading: the share of time it was busy and
 * how late its timers ran (a 50 ms probe timer: p99 and the worst delay). A media thread whose
 * delay grows holds packets that long. `monitorEventLoopDelay` records the interval between the
 * probe's runs, so its period is taken off: an idle thread reads 0, not 50 ms.
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
