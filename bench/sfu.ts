/**
 * bench/sfu: N publishers × M subscribers in one room for a while (synthetic 720p VP8 ~1.5
 * Mbit/s + Opus publishers, werift subscribers): core CPU % (of one core), RSS, packets
 * forwarded per second, loss, and the added forwarding latency p50/p99 (publisher send →
 * subscriber receive on loopback). Prints one JSON line.
 *   node --import tsx bench/sfu.ts [--publishers 4] [--subscribers 4] [--seconds 30]
 */
import type { RtpPacket } from 'werift';
import { startHeadless } from '../test/helpers/headless';
import { makeClip, SyntheticPublisher } from '../test/helpers/publisher';
import { OperatorClient, waitFor } from '../test/helpers/studio';
import { NodeSubscriber } from '../test/helpers/subscriber';
import { tempDir } from '../test/helpers/tmp';
import { cpuSeconds, numberArgs, peakRss, round } from './lib';

const { publishers: P, subscribers: S, seconds } = numberArgs({ publishers: 4, subscribers: 4, seconds: 30 });

const key = (connectionId: string, payload: Buffer) =>
  `${connectionId}:${payload.length}:${payload.subarray(0, 32).toString('base64')}`;

const dir = tempDir('spool-bench-');
const core = await startHeadless({ dataDir: dir.path, env: { SPOOL_LOG_LEVEL: 'error' } });
const publishers: SyntheticPublisher[] = [];
const subscribers: NodeSubscriber[] = [];
try {
  const operator = await OperatorClient.login(core);
  const room = await operator.createRoom({ name: 'bench', maxParticipants: 100 });
  const clip = makeClip({ durationSec: 60, width: 1280, height: 720, videoKbps: 1500 });
  for (let i = 0; i < S; i++) {
    const token = await operator.createToken(room.id, { role: 'subscriber' });
    subscribers.push(await NodeSubscriber.join(core.url, token.token));
  }
  const sentAt = new Map<string, number>();
  let measuring = false;
  let sent = 0;
  let received = 0;
  const latencies: number[] = [];
  for (let i = 0; i < P; i++) {
    const token = await operator.createToken(room.id, { connectionData: `publisher ${i}` });
    const publisher = await SyntheticPublisher.start({
      whipUrl: token.whipUrl,
      token: token.token,
      clip,
      loop: true,
    });
    const connectionId = publisher.resourceUrl.split('/').pop()!;
    publisher.onPacket = (_kind, packet) => {
      if (!measuring) return;
      sent++;
      sentAt.set(key(connectionId, packet.subarray(12)), performance.now());
    };
    publishers.push(publisher);
  }
  for (const subscriber of subscribers) {
    subscriber.onPacket = (connectionId: string, _kind: string, packet: RtpPacket) => {
      if (!measuring) return;
      const t = sentAt.get(key(connectionId, packet.payload));
      if (t === undefined) return;
      received++;
      latencies.push(performance.now() - t);
    };
  }
  await waitFor(() => subscribers.every((s) => s.packets > 100), 20_000, 'media at every subscriber');
  await new Promise((resolve) => setTimeout(resolve, 2000));

  const pid = core.process.pid!;
  const rss = peakRss(pid);
  const cpu0 = cpuSeconds(pid);
  const t0 = Date.now();
  measuring = true;
  const pruning = setInterval(() => {
    const old = performance.now() - 5000;
    for (const [k, t] of sentAt) if (t < old) sentAt.delete(k);
  }, 1000);
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  measuring = false;
  // Packets in flight at the end still arrive.
  await new Promise((resolve) => setTimeout(resolve, 500));
  clearInterval(pruning);
  const wall = (Date.now() - t0 - 500) / 1000;
  const cpu = ((cpuSeconds(pid) - cpu0) / (wall + 0.5)) * 100;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) =>
    round(latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? NaN, 2);
  const expected = sent * S;
  console.log(
    JSON.stringify({
      bench: 'sfu',
      publishers: P,
      subscribers: S,
      seconds: round(wall),
      cpuPercentOfOneCore: round(cpu),
      peakRssMb: rss.stop(),
      packetsForwardedPerSecond: Math.round(received / wall),
      lossPercent: round(expected === 0 ? 0 : Math.max(0, (1 - received / expected) * 100), 3),
      latencyMsP50: pct(0.5),
      latencyMsP99: pct(0.99),
      targets: { lossPercent: 0, latencyMsP99: 5 },
    }),
  );
} finally {
  for (const s of subscribers) await s.close();
  for (const p of publishers) await p.close();
  await core.stop();
  dir.remove();
}
