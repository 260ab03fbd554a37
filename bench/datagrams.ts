/**
 * What Node itself costs per received datagram on this machine: the floor under the studio's CPU
 * per recorded stream (docs/threads.md, "Node's own floor"). A worker thread, like a media
 * worker, holds `--sockets` UDP sockets that do nothing with a datagram but count it (`--decrypt
 * 1`: and make one AES-128-GCM decipher per datagram, as SRTP does); a sender in its own process
 * sends `--rate` datagrams a second of `--size` bytes to them in turn, paced by a 1 ms timer.
 * `--hold N` holds the receiver's event loop N ms between turns, so that one wake-up reads what
 * arrived meanwhile (what batching the receive path would save). Prints one JSON line: the
 * receiving thread's CPU (`process.threadCpuUsage`) per datagram and as a share of one core, the
 * harness (the receiver process's main thread, which only waits) and the sender apart.
 *
 *   node --import tsx bench/datagrams.ts [--rate 730] [--sockets 16] [--size 600] [--seconds 20]
 *     [--decrypt 0|1] [--hold 0]
 * (730 a second: `bench/record`'s eight 320×240 streams; 3,400: its sixteen 720p streams.)
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { cpuSeconds, numberArgs, requirePositiveIntegers, round } from './lib';

const options = numberArgs({ rate: 730, sockets: 16, size: 600, seconds: 20, decrypt: 0, hold: 0 });
requirePositiveIntegers({
  rate: options.rate,
  sockets: options.sockets,
  size: options.size,
  seconds: options.seconds,
});
if (options.size > 1400) throw new Error(`--size must be at most 1400 bytes (got ${options.size})`);
if (options.decrypt !== 0 && options.decrypt !== 1)
  throw new Error(`--decrypt must be 0 or 1 (got ${options.decrypt})`);
if (!(options.hold >= 0 && options.hold <= 20))
  throw new Error(`--hold must be 0–20 ms (got ${options.hold})`);
const WARM_UP_MS = 2000;

// Plain JavaScript: the receiver and the sender run without tsx.
const RECEIVER = `
const dgram = require('node:dgram');
const { createDecipheriv, createSecretKey } = require('node:crypto');
const { parentPort, workerData } = require('node:worker_threads');
const { sockets, decrypt, hold } = workerData;
const key = createSecretKey(Buffer.alloc(16, 1));
const iv = Buffer.alloc(12);
let received = 0;
let cpuAtMark = process.threadCpuUsage();
let countAtMark = 0;
const onMessage = decrypt
  ? (m) => { received++; createDecipheriv('aes-128-gcm', key, iv).update(m); }
  : () => { received++; };
const ports = [];
let bound = 0;
for (let i = 0; i < sockets; i++) {
  const socket = dgram.createSocket('udp4');
  socket.on('message', onMessage);
  socket.bind(0, '127.0.0.1', () => {
    ports[i] = socket.address().port;
    if (++bound === sockets) parentPort.postMessage({ ports });
  });
}
if (hold > 0) {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  const turn = () => { Atomics.wait(cell, 0, 0, hold); setImmediate(turn); };
  setImmediate(turn);
}
parentPort.on('message', (op) => {
  if (op === 'mark') {
    cpuAtMark = process.threadCpuUsage();
    countAtMark = received;
    parentPort.postMessage({});
  } else if (op === 'read') {
    const cpu = process.threadCpuUsage(cpuAtMark);
    const reading = { cpuUs: cpu.user + cpu.system, received: received - countAtMark, total: received };
    parentPort.postMessage(reading);
  }
});
`;
const SENDER = `
const dgram = require('node:dgram');
const [ports, rate, size] = JSON.parse(process.argv[1]);
const socket = dgram.createSocket('udp4');
const body = Buffer.alloc(size, 0x80);
let sent = 0;
const started = performance.now();
const timer = setInterval(() => {
  const due = Math.floor(((performance.now() - started) / 1000) * rate);
  for (; sent < due; sent++) socket.send(body, ports[sent % ports.length], '127.0.0.1');
}, 1);
process.on('message', (op) => { if (op === 'stop') { clearInterval(timer); process.send({ sent }); } });
`;

type Reply = { ports?: number[]; cpuUs?: number; received?: number; total?: number; sent?: number };
const worker = new Worker(RECEIVER, {
  eval: true,
  name: 'datagrams',
  workerData: { sockets: options.sockets, decrypt: options.decrypt === 1, hold: options.hold },
});
const ask = async (op: string): Promise<Reply> => {
  const reply = once(worker, 'message', { signal: AbortSignal.timeout(10_000) });
  worker.postMessage(op);
  return (await reply)[0] as Reply;
};
const [{ ports }] = (await once(worker, 'message', { signal: AbortSignal.timeout(10_000) })) as [Reply];
const sender = spawn(process.execPath, ['-e', SENDER, JSON.stringify([ports, options.rate, options.size])], {
  stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
});
const stopSender = async (): Promise<number> => {
  const reply = once(sender, 'message', { signal: AbortSignal.timeout(10_000) });
  sender.send('stop');
  return ((await reply)[0] as Reply).sent!;
};
try {
  await new Promise((resolve) => setTimeout(resolve, WARM_UP_MS));
  await ask('mark');
  const harnessFrom = process.threadCpuUsage();
  const senderFrom = cpuSeconds(sender.pid!);
  const processFrom = cpuSeconds(process.pid);
  const from = performance.now();
  await new Promise((resolve) => setTimeout(resolve, options.seconds * 1000));
  const reading = await ask('read');
  const seconds = (performance.now() - from) / 1000;
  const harness = process.threadCpuUsage(harnessFrom);
  const senderCpu = cpuSeconds(sender.pid!) - senderFrom;
  const processCpu = cpuSeconds(process.pid) - processFrom;
  // Lost: what was sent and never arrived, counted over the whole run once the sender stops.
  const sent = await stopSender();
  await new Promise((resolve) => setTimeout(resolve, 200));
  const { total } = await ask('read');
  const received = reading.received!;
  if (received === 0) throw new Error('the receiver got no datagram in the window: nothing to measure');
  console.log(
    JSON.stringify({
      bench: 'datagrams',
      ...options,
      seconds: round(seconds),
      datagramsPerSecond: round(received / seconds),
      receiverCpuPercentOfOneCore: round((reading.cpuUs! / 1e6 / seconds) * 100, 2),
      receiverCpuUsPerDatagram: round(reading.cpuUs! / received, 1),
      // The receiver's whole process: its thread, the harness's main thread, V8's and libuv's threads.
      processCpuPercentOfOneCore: round((processCpu / seconds) * 100, 2),
      harnessCpuPercentOfOneCore: round(((harness.user + harness.system) / 1e6 / seconds) * 100, 2),
      senderCpuPercentOfOneCore: round((senderCpu / seconds) * 100, 2),
      sent,
      lost: sent - total!,
    }),
  );
} finally {
  sender.kill('SIGKILL');
  await worker.terminate();
}
