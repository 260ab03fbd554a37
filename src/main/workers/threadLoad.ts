import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import type { ThreadStats } from '../../shared/api';

export type ThreadLoad = Pick<ThreadStats, 'eventLoopUtilization' | 'eventLoopDelayMs'>;

/**
 * This thread's event-loop load since the previous reading: the share of time it was busy and
 * how late its timers ran (a 10 ms probe timer: p99 and the worst delay). A media thread whose
 * delay grows holds packets that long.
 */
export function threadLoadMeter(): () => ThreadLoad {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  let last = performance.eventLoopUtilization();
  return () => {
    const elu = performance.eventLoopUtilization(last);
    last = performance.eventLoopUtilization();
    const ms = (ns: number) => Math.round(ns / 1e4) / 100;
    const load = {
      eventLoopUtilization: elu.utilization,
      eventLoopDelayMs: { p99: delay.count === 0 ? 0 : ms(delay.percentile(99)), max: ms(delay.max) },
    };
    delay.reset();
    return load;
  };
}
