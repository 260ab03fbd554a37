import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { UdpTransport } from 'werift';
import { installSocketBuffers, RECEIVE_BUFFER_BYTES } from '../../src/main/rooms/udpBuffers';

/** Linux's cap on what a socket may ask for (`net.core.rmem_max`), or null elsewhere. */
function receiveBufferCap(): number | null {
  try {
    return Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8').trim());
  } catch {
    return null;
  }
}

const DATAGRAMS = 800;
const DATAGRAM_BYTES = 1200;

/**
 * Sends `DATAGRAMS` datagrams to `port` from another thread while this one is held (as a media
 * worker is by a long task), then lets this thread go on; resolves with how many arrived.
 */
async function receivedWhileStalled(socket: Socket): Promise<number> {
  let received = 0;
  socket.on('message', () => received++);
  const port = socket.address().port;
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const sender = new Worker(
    `const { createSocket } = require('node:dgram');
     const { workerData } = require('node:worker_threads');
     const flag = new Int32Array(workerData.flag);
     const socket = createSocket('udp4');
     socket.bind(0, '127.0.0.1', () => {
       const payload = Buffer.alloc(${DATAGRAM_BYTES}, 7);
       let sent = 0;
       const next = () => {
         if (sent === ${DATAGRAMS}) {
           socket.close();
           Atomics.store(flag, 0, 1);
           Atomics.notify(flag, 0);
           return;
         }
         sent++;
         socket.send(payload, workerData.port, '127.0.0.1', next);
       };
       next();
     });`,
    { eval: true, workerData: { port, flag: flag.buffer } },
  );
  try {
    // This thread reads nothing until every datagram has been sent (10 s at most).
    assert.equal(Atomics.wait(flag, 0, 0, 10_000), 'ok', 'the sender did not finish within 10 s');
  } finally {
    await sender.terminate();
  }
  // What the socket holds arrives now; a bounded wait for the last of it.
  const deadline = Date.now() + 2000;
  let last = -1;
  while (received !== last && Date.now() < deadline) {
    last = received;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return received;
}

describe('UDP receive buffers of the ICE sockets', () => {
  installSocketBuffers();
  const cap = receiveBufferCap();
  const sockets: Array<{ close(): unknown }> = [];
  after(async () => {
    for (const socket of sockets) await socket.close();
  });

  const iceSocket = async (): Promise<Socket> => {
    const transport = await UdpTransport.init('udp4', { interfaceAddresses: { udp4: '127.0.0.1' } });
    sockets.push(transport);
    return transport.socket;
  };
  const plainSocket = async (): Promise<Socket> => {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    sockets.push({ close: () => new Promise<void>((resolve) => socket.close(() => resolve())) });
    return socket;
  };

  it('an ICE socket asks for a larger receive buffer, as far as the system allows', async (t) => {
    const socket = await iceSocket();
    const plain = await plainSocket();
    if (cap === null) {
      t.skip('not Linux: the cap is not known');
      return;
    }
    // Linux reports twice what was granted (it counts its bookkeeping).
    const granted = socket.getRecvBufferSize();
    assert.equal(granted, 2 * Math.min(RECEIVE_BUFFER_BYTES, cap), `rmem_max ${cap}`);
    if (cap > plain.getRecvBufferSize() / 2)
      assert.ok(granted > plain.getRecvBufferSize(), 'larger than the default');
  });

  it('holds the datagrams that arrive while its thread is busy (the default drops them)', async (t) => {
    const needed = 2 * DATAGRAMS * 2304; // each 1,200-byte datagram is charged ~2.3 KB
    if (cap === null || cap < needed) {
      t.skip(`net.core.rmem_max is ${cap ?? 'unknown'}: the system caps buffers below ${needed} bytes`);
      return;
    }
    const plain = await plainSocket();
    const ice = await iceSocket();
    const plainReceived = await receivedWhileStalled(plain);
    assert.ok(
      plainReceived < DATAGRAMS,
      `the default buffer (${plain.getRecvBufferSize()} bytes) held all ${DATAGRAMS} datagrams: the test cannot tell`,
    );
    assert.equal(await receivedWhileStalled(ice), DATAGRAMS, 'datagrams the ICE socket dropped');
  });
});
