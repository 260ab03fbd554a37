/**
 * Video frames lost in recording, counted against the sender: the frames a file holds (their
 * timestamps) are matched to the frames the publisher sent (media time of each), so a frame the
 * studio never wrote is lost however the file's timestamps look.
 */
import { execFileSync } from 'node:child_process';

export interface FrameMatch {
  /** Sender frames from the first recorded one to the end of the window. */
  expected: number;
  matched: number;
  /** File frames within the window matching no sent frame (duplicated or altered). */
  unmatched: number;
  /**
   * File frames that hold a sent frame (its size, in order between two frames that fit) but not
   * at its time: the file's timeline stepped back and forth faster than the offset could follow
   * (counted as matched: the frame was recorded; its timing is the timing benches' question).
   */
  retimed: number;
  /** The file could not be aligned with the sender at all. */
  aligned: boolean;
  /** Stretches of expected sender frames no file holds: [first, last] media time (ms). */
  missing: Array<[number, number]>;
}

/** How far (ms) the file's timeline may step against the sender's and still be followed. */
const REANCHOR_MS = 3000;
/** Later places of a file tried as its anchor when its first frames fit nowhere (each `probe` on). */
const ANCHOR_RETRIES = 10;
/** Frames after a step that must fit the new offset (80 % of them) before it is taken. */
const REANCHOR_CHECK = 15;

function nearest(sorted: number[], value: number): number {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  if (lo > 0 && Math.abs(sorted[lo - 1]! - value) <= Math.abs(sorted[lo]! - value)) return lo - 1;
  return lo;
}

/** Frames the sender sent, in order. */
export interface SentFrames {
  /** Media time, ms. */
  ms: number[];
  /** Frame size in bytes (the VP8 frame, as a file holds it). */
  size: number[];
  /** When it was sent (machine monotonic clock), ms. */
  t: number[];
}

/** Frames of a file, in presentation order. */
export interface FileFrames {
  ms: number[];
  size: number[];
}

/**
 * Matches the files of one stream to the frames its sender sent. Frame timestamps alone are
 * evenly spaced and fit anywhere, so a file is anchored where its first frames' sizes match
 * the sender's, among frames sent while `anchorT` (a [from, to] range on the monotonic clock)
 * allows: the clip loops, and only the start of the recording is unambiguous. Files are the
 * stream's segments in order, each anchored on its own after the one before; then the offset
 * follows slow drift. `frameMs` is the frame interval.
 */
export function matchFrames(
  sent: SentFrames,
  files: FileFrames[],
  frameMs: number,
  anchorT: [number, number],
): FrameMatch {
  const tolerance = frameMs * 0.4;
  const matched = new Set<number>();
  let unmatched = 0;
  let retimed = 0;
  let aligned = true;
  let first = Infinity;
  const n = sent.ms.length;
  let after = -1;
  for (const [fileIndex, file] of files.entries()) {
    if (file.ms.length === 0) continue;
    const probe = Math.min(30, file.ms.length);
    /** Frames of the file from `i0` that fit when file frame `i0` is sender frame `k`. */
    const score = (i0: number, k: number) => {
      const offset = sent.ms[k]! - file.ms[i0]!;
      let hits = 0;
      for (let i = i0; i < Math.min(i0 + probe, file.ms.length); i++) {
        const j = nearest(sent.ms, file.ms[i]! + offset);
        if (Math.abs(sent.ms[j]! - (file.ms[i]! + offset)) <= tolerance && sent.size[j] === file.size[i])
          hits++;
      }
      return hits;
    };
    /** The sender frame that file frame `i0` is, where the frames after it agree best. */
    const anchorAt = (i0: number) => {
      const shift = file.ms[i0]! - file.ms[0]!;
      let best = { index: -1, hits: 0 };
      for (let k = after + 1; k < n; k++) {
        // The first file starts near the recording's start; later segments after the one before.
        if (fileIndex === 0 && (sent.t[k]! < anchorT[0] + shift || sent.t[k]! > anchorT[1] + shift)) continue;
        if (sent.size[k] !== file.size[i0]) continue;
        const hits = score(i0, k);
        if (hits > best.hits) best = { index: k, hits };
        if (hits >= probe * 0.9) break;
      }
      return best;
    };
    // The file's first frames, or (when its start stepped or lost frames) a little later on.
    let anchor = { frame: 0, ...anchorAt(0) };
    for (let i0 = probe; anchor.hits < probe * 0.5 && i0 <= ANCHOR_RETRIES * probe; i0 += probe) {
      if (i0 + probe > file.ms.length) break;
      anchor = { frame: i0, ...anchorAt(i0) };
    }
    if (anchor.hits < probe * 0.5) {
      aligned = false;
      unmatched += file.ms.length;
      continue;
    }
    let offset = sent.ms[anchor.index]! - file.ms[anchor.frame]!;
    /** Whether file frame `i` is sender frame `j` at `offset`. */
    const fits = (i: number, j: number, at: number) =>
      Math.abs(sent.ms[j]! - (file.ms[i]! + at)) <= tolerance && sent.size[j] === file.size[i];
    /**
     * The studio's timeline may step against the sender's (a sender stall taken for a pause): a
     * frame that does not fit at the current offset is looked for within `REANCHOR_MS` and the
     * new offset kept when the frames after it fit there too.
     */
    const reanchor = (i: number): number | null => {
      const t = file.ms[i]!;
      const check = Math.min(REANCHOR_CHECK, file.ms.length - i - 1);
      if (check < 3) return null;
      for (let k = nearest(sent.ms, t + offset - REANCHOR_MS); k < n; k++) {
        if (sent.ms[k]! > t + offset + REANCHOR_MS) break;
        if (sent.size[k] !== file.size[i] || matched.has(k)) continue;
        const at = sent.ms[k]! - t;
        let hits = 0;
        for (let m = i + 1; m <= i + check; m++) if (fits(m, nearest(sent.ms, file.ms[m]! + at), at)) hits++;
        if (hits >= check * 0.8) return at;
      }
      return null;
    };
    /** The sender frame each file frame is (-1: none yet), and whether it falls in the window. */
    const frameOf = new Int32Array(file.ms.length).fill(-1);
    const inWindow = new Uint8Array(file.ms.length);
    for (let i = 0; i < file.ms.length; i++) {
      const t = file.ms[i]!;
      let j = nearest(sent.ms, t + offset);
      if (!fits(i, j, offset) || matched.has(j)) {
        const at = reanchor(i);
        if (at !== null) {
          offset = at;
          j = nearest(sent.ms, t + offset);
        }
      }
      if (fits(i, j, offset) && !matched.has(j)) {
        matched.add(j);
        frameOf[i] = j;
        after = Math.max(after, j);
        offset = sent.ms[j]! - t;
      } else if (t + offset <= sent.ms[n - 1]! + tolerance) inWindow[i] = 1; // later ones: sent after the window
    }
    retimed += fillBetween(sent, file, frameOf, matched);
    // The sender frame the file starts at, by the offset of its earliest frame that fits (the
    // anchor's may be after a step of the timeline, and point a frame off).
    const earliest = frameOf.findIndex((j) => j !== -1);
    const startOffset = earliest === -1 ? offset : sent.ms[frameOf[earliest]!]! - file.ms[earliest]!;
    first = Math.min(first, Math.max(0, nearest(sent.ms, file.ms[0]! + startOffset)));
    for (let i = 0; i < file.ms.length; i++) if (frameOf[i] === -1 && inWindow[i] === 1) unmatched++;
  }
  const expected = first === Infinity ? n : n - first;
  const missing: Array<[number, number]> = [];
  for (let k = first === Infinity ? 0 : first; k < n; k++) {
    if (matched.has(k)) continue;
    const last = missing.at(-1);
    if (last !== undefined && k > 0 && last[1] === sent.ms[k - 1]) last[1] = sent.ms[k]!;
    else missing.push([sent.ms[k]!, sent.ms[k]!]);
  }
  return { expected, matched: matched.size, unmatched, retimed, aligned, missing };
}

/**
 * Between two file frames that fit their sender frames, the file's other frames are the sender's
 * frames between those two, in order: each unfitted one is matched to the next unmatched sender
 * frame of its size there, whatever its time (a step of the file's timeline and its absorption,
 * shorter than `reanchor` needs to see a steady offset). Returns how many were matched so.
 */
function fillBetween(sent: SentFrames, file: FileFrames, frameOf: Int32Array, matched: Set<number>): number {
  let filled = 0;
  let i = 0;
  while (i < frameOf.length) {
    if (frameOf[i] !== -1 || i === 0 || frameOf[i - 1] === -1) {
      i++;
      continue;
    }
    // A stretch of unfitted frames from i, after a fitted one; it must end at a fitted one too.
    let end = i;
    while (end < frameOf.length && frameOf[end] === -1) end++;
    if (end === frameOf.length) break;
    let k = frameOf[i - 1]! + 1;
    const stop = frameOf[end]!;
    for (let m = i; m < end && k < stop; m++) {
      let found = k;
      while (found < stop && (sent.size[found] !== file.size[m] || matched.has(found))) found++;
      if (found === stop) continue;
      frameOf[m] = found;
      matched.add(found);
      filled++;
      k = found + 1;
    }
    i = end;
  }
  return filled;
}

/** Frame times (ms) and sizes of a file's first video track, from ffprobe. */
export function fileFrames(path: string): FileFrames {
  const rows = execFileSync(
    'ffprobe',
    [
      '-v',
      'error',
      '-select_streams',
      'v:0',
      '-show_entries',
      'packet=pts_time,size',
      '-of',
      'csv=p=0',
      path,
    ],
    { maxBuffer: 256 * 1024 * 1024 },
  )
    .toString()
    .trim()
    .split('\n')
    .map((line) => line.split(',').map(Number) as [number, number])
    .filter(([t, s]) => Number.isFinite(t) && Number.isFinite(s))
    .sort((a, b) => a[0] - b[0]);
  return { ms: rows.map(([t]) => t * 1000), size: rows.map(([, s]) => s) };
}
