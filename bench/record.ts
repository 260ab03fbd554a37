/**
 * bench/record: N concurrent recorded streams (synthetic 720p VP8 ~1.5 Mbit/s + Opus) for a
 * while, measured on the headless core: CPU % per stream (of one core), RSS, bytes written vs
 * received, video frames lost, and the stop → available latency. Prints one JSON line.
 *   node --import tsx bench/record.ts [--streams 16] [--seconds 60]
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ArchiveJson, Manifest } from '../src/shared/archive';
import { projectJwt } from '../test/helpers/api';
import { startHeadless, TEST_CREDENTIALS } from '../test/helpers/headless';
import { makeClip, SyntheticPublisher } from '../test/helpers/publisher';
import { OperatorClient, waitFor } from '../test/helpers/studio';
import { tempDir } from '../test/helpers/tmp';
import { cpuSeconds, numberArgs, peakRss, round } from './lib';

const { streams, seconds } = numberArgs({ streams: 16, seconds: 60 });
const FPS = 30;

const dir = tempDir('spool-bench-');
const core = await startHeadless({
  dataDir: dir.path,
  env: { SPOOL_LOG_LEVEL: 'error', SPOOL_MAX_PARTICIPANTS: '' },
});
const publishers: SyntheticPublisher[] = [];
try {
  const operator = await OperatorClient.login(core);
  const room = await operator.createRoom({ name: 'bench', maxParticipants: 100 });
  const clip = makeClip({ durationSec: 60, width: 1280, height: 720, videoKbps: 1500, fps: FPS });
  for (let i = 0; i < streams; i++) {
    const token = await operator.createToken(room.id, { connectionData: `publisher ${i}` });
    publishers.push(
      await SyntheticPublisher.start({ whipUrl: token.whipUrl, token: token.token, clip, loop: true }),
    );
  }
  await waitFor(
    async () =>
      (await operator.room(room.id)).session?.streams.filter((s) => s.codecs.video).length === streams,
    20_000,
    'all streams',
  );
  const api = `${core.url}/v2/project/${TEST_CREDENTIALS.SPOOL_API_KEY}/archive`;
  const headers = { 'x-opentok-auth': await projectJwt(), 'content-type': 'application/json' };
  const archive = (await (
    await fetch(api, {
      method: 'POST',
      headers,
      body: JSON.stringify({ sessionId: room.id, outputMode: 'individual' }),
    })
  ).json()) as ArchiveJson;
  const sentBefore = publishers.reduce((n, p) => n + p.bytesSent, 0);
  const pid = core.process.pid!;
  const cpu0 = cpuSeconds(pid);
  const t0 = Date.now();
  const rss = peakRss(pid);
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const cpu1 = cpuSeconds(pid);
  const wall = (Date.now() - t0) / 1000;
  const stopAt = Date.now();
  await fetch(`${api}/${archive.id}/stop`, { method: 'POST', headers, body: '{}' });
  await waitFor(
    async () =>
      ((await (await fetch(`${api}/${archive.id}`, { headers })).json()) as ArchiveJson).status ===
      'available',
    30_000,
    'available',
  );
  const availableMs = Date.now() - stopAt;
  const peak = rss.stop();
  const sent = publishers.reduce((n, p) => n + p.bytesSent, 0) - sentBefore;

  const manifest = JSON.parse(
    readFileSync(join(dir.path, 'archives', archive.id, 'manifest.json'), 'utf8'),
  ) as Manifest;
  let written = 0;
  let framesLost = 0;
  for (const file of manifest.files) {
    written += file.size;
    // Video frames expected between the first and the last video frame of the file, at the
    // clip's frame rate, against those present (audio may start a little before video).
    const times = execFileSync('ffprobe', [
      '-v',
      'error',
      '-select_streams',
      'v:0',
      '-show_entries',
      'packet=pts_time',
      '-of',
      'csv=p=0',
      join(dir.path, 'archives', archive.id, file.filename),
    ])
      .toString()
      .trim()
      .split('\n')
      .map(Number)
      .filter((t) => Number.isFinite(t));
    const expected = Math.round((Math.max(...times) - Math.min(...times)) * FPS) + 1;
    framesLost += Math.max(0, expected - times.length);
  }
  const cpuPercentOfOneCore = ((cpu1 - cpu0) / wall) * 100;
  console.log(
    JSON.stringify({
      bench: 'record',
      streams,
      seconds: round(wall),
      cpuPercentPerStream: round(cpuPercentOfOneCore / streams, 2),
      cpuPercentOfTwoCores: round(cpuPercentOfOneCore / 2),
      peakRssMb: peak,
      bytesReceived: sent,
      bytesWritten: written,
      writtenToReceived: round(written / Math.max(1, sent), 3),
      framesLost,
      stopToAvailableMs: availableMs,
      targets: { cpuPercentOfTwoCores: 50, framesLost: 0, stopToAvailableMs: 2000 },
    }),
  );
} finally {
  for (const p of publishers) await p.close();
  await core.stop();
  dir.remove();
}
