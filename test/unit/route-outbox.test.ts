import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import {
  BATCH_MAX_BYTES,
  forEachPacket,
  RouteOutbox,
  type PacketBatch,
} from '../../src/main/workers/RouteOutbox';

type Message = PacketBatch | { t: 'end'; streamId: string };

/** What arrives on the other end of a route, until `count` messages came (bounded). */
function receive(port: MessagePort, count: number): Promise<Message[]> {
  const got: Message[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`only ${got.length} of ${count} messages arrived`)),
      5000,
    );
    port.on('message', (message: Message) => {
      got.push(message);
      if (got.length < count) return;
      clearTimeout(timer);
      resolve(got);
    });
  });
}

function packetsOf(message: Message): Array<[number, number[]]> {
  assert.equal(message.t, 'rtps');
  const out: Array<[number, number[]]> = [];
  forEachPacket((message as PacketBatch).data, (channel, packet) => out.push([channel, [...packet]]));
  return out;
}

describe('route outbox (packets between media workers)', () => {
  it("sends a turn's packets as one batch, in order, and a message after the packets queued before it", async () => {
    const { port1, port2 } = new MessageChannel();
    try {
      const outbox = new RouteOutbox<Message>(port1);
      const arrived = receive(port2, 3);
      outbox.rtp(7, Uint8Array.from([1, 2, 3]));
      outbox.rtp(0xfffffffe, Uint8Array.from([4]));
      outbox.post({ t: 'end', streamId: 's' });
      outbox.rtp(7, Uint8Array.from([5, 6]));
      const [first, second, third] = await arrived;
      assert.deepEqual(packetsOf(first!), [
        [7, [1, 2, 3]],
        [0xfffffffe, [4]],
      ]);
      assert.deepEqual(second, { t: 'end', streamId: 's' });
      assert.deepEqual(packetsOf(third!), [[7, [5, 6]]]);
    } finally {
      port1.close();
    }
  });

  it('sends at once past the batch bound, and nothing once closed', async () => {
    const { port1, port2 } = new MessageChannel();
    try {
      const outbox = new RouteOutbox<Message>(port1);
      const arrived = receive(port2, 2);
      const packet = new Uint8Array(1200).fill(9);
      const perBatch = Math.ceil(BATCH_MAX_BYTES / (packet.length + 6));
      for (let i = 0; i < perBatch + 1; i++) outbox.rtp(i, packet);
      const [full, rest] = await arrived;
      assert.equal(packetsOf(full!).length, perBatch);
      assert.deepEqual(
        packetsOf(rest!).map(([channel]) => channel),
        [perBatch],
      );
      const later: Message[] = [];
      port2.on('message', (m: Message) => later.push(m));
      outbox.rtp(1, packet);
      outbox.close();
      outbox.post({ t: 'end', streamId: 's' });
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.deepEqual(later, []);
    } finally {
      port1.close();
    }
  });

  it('reads each packet into a buffer of its own, and a batch cut short to its last whole packet', () => {
    const batch = new Uint8Array([0, 0, 0, 1, 0, 2, 10, 11, 0, 0, 0, 2, 0, 5, 20, 21]);
    const got: Array<[number, Buffer]> = [];
    forEachPacket(batch, (channel, packet) => got.push([channel, packet]));
    assert.deepEqual(
      got.map(([channel, packet]) => [channel, [...packet]]),
      [[1, [10, 11]]],
    );
    assert.notEqual(got[0]![1].buffer, batch.buffer);
  });
});
