import { execFile } from 'node:child_process';
import { existsSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { AnyStudioEvent } from '../../shared/events';
import type { EventBus } from '../events/EventBus';
import type { Logger } from '../logger';
import type { ArchiveFileRecord, ArchiveRepository } from '../store/ArchiveRepository';
import type { Ffmpeg } from './ffmpeg';

const execFileAsync = promisify(execFile);

/** The poster's file name, beside the archive's files (not an archive file: never delivered). */
export const POSTER_FILE = 'poster.jpg';
/** Width of the poster; the height keeps the video's aspect. */
const POSTER_WIDTH = 320;

export interface PosterMakerOptions {
  bus: EventBus;
  archives: ArchiveRepository;
  /** The folder of an archive's files. */
  archiveDir(archiveId: string): string;
  ffmpeg: () => Ffmpeg | Error;
  logger: Logger;
}

/** The file a poster is taken from: the composition if there is one, else the largest video. */
export function posterSource(files: ArchiveFileRecord[]): ArchiveFileRecord | null {
  const composed = files.find((f) => f.kind === 'composition' && f.filename === 'archive.mp4');
  if (composed !== undefined) return composed;
  const videos = files
    .filter((f) => (f.kind === 'media' || f.kind === 'split') && Boolean(f.info.videoCodec))
    .sort((a, b) => b.size - a.size);
  return videos[0] ?? null;
}

/**
 * Takes a poster frame (a JPEG, 320 px wide) of every archive that becomes available, with
 * ffmpeg, and stores it beside the archive's files; `poster()` makes a missing one on demand
 * (archives recorded before posters existed).
 */
export class PosterMaker {
  readonly #options: PosterMakerOptions;
  readonly #running = new Map<string, Promise<string | null>>();
  readonly #onEvent = (event: AnyStudioEvent) => {
    if (event.type === 'archive.available') void this.poster(event.data.id);
  };
  #closed = false;

  constructor(options: PosterMakerOptions) {
    this.#options = options;
    options.bus.on('event', this.#onEvent);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The poster's path, made first when missing; null when the archive has no video to show. */
  poster(archiveId: string): Promise<string | null> {
    const path = join(this.#options.archiveDir(archiveId), POSTER_FILE);
    if (existsSync(path)) return Promise.resolve(path);
    if (this.#closed) return Promise.resolve(null);
    let running = this.#running.get(archiveId);
    if (running === undefined) {
      running = this.#make(archiveId, path).finally(() => this.#running.delete(archiveId));
      this.#running.set(archiveId, running);
    }
    return running;
  }

  async #make(archiveId: string, path: string): Promise<string | null> {
    const ffmpeg = this.#options.ffmpeg();
    if (ffmpeg instanceof Error) return null;
    const source = posterSource(this.#options.archives.files(archiveId));
    if (source === null) return null;
    const input = join(this.#options.archiveDir(archiveId), source.filename);
    if (!existsSync(input)) return null;
    const tmp = `${path}.part.jpg`;
    // A frame a second in skips a black first frame; a shorter file gives its first frame.
    for (const seek of [['-ss', '1'], []]) {
      try {
        await execFileAsync(
          ffmpeg.path,
          [
            '-hide_banner',
            '-nostdin',
            '-loglevel',
            'error',
            ...seek,
            '-i',
            input,
            '-frames:v',
            '1',
            '-vf',
            `scale=${POSTER_WIDTH}:-2`,
            '-q:v',
            '4',
            '-y',
            tmp,
          ],
          { timeout: 30_000 },
        );
        if (existsSync(tmp) && statSync(tmp).size > 0) {
          renameSync(tmp, path);
          return path;
        }
      } catch (error) {
        this.#options.logger.debug({ err: error, archiveId }, 'poster frame not taken');
      }
    }
    rmSync(tmp, { force: true });
    this.#options.logger.warn({ archiveId, file: source.filename }, 'no poster could be taken');
    return null;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#options.bus.off('event', this.#onEvent);
  }
}
