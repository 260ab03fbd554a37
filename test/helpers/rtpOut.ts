/**
 * ffmpeg as an RTP sender on loopback, shared by the test publisher (real time) and the bench's
 * clip capture (faster than real time): one UDP socket per kind receives ffmpeg's packets.
 */
import { createSocket, type Socket } from 'node:dgram';

export type MediaKind = 'audio' | 'video';

/** RTCP packet types 200–204 in the second byte (RTP payload types 96 and 111 never look so). */
export const isRtcp = (packet: Buffer) => packet.length >= 2 && packet[1]! >= 200 && packet[1]! <= 204;

/** A UDP socket on 127.0.0.1 with an ephemeral port and a receive buffer of `recvBufferBytes`. */
export async function loopbackSocket(recvBufferBytes: number): Promise<Socket> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  socket.setRecvBufferSize(recvBufferBytes);
  return socket;
}

/**
 * ffmpeg output arguments that send a clip's first track of `kind` as RTP (copied, payload type
 * 96 for video, 111 for audio) to `port` on loopback.
 */
export function rtpOutputArgs(kind: MediaKind, port: number): string[] {
  return [
    '-map',
    `0:${kind === 'video' ? 'v' : 'a'}:0`,
    '-c',
    'copy',
    '-payload_type',
    kind === 'video' ? '96' : '111',
    '-f',
    'rtp',
    // udp://, not rtp://: ffmpeg's rtp:// protocol binds its RTCP socket to its RTP port + 1,
    // which fails with "bind failed: Address already in use" when that port is taken (likely
    // with many peers on the machine). udp:// binds one ephemeral socket for RTP and RTCP, so
    // ffmpeg's sender reports arrive on the same socket (filter them with `isRtcp`).
    `udp://127.0.0.1:${port}?pkt_size=1200`,
  ];
}
