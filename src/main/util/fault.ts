/**
 * Named fault-injection points for crash tests: with `SPOOL_FAULT=<name>` in the environment,
 * the process kills itself (SIGKILL, no clean-up) when it reaches that point, so a test can land
 * a crash exactly between two steps. Without the variable this is a no-op.
 */
export const FAULT_POINTS = [
  /** The archive's status row and its event committed; no listener has heard of it yet. */
  'archive.afterStatus',
  /** The archive is `stopped` (files final, manifest written), not yet `available`. */
  'archive.afterStopped',
  /** A delivery's upload finished; the delivery is not yet marked done. */
  'delivery.afterUpload',
  /** A delivery is marked done; its webhook message is not yet sent. */
  'delivery.afterDone',
  /** A webhook was POSTed and answered 2xx; the message is not yet marked delivered. */
  'webhook.afterPost',
  /**
   * A media worker (the first of its index, not a restarted one) throws an uncaught error 3 s
   * after its first recorder wrote its first frame (opened its file): the worker finalizes its
   * recordings and dies, the process stays (docs/threads.md). Counted from the first frame, not
   * the recorder's start, so a busy machine's late first keyframe does not leave the file nearly
   * empty.
   */
  'media.workerDiesWhileRecording',
  /**
   * The same moment, but the worker ends at once (`process.exit`), with no chance to finalize its
   * recordings — as a worker out of memory, or a stuck one the heartbeat ends, does: the main
   * thread finalizes what reached the disk.
   */
  'media.workerExitsWhileRecording',
  /**
   * The same, 3 s after it made its first stand-in of another worker's stream (a subscriber's
   * worker in a room across workers): the exporting worker must drop what it sent there.
   */
  'media.workerDiesWhileImporting',
  /**
   * A media worker (the first of its index) refuses the first recorder it is asked to start, as
   * it does for a stream it does not have: the archive must record the others and say which
   * stream it could not record. The process stays.
   */
  'media.recorderRefused',
] as const;

export type FaultPoint = (typeof FAULT_POINTS)[number];

const armed = process.env.SPOOL_FAULT ?? '';

/** Kills the process here when armed for `name`, or for `name:qualifier` (e.g. `archive.afterStatus:available`). */
export function faultPoint(name: FaultPoint, qualifier?: string): void {
  if (armed !== name && (qualifier === undefined || armed !== `${name}:${qualifier}`)) return;
  process.stderr.write(`fault injection: killing the process at ${armed}\n`);
  process.kill(process.pid, 'SIGKILL');
}
