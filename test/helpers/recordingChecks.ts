import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { POSTER_FILE } from '../../src/main/media/PosterMaker';
import type { Manifest } from '../../src/shared/archive';
import { decodeErrors, probe } from './probe';
import { SyntheticPublisher, type PublisherOptions } from './publisher';

export function manifestOf(dataDir: string, archiveId: string): Manifest {
  return JSON.parse(readFileSync(join(dataDir, 'archives', archiveId, 'manifest.json'), 'utf8')) as Manifest;
}

/**
 * Every file of the manifest exists with its size, plays to the duration the manifest gives
 * (±`toleranceSec`), and decodes with `ffmpeg -v error` silent; its offsets are its metadata
 * file's, counted from when recording began; no temporary files are left.
 */
export async function checkManifestFiles(
  dataDir: string,
  archiveId: string,
  toleranceSec = 0.2,
): Promise<Manifest> {
  const dir = join(dataDir, 'archives', archiveId);
  const manifest = manifestOf(dataDir, archiveId);
  for (const file of manifest.files) {
    const path = join(dir, file.filename);
    assert.ok(existsSync(path), `${file.filename} of the manifest is missing`);
    assert.equal(readFileSync(path).length, file.size, `size of ${file.filename}`);
    const info = await probe(path);
    const expected = (file.stopTimeOffset - file.startTimeOffset) / 1000;
    assert.ok(
      Math.abs(info.duration - expected) <= toleranceSec,
      `${file.filename}: ffprobe says ${info.duration} s, the manifest ${expected} s`,
    );
    assert.equal(await decodeErrors(path), '', `${file.filename} decodes with errors`);
    if (file.metadataFilename !== undefined) {
      // The metadata counts from the start call, the manifest from when recording began: the two
      // differ by exactly that much (a file starting before that time would lose its head here).
      const meta = JSON.parse(readFileSync(join(dir, file.metadataFilename), 'utf8')) as {
        start_time_offset_ms: number;
        stop_time_offset_ms: number;
      };
      const shift = manifest.createdAt - (manifest.startCalledAt ?? manifest.createdAt);
      assert.deepEqual(
        [file.startTimeOffset, file.stopTimeOffset],
        [meta.start_time_offset_ms - shift, meta.stop_time_offset_ms - shift],
        `${file.filename}: manifest offsets against its metadata's (recording began ${shift} ms after the start call)`,
      );
    }
  }
  const leftovers = () => readdirSync(dir).filter((f) => /\.(part|tmp|repair)/.test(f));
  // The poster frame is taken once the archive is available (PosterMaker, not an archive file):
  // its temporary file may still be there at this moment, and only it is waited for (bounded).
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const left = leftovers();
    if (left.length === 0 || !left.every((f) => f.startsWith(`${POSTER_FILE}.`))) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.deepEqual(leftovers(), [], 'temporary files left in the archive folder');
  return manifest;
}

/** Whether a Matroska/WebM file holds Cues (written at finalize). */
export function hasCues(path: string): boolean {
  return readFileSync(path).includes(Buffer.from([0x1c, 0x53, 0xbb, 0x6b]));
}

/**
 * Starts a WHIP publisher, trying once more when ICE does not connect in time (it happens on a
 * machine loaded by other test runs; these tests are about recording, not connecting).
 */
export async function startPublisher(options: PublisherOptions, attempts = 2): Promise<SyntheticPublisher> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await SyntheticPublisher.start(options);
    } catch (error) {
      if (attempt >= attempts || !/did not connect/.test((error as Error).message)) throw error;
    }
  }
}
