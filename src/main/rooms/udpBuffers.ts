/**
 * Receive buffers of werift's ICE sockets (docs/threads.md, "Socket receive buffers").
 *
 * A socket's receive buffer is what holds the datagrams that arrive while its thread is busy
 * elsewhere: a collection, a keyframe forwarded to every subscriber, a slow disk callback. The
 * operating system's default (Linux: 208 KB, about 90 video packets of 1,200 bytes, as each is
 * charged with its bookkeeping) is less than 80 ms of an 8-publisher room: measured under
 * `bench/sfu` 8×8, the studio's sockets dropped packets whenever the media worker stalled that
 * long — lost before any code of ours saw them. Each ICE socket asks for `RECEIVE_BUFFER_BYTES`
 * (as media servers commonly do); the system caps it (Linux: `net.core.rmem_max`), and where it
 * refuses a size outright (macOS: above `kern.ipc.maxsockbuf`) smaller ones are tried. Memory is
 * only used while datagrams wait.
 */
import type { Socket } from 'node:dgram';
import { UdpTransport } from 'werift';

/** What each ICE socket asks for. */
export const RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024;
/** Below this, asking is not worth it: the systems' defaults are about this size. */
const SMALLEST_ASKED = 256 * 1024;

/**
 * Asks for a receive buffer of `bytes` (halving while the system refuses, down to 256 KB) and
 * returns what the socket has then (Linux reports twice the size asked: it counts bookkeeping).
 * The socket must be bound.
 */
export function enlargeReceiveBuffer(socket: Socket, bytes = RECEIVE_BUFFER_BYTES): number {
  for (let size = bytes; size >= SMALLEST_ASKED; size = Math.floor(size / 2)) {
    try {
      socket.setRecvBufferSize(size);
      break;
    } catch {
      // ERR_SOCKET_BUFFER_SIZE: the system refuses this size; try a smaller one.
    }
  }
  return socket.getRecvBufferSize();
}

let installed = false;

/** Every ICE socket werift binds in this thread from now on asks for a larger buffer. Idempotent. */
export function installSocketBuffers(): void {
  if (installed) return;
  installed = true;
  const prototype = UdpTransport.prototype as unknown as {
    init(this: { socket: Socket }): Promise<void>;
  };
  const init = prototype.init;
  prototype.init = async function (this: { socket: Socket }): Promise<void> {
    await init.call(this);
    enlargeReceiveBuffer(this.socket);
  };
}
