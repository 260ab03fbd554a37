/** Helpers for the benchmarks: a headless core to measure, and its CPU time and memory. */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { LIBWEBRTC_PACING, type Pacing } from './load/ReplayPublisher';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** CPU seconds (user + system) a process has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/**
 * UDP datagrams the kernel dropped on this machine so far (`/proc/net/snmp`: receive-buffer
 * overflows and other receive errors), or null where that file is not there. A bench takes the
 * difference over its window: loss there is the kernel's (a socket not read in time), not a
 * packet the studio threw away.
 */
export function udpReceiveDrops(): number | null {
  let snmp: string;
  try {
    snmp = readFileSync('/proc/net/snmp', 'utf8');
  } catch {
    return null;
  }
  const [names, values] = snmp.split('\n').filter((line) => line.startsWith('Udp:'));
  if (names === undefined || values === undefined) return null;
  const fields = names.split(/\s+/);
  const numbers = values.split(/\s+/).map(Number);
  const value = (name: string) => numbers[fields.indexOf(name)] ?? 0;
  // Receive-buffer overflows are counted in both InErrors and RcvbufErrors: InErrors has them all.
  return value('InErrors');
}

/** Datagrams dropped so far at each UDP socket a process has open, by socket inode. */
type SocketDrops = Map<number, Map<string, number>>;

/**
 * Drops at the UDP sockets each of `pids` has open now (Linux: `/proc/net/udp{,6}` by socket
 * inode, the inodes from `/proc/<pid>/fd`), or null where those files are not there. Whose
 * socket overflowed tells the studio's loss from the load processes'.
 */
export function udpDropsBySocket(pids: readonly number[]): SocketDrops | null {
  const dropsByInode = new Map<string, number>();
  try {
    for (const table of ['/proc/net/udp', '/proc/net/udp6']) {
      for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
        const fields = line.trim().split(/\s+/);
        if (fields.length >= 13) dropsByInode.set(fields[9]!, Number(fields[12]));
      }
    }
  } catch {
    return null;
  }
  const result: SocketDrops = new Map();
  for (const pid of pids) {
    const sockets = new Map<string, number>();
    let fds: string[] = [];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      // The process ended: nothing of its sockets is left to read.
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue; // closed meanwhile
      }
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      const drops = inode === undefined ? undefined : dropsByInode.get(inode);
      if (inode !== undefined && drops !== undefined) sockets.set(inode, drops);
    }
    result.set(pid, sockets);
  }
  return result;
}

/** Drops per process between two `udpDropsBySocket` readings (sockets opened since count whole). */
export function udpDropsBetween(
  before: SocketDrops | null,
  after: SocketDrops | null,
): Map<number, number> | null {
  if (before === null || after === null) return null;
  const result = new Map<number, number>();
  for (const [pid, sockets] of after) {
    let drops = 0;
    for (const [inode, count] of sockets) drops += count - (before.get(pid)?.get(inode) ?? 0);
    result.set(pid, drops);
  }
  return result;
}

/** Resident memory of a process in MB. */
export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round(kb / 1024);
}

/** Samples a process's RSS until stopped; returns the peak. */
export function peakRss(pid: number, everyMs = 500): { stop(): number } {
  let peak = rssMb(pid);
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, rssMb(pid));
    } catch {
      // the process ended
    }
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      return peak;
    },
  };
}

/** `--name value` arguments as numbers, with defaults. */
export function numberArgs<T extends Record<string, number>>(defaults: T): T {
  const out = { ...defaults };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i]!.replace(/^--/, '');
    if (key in out && argv[i + 1] !== undefined) (out as Record<string, number>)[key] = Number(argv[++i]);
  }
  return out;
}

/**
 * `--pacing <factor>`: how the load's publishers pace video (bench/load/ReplayPublisher.ts):
 * libwebrtc's 2.5 × the media's bitrate unless given; 0 sends each frame in one burst.
 */
export function pacingArg(): Pacing {
  const text = stringArg('pacing', String(LIBWEBRTC_PACING.factor));
  const factor = Number(text);
  if (!Number.isFinite(factor) || (factor !== 0 && factor < 1))
    throw new Error(`--pacing must be 0 (no pacing) or a factor of at least 1, not ${text}`);
  return { ...LIBWEBRTC_PACING, factor };
}

export const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

/** A `--name value` argument as a string. */
export function stringArg(name: string, fallback: string): string {
  const argv = process.argv.slice(2);
  const at = argv.indexOf(`--${name}`);
  return at >= 0 && argv[at + 1] !== undefined ? argv[at + 1]! : fallback;
}

/** A `--name` flag. */
export function flagArg(name: string): boolean {
  return process.argv.slice(2).includes(`--${name}`);
}

/** `--size WIDTHxHEIGHT`, e.g. 1280x720. */
export function sizeArg(fallback: string): { width: number; height: number; label: string } {
  const label = stringArg('size', fallback);
  const match = /^(\d{2,4})x(\d{2,4})$/.exec(label);
  if (!match) throw new Error(`--size must be WIDTHxHEIGHT with even numbers (e.g. 640x360), not "${label}"`);
  const width = Number(match[1]);
  const height = Number(match[2]);
  if (width % 2 !== 0 || height % 2 !== 0)
    throw new Error(`--size must have even width and height: ${label}`);
  return { width, height, label };
}

/** Fails with a clear message unless every number option is a positive integer. */
export function requirePositiveIntegers(options: Record<string, number>): void {
  for (const [name, value] of Object.entries(options))
    if (!Number.isInteger(value) || value <= 0)
      throw new Error(`--${name} must be a positive integer, not ${value}`);
}
