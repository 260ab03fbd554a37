/**
 * The cost of moving RTP packets between two media worker threads over a MessagePort
 * (docs/threads.md, "Across workers"): one JSON line per way of sending — a structured-clone
 * copy per packet, a transfer per packet, and batches of packets in one transferred buffer —
 * with the CPU each side spends per packet (`process.threadCpuUsage`) and what an 8×8 room's
 * cross-worker traffic would cost at that rate.
 *
 * Usage: npm run bench -- workers [-- --packets 100000 --size 1200]
 */
import { MessageChannel, Worker } from 'node:worker_threads';
import { numberArgs } from './lib';

const { packets, size } = numberArgs({ packets: 100_000, size: 1200 });

// Plain JavaScript: the workers run without tsx.
const SENDER = `
const { parentPort, workerData } = require('node:worker_threads');
const { port, mode, packets, size, batch } = workerData;
const start = process.threadCpuUsage();
let sent = 0;
const packet = Buffer.alloc(size, 7);
function burst() {
  // 256 packets a turn: the receiver keeps up, as it would with paced media.
  for (let i = 0; i < 256 && sent < packets; ) {
    if (mode === 'clone') { port.postMessage(packet); i++; sent++; }
    else if (mode === 'transfer') {
      const copy = new Uint8Array(size); copy.set(packet);
      port.postMessage(copy, [copy.buffer]); i++; sent++;
    } else {
      const n = Math.min(batch, packets - sent);
      const out = new Uint8Array(n * (size + 2));
      let at = 0;
      for (let k = 0; k < n; k++) { out[at] = size >> 8; out[at + 1] = size & 255; out.set(packet, at + 2); at += size + 2; }
      port.postMessage(out, [out.buffer]); i += n; sent += n;
    }
  }
  if (sent < packets) setImmediate(burst);
  else { const cpu = process.threadCpuUsage(start); parentPort.postMessage({ cpuUs: cpu.user + cpu.system }); }
}
burst();
`;
const RECEIVER = `
const { parentPort, workerData } = require('node:worker_threads');
const { port, packets } = workerData;
const start = process.threadCpuUsage();
let received = 0, bytes = 0;
port.on('message', (data) => {
  const view = data instanceof Uint8Array ? data : new Uint8Array(data);
  if (workerDataMode() === 'batch') {
    for (let at = 0; at < view.length; ) { const n = (view[at] << 8) | view[at + 1]; bytes += n; at += n + 2; received++; }
  } else { bytes += view.length; received++; }
  if (received >= packets) { const cpu = process.threadCpuUsage(start); parentPort.postMessage({ cpuUs: cpu.user + cpu.system, bytes }); port.close(); }
});
function workerDataMode() { return workerData.mode; }
`;

interface Result {
  cpuUs: number;
  bytes?: number;
}

async function run(mode: 'clone' | 'transfer' | 'batch', batch: number): Promise<void> {
  const { port1, port2 } = new MessageChannel();
  const done = (worker: Worker) =>
    new Promise<Result>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
  const started = performance.now();
  const receiver = new Worker(RECEIVER, {
    eval: true,
    workerData: { port: port2, packets, mode },
    transferList: [port2],
  });
  const sender = new Worker(SENDER, {
    eval: true,
    workerData: { port: port1, mode, packets, size, batch },
    transferList: [port1],
  });
  const [sent, received] = await Promise.all([done(sender), done(receiver)]);
  const wallMs = performance.now() - started;
  await Promise.all([sender.terminate(), receiver.terminate()]);
  const usPerPacket = (sent.cpuUs + received.cpuUs) / packets;
  // 8 publishers × ~170 packets/s (1.5 Mbit/s video + audio) reaching one other worker.
  const roomRate = 8 * 170;
  console.log(
    JSON.stringify({
      bench: 'workers',
      mode: mode === 'batch' ? `batch${batch}` : mode,
      packets,
      size,
      wallMs: Math.round(wallMs),
      packetsPerSec: Math.round(packets / (wallMs / 1000)),
      senderUsPerPacket: +(sent.cpuUs / packets).toFixed(2),
      receiverUsPerPacket: +(received.cpuUs / packets).toFixed(2),
      lostBytes: packets * size - (received.bytes ?? 0),
      // Share of one core the 8×8 room's cross-worker packets would cost (both sides).
      roomCoreShare8x8: +((roomRate * usPerPacket) / 1e6).toFixed(4),
    }),
  );
}

await run('clone', 1);
await run('transfer', 1);
await run('batch', 8);
await run('batch', 32);
