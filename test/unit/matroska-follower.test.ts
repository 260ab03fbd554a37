import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { MatroskaFollower } from '../../src/main/composition/MatroskaFollower';
import { MatroskaWriter } from '../../src/main/recording/MatroskaWriter';
import { tempDir } from '../helpers/tmp';

async function collect(follower: MatroskaFollower, from: number, to: number): Promise<Buffer> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  await follower.feed(out, from, to);
  return Buffer.concat(chunks);
}

describe('MatroskaFollower', () => {
  it('indexes the clusters of a file while it grows, with their times and keyframes, and survives finalize', async () => {
    const dir = tempDir();
    const path = join(dir.path, 'stream.webm');
    const writer = await MatroskaWriter.create(path, {
      docType: 'webm',
      tracks: [
        { number: 1, kind: 'video', codecId: 'V_VP8', width: 320, height: 240 },
        { number: 2, kind: 'audio', codecId: 'A_OPUS', sampleRate: 48000, channels: 2 },
      ],
    });
    const follower = await MatroskaFollower.open(path);
    try {
      await follower.refresh();
      assert.equal(follower.clusters.length, 0, 'nothing indexed before the first cluster');
      // 0–2.5 s: audio every 20 ms, video every 100 ms, a keyframe at 0 and at 1.5 s.
      for (let t = 0; t < 2500; t += 20) {
        if (t % 100 === 0) writer.write(1, t, Buffer.alloc(50, 1), t === 0 || t === 1500);
        writer.write(2, t, Buffer.alloc(20, 2), true);
      }
      await writer.flush();
      await follower.refresh();
      assert.deepEqual(
        follower.tracks.map((t) => [t.number, t.kind, t.codecId, t.width, t.height]),
        [
          [1, 'video', 'V_VP8', 320, 240],
          [2, 'audio', 'A_OPUS', 0, 0],
        ],
      );
      const times = follower.clusters.map((c) => [c.timeMs, c.videoKey]);
      // A cluster at the start, after 1 s, and at the keyframe (the writer cuts there).
      assert.deepEqual(times, [
        [0, true],
        [1000, false],
        [1500, true],
      ]);
      for (let i = 1; i < follower.clusters.length; i++) {
        assert.equal(follower.clusters[i]!.offset, follower.clusters[i - 1]!.end, 'clusters are contiguous');
      }

      // The header says "unknown size" and is followed by exactly the clusters asked for.
      const bytes = await collect(follower, 2, 3);
      const header = follower.header!;
      assert.deepEqual(bytes.subarray(0, header.length), header);
      const cluster = follower.clusters[2]!;
      assert.equal(bytes.length, header.length + cluster.end - cluster.offset);

      // Finalize writes Cues after the clusters and fills in sizes: indexing carries on unharmed.
      const before = follower.clusters.length;
      await writer.finalize();
      await follower.refresh();
      assert.ok(follower.clusters.length >= before);
      assert.equal(new Set(follower.clusters.map((c) => c.offset)).size, follower.clusters.length);
    } finally {
      await follower.close();
      dir.remove();
    }
  });

  it('knows the gaps in the video as the offline probe does, and a gap still open while recording', async () => {
    const dir = tempDir();
    const path = join(dir.path, 'stream.webm');
    const writer = await MatroskaWriter.create(path, {
      docType: 'webm',
      tracks: [
        { number: 1, kind: 'video', codecId: 'V_VP8', width: 320, height: 240 },
        { number: 2, kind: 'audio', codecId: 'A_OPUS', sampleRate: 48000, channels: 2 },
      ],
    });
    const follower = await MatroskaFollower.open(path);
    try {
      // Video 0–3 s, none 3–6.5 s (camera off; audio goes on), video again 6.5–8 s.
      for (let t = 0; t < 8000; t += 20) {
        const video = t < 3000 || t >= 6500;
        if (video && t % 100 === 0) writer.write(1, t, Buffer.alloc(50, 1), t === 0 || t === 6500);
        writer.write(2, t, Buffer.alloc(20, 2), true);
      }
      await writer.flush();
      await follower.refresh();
      assert.deepEqual(follower.videoGaps(2, null), [{ from: 2.9, to: 6.5 }]);
      assert.deepEqual(follower.videoGaps(4, null), [], 'shorter than the threshold: no gap');
      // Recording on, 3 s without video after 7.9 s: an open gap; 1 s without: none yet.
      assert.deepEqual(follower.videoGaps(2, 10_900), [
        { from: 2.9, to: 6.5 },
        { from: 7.9, to: Number.POSITIVE_INFINITY },
      ]);
      assert.equal(follower.videoGaps(2, 8900).length, 1);
      assert.ok(follower.clusters.every((c) => c.videoFirstMs === null || c.videoFirstMs >= c.timeMs));
    } finally {
      await writer.finalize();
      await follower.close();
      dir.remove();
    }
  });
});
