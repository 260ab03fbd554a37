import type { MessagePort } from 'node:worker_threads';

/** Packets waiting for the next batch are sent at once past this many bytes. */
export const BATCH_MAX_BYTES = 64 * 1024;
/** Per packet in a batch: its channel (4 bytes) and length (2 bytes), then its bytes. */
const ENTRY_HEADER = 6;

/** A batch of RTP packets on a route: one transferred buffer (docs/threads.md, "Across workers"). */
export interface PacketBatch {
  t: 'rtps';
  data: Uint8Array;
}

/**
 * What one worker posts to another on the route between them. RTP packets wait for the end of
 * the event-loop turn (the datagrams read together go together, as `bench/workers.ts` measured:
 * a third of the CPU of a message per packet); every other message first sends the packets
 * before it, so the other worker sees everything in the order it was posted.
 */
export class RouteOutbox<Message> {
  readonly #port: MessagePort;
  #packets: Array<{ channel: number; data: Uint8Array }> = [];
  #bytes = 0;
  #scheduled: NodeJS.Immediate | null = null;
  #closed = false;

  constructor(port: MessagePort) {
    this.#port = port;
  }

  /** Queues a packet of a channel (a track the other worker knows by that number). */
  rtp(channel: number, data: Uint8Array): void {
    if (this.#closed) return;
    if (data.length > 0xffff) return; // no RTP packet is this long (a UDP datagram's bound)
    this.#packets.push({ channel, data });
    this.#bytes += ENTRY_HEADER + data.length;
    if (this.#bytes >= BATCH_MAX_BYTES) this.flush();
    else this.#scheduled ??= setImmediate(() => this.flush());
  }

  /** Posts a message after the packets queued before it. */
  post(message: Message): void {
    if (this.#closed) return;
    this.flush();
    this.#port.postMessage(message);
  }

  /** Sends the queued packets as one batch. */
  flush(): void {
    if (this.#scheduled !== null) clearImmediate(this.#scheduled);
    this.#scheduled = null;
    if (this.#packets.length === 0 || this.#closed) return;
    const batch = encodeBatch(this.#packets, this.#bytes);
    this.#packets = [];
    this.#bytes = 0;
    this.#port.postMessage(batch, [batch.data.buffer as ArrayBuffer]);
  }

  /** The route closed: nothing more is sent. */
  close(): void {
    if (this.#scheduled !== null) clearImmediate(this.#scheduled);
    this.#scheduled = null;
    this.#packets = [];
    this.#closed = true;
  }
}

export function encodeBatch(
  packets: Array<{ channel: number; data: Uint8Array }>,
  bytes: number,
): PacketBatch {
  const data = new Uint8Array(bytes);
  const view = new DataView(data.buffer);
  let at = 0;
  for (const packet of packets) {
    view.setUint32(at, packet.channel);
    view.setUint16(at + 4, packet.data.length);
    data.set(packet.data, at + ENTRY_HEADER);
    at += ENTRY_HEADER + packet.data.length;
  }
  return { t: 'rtps', data };
}

/**
 * Calls `each` with every packet of a batch and its channel, in order, each packet in a buffer
 * of its own (a view would keep the whole batch alive as long as any packet of it is kept:
 * jitter buffers, a sender's retransmission cache). A batch cut short ends at its last whole
 * packet.
 */
export function forEachPacket(data: Uint8Array, each: (channel: number, packet: Buffer) => void): void {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let at = 0;
  while (at + ENTRY_HEADER <= data.length) {
    const channel = view.getUint32(at);
    const length = view.getUint16(at + 4);
    at += ENTRY_HEADER;
    if (at + length > data.length) return;
    each(channel, Buffer.from(data.subarray(at, at + length)));
    at += length;
  }
}
