/**
 * bench/sfu: N publishers × M subscribers in one room (synthetic VP8 + Opus, 720p ~1.5 Mbit/s by
 * default). The studio runs alone in its own process; publishers and subscribers are werift
 * peers in a pool of load-generator processes (`--procs`); a direct publisher → subscriber
 * pair on loopback runs alongside as the baseline, so the latency printed is what the studio
 * adds. Loss is counted per packet against the senders' sequence numbers. Prints one JSON line;
 * `"valid": false` (with reasons) when a load process was too busy to be trusted.
 *   node --import tsx bench/sfu.ts [--publishers 4] [--subscribers 4] [--seconds 30] [--procs 2]
 *     [--size 1280x720] [--bitrate 1500] [--fps 30] [--pacing 2.5] [--cpu-prof]
 */
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../test/helpers/headless';
import { makeClip } from '../test/helpers/publisher';
import { OperatorClient, waitFor } from '../test/helpers/studio';
import { tempDir } from '../test/helpers/tmp';
import {
  connectFailures,
  CpuMeter,
  loadProblems,
  mainThreadDelay,
  publishWithRetry,
  percentile,
  startLoadPool,
  startStudio,
  threadHeaps,
  type LoadProcess,
} from './load/harness';
import { joinPath, maxSentPerStream } from './load/join';
import type { LoadCollect, LoadStatus } from './load/protocol';
import { nowMs } from './load/ReplayPublisher';
import { captureRtpClip } from './load/rtpClip';
import {
  flagArg,
  numberArgs,
  pacingArg,
  peakRss,
  requirePositiveIntegers,
  round,
  sizeArg,
  udpDropsBetween,
  udpDropsBySocket,
  udpReceiveDrops,
} from './lib';

const options = numberArgs({ publishers: 4, subscribers: 4, seconds: 30, procs: 2, bitrate: 1500, fps: 30 });
requirePositiveIntegers(options);
const { publishers: P, subscribers: S, seconds, procs, bitrate, fps } = options;
const size = sizeArg('1280x720');
const pacing = pacingArg();
const cpuProfDir = flagArg('cpu-prof') ? join(ROOT, '.tmp', 'profiles', `sfu-${Date.now()}`) : undefined;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const clip = makeClip({ durationSec: 20, width: size.width, height: size.height, videoKbps: bitrate, fps });
const capture = await captureRtpClip(clip);
const dir = tempDir('spool-bench-');
const studio = await startStudio({ dataDir: dir.path, ...(cpuProfDir ? { cpuProfDir } : {}) });
let pool: LoadProcess[] = [];
try {
  pool = await startLoadPool(procs);
  await Promise.all(pool.map((p) => p.request({ op: 'clip', capture, fps, pacing })));
  const operator = await OperatorClient.login(studio);
  const room = await operator.createRoom({ name: 'bench', maxParticipants: Math.max(100, P + S) });

  // Peers are spread over the pool: publishers first, then subscribers, round robin.
  const procFor = (n: number) => pool[n % pool.length]!;
  for (let j = 0; j < S; j++) {
    const token = await operator.createToken(room.id, { role: 'subscriber' });
    const proc = procFor(P + j);
    await proc.request({ op: 'subscribe', url: studio.url, token: token.token });
    proc.subscribers++;
  }
  // The baseline: the same kind of publisher and subscriber connected directly, in two
  // different load processes when there are two.
  const directPub = procFor(0);
  const directSub = procFor(1);
  const offer = await directPub.request<{ sdp: string }>({ op: 'direct-offer' });
  const answer = await directSub.request<{ sdp: string }>({ op: 'direct-answer', sdp: offer.sdp });
  await directPub.request({ op: 'direct-accept', sdp: answer.sdp });
  for (let i = 0; i < P; i++) {
    const proc = procFor(i);
    await publishWithRetry(proc, async () => {
      const token = await operator.createToken(room.id, { connectionData: `publisher ${i}` });
      return { op: 'publish', whipUrl: token.whipUrl, token: token.token };
    });
    proc.publishers++;
  }
  await waitFor(
    async () => {
      const statuses = await Promise.all(pool.map((p) => p.request<LoadStatus>({ op: 'status' })));
      return statuses.every((s) => s.subscriberPackets.every((n) => n > 100));
    },
    60_000,
    'media at every subscriber',
  );
  await sleep(2000);

  const rss = peakRss(studio.process.pid!);
  await threadHeaps(operator); // each thread's event-loop figures from here
  const meter = new CpuMeter([studio.process.pid!, ...pool.map((p) => p.pid)]);
  const udpDropsBefore = udpReceiveDrops();
  const pids = [studio.process.pid!, ...pool.map((p) => p.pid)];
  const socketDropsBefore = udpDropsBySocket(pids);
  const windowFrom = nowMs();
  // Receivers log before any sender does: a packet sent in the window while another process had
  // not yet heard of it would count as lost (each process hears at its own moment).
  await Promise.all(pool.map((p) => p.request({ op: 'window', receiving: true })));
  await Promise.all(pool.map((p) => p.request({ op: 'window', sending: true })));
  await sleep(seconds * 1000);
  await Promise.all(pool.map((p) => p.request({ op: 'window', sending: false })));
  const windowTo = nowMs();
  const cpu = meter.read();
  const heapByThread = await threadHeaps(operator);
  const mainDelay = mainThreadDelay(heapByThread);
  // Packets in flight at the end of the window still count.
  await sleep(1000);
  await Promise.all(pool.map((p) => p.request({ op: 'window', receiving: false })));
  const udpDropsAfter = udpReceiveDrops();
  const dropsByPid = udpDropsBetween(socketDropsBefore, udpDropsBySocket(pids));
  const collects = await Promise.all(pool.map((p) => p.request<LoadCollect>({ op: 'collect' })));

  const sfu = joinPath(collects, 'sfu');
  const direct = joinPath(collects, 'direct');
  const studioCpu = cpu.byPid.get(studio.process.pid!)!;
  const load = pool.map((p, i) => ({
    pid: p.pid,
    publishers: p.publishers + (p === directPub ? 1 : 0),
    subscribers: p.subscribers + (p === directSub ? 1 : 0),
    cpuPercentOfOneCore: round(cpu.byPid.get(p.pid)!),
    udpReceiveDrops: dropsByPid?.get(p.pid) ?? null,
    sendLagMsP99: round(collects[i]!.lagMsP99, 2),
  }));
  const invalid: string[] = [];
  invalid.push(...loadProblems(load));
  if (direct.received === 0) invalid.push('the direct path carried no packets: no latency baseline');
  if (sfu.mismatched > 0)
    invalid.push(`${sfu.mismatched} packets arrived under another packet's sequence number (rewritten?)`);
  if (maxSentPerStream(collects) > 60_000)
    invalid.push(
      'a stream sent more than 60,000 packets in the window (16-bit sequence numbers wrap): use fewer --seconds',
    );
  const ms = (n: number) => round(n, 2);
  const sfuP50 = percentile(sfu.latencies, 0.5);
  const sfuP99 = percentile(sfu.latencies, 0.99);
  const directP50 = percentile(direct.latencies, 0.5);
  const directP99 = percentile(direct.latencies, 0.99);
  const forwardedStreams = P * S;
  console.log(
    JSON.stringify({
      bench: 'sfu',
      valid: invalid.length === 0,
      ...(invalid.length > 0 ? { invalidReasons: invalid } : {}),
      publishers: P,
      subscribers: S,
      procs: pool.length,
      size: size.label,
      bitrateKbps: bitrate,
      fps,
      pacingFactor: pacing.factor,
      seconds: round(cpu.seconds),
      forwardedStreams,
      studioCpuPercentOfOneCore: round(studioCpu),
      cpuPercentPerForwardedStream: round(studioCpu / forwardedStreams, 2),
      mainEventLoopDelayMsP99: ms(mainDelay.p99),
      mainEventLoopDelayMsMax: ms(mainDelay.max),
      peakRssMb: rss.stop(),
      heapByThread,
      connectRetries: connectFailures.length,
      ...(connectFailures.length > 0 ? { connectFailures } : {}),
      harnessCpuPercentOfOneCore: round(cpu.harness),
      machineLoadAverage: round(loadavg()[0]!, 2),
      load,
      packetsExpected: sfu.expected,
      packetsReceived: sfu.received,
      packetsForwardedPerSecond: Math.round(sfu.received / cpu.seconds),
      lossPercent: round(sfu.expected === 0 ? 100 : (1 - sfu.received / sfu.expected) * 100, 3),
      // Datagrams the kernel dropped (every socket of the machine: studio and load alike).
      udpReceiveDropsOnMachine:
        udpDropsBefore === null || udpDropsAfter === null ? null : udpDropsAfter - udpDropsBefore,
      // The studio's own sockets' share of those (each load process's is in `load`).
      udpReceiveDropsStudio: dropsByPid?.get(studio.process.pid!) ?? null,
      latencyMsP50: ms(sfuP50),
      latencyMsP99: ms(sfuP99),
      directLatencyMsP50: ms(directP50),
      directLatencyMsP99: ms(directP99),
      directLossPercent: round(
        direct.expected === 0 ? 100 : (1 - direct.received / direct.expected) * 100,
        3,
      ),
      addedLatencyMsP50: ms(sfuP50 - directP50),
      addedLatencyMsP99: ms(sfuP99 - directP99),
      // The window on the monotonic clock, for bench/load/profileTop.ts --from --to.
      ...(cpuProfDir
        ? { cpuProfileDir: cpuProfDir, profileWindowMs: [Math.round(windowFrom), Math.round(windowTo)] }
        : {}),
      targets: { lossPercent: 0, addedLatencyMsP99: P * S >= 64 ? 5 : 3, mainEventLoopDelayMsP99: 20 },
    }),
  );
} finally {
  await Promise.all(pool.map((p) => p.close()));
  await studio.stop();
  dir.remove();
}
