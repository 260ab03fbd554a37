/**
 * The per-packet cost of the media path through werift, stock and as the studio runs it
 * (`src/main/rooms/weriftPackets.ts`, `depacketizeVp8`; docs/threads.md, "Per-packet cost"):
 * CPU per packet of a 720p VP8 stream (1,200-byte packets with Chrome's header extensions) for
 * each step — SRTP unprotect, RTP parse, VP8 depacketizing (per packet of a picture), SRTP
 * protect of a forwarded packet — for both SRTP profiles. One process, one thread, measured by
 * `process.threadCpuUsage`; each step warmed up, then the least of three runs. One JSON line per profile.
 *
 * Usage: npm run bench -- packets [-- --packets 50000]
 */
import { randomBytes } from 'node:crypto';
import {
  dePacketizeRtpPackets,
  ProtectionProfileAeadAes128Gcm,
  ProtectionProfileAes128CmHmacSha1_80,
  RtpHeader,
  RtpPacket,
} from 'werift';
import { depacketizeVp8 } from '../src/main/recording/codecs';
import { installPacketPath } from '../src/main/rooms/weriftPackets';
import { srtpPair } from '../test/helpers/srtp';
import { numberArgs, round } from './lib';

const { packets: count } = numberArgs({ packets: 50_000 });
const PACKETS_PER_PICTURE = 5;

/** A 720p-like VP8 stream: pictures of 5 packets, 15-bit picture ids, abs-send-time and TWCC. */
function stream(n: number): RtpPacket[] {
  const out: RtpPacket[] = [];
  for (let i = 0; i < n; i++) {
    const picture = Math.floor(i / PACKETS_PER_PICTURE);
    const first = i % PACKETS_PER_PICTURE === 0;
    const header = new RtpHeader({
      payloadType: 96,
      sequenceNumber: i & 0xffff,
      timestamp: picture * 3000,
      ssrc: 0x1234_5678,
      marker: i % PACKETS_PER_PICTURE === PACKETS_PER_PICTURE - 1,
      extension: true,
      extensionProfile: 0xbede,
      extensions: [
        { id: 2, payload: randomBytes(3) },
        { id: 3, payload: randomBytes(2) },
      ],
    });
    const descriptor = Buffer.from([
      first ? 0x90 : 0x80,
      0x80,
      0x80 | ((picture >> 8) & 0x7f),
      picture & 0xff,
    ]);
    const body = randomBytes(1200 - descriptor.length);
    if (first) body[0] = picture % 60 === 0 ? 0x10 : 0x11; // a keyframe every 2 s
    out.push(new RtpPacket(header, Buffer.concat([descriptor, body])));
  }
  return out;
}

/** CPU µs of this thread spent by `run`: the least of three runs after a warm-up (GC and a noisy machine only add). */
function cpuOf(run: () => void): number {
  run();
  let least = Infinity;
  for (let i = 0; i < 3; i++) {
    const start = process.threadCpuUsage();
    run();
    const used = process.threadCpuUsage(start);
    least = Math.min(least, used.user + used.system);
  }
  return least;
}

/** ns per packet of each step, with werift as it is at the time of the call. */
function measure(profile: number, packets: RtpPacket[], vp8: 'werift' | 'studio') {
  const { sender, receiver } = srtpPair(profile);
  const wire = packets.map((p) => sender.encrypt(p.payload, p.header));
  const first = receiver();
  const plain = wire.map((w) => first.decrypt(w));
  const unprotect = cpuOf(() => {
    const r = receiver();
    for (const w of wire) r.decrypt(w);
  });
  const parse = cpuOf(() => {
    for (const p of plain) RtpPacket.deSerialize(p);
  });
  const parsed = plain.map((p) => RtpPacket.deSerialize(p));
  const pictures: RtpPacket[][] = [];
  for (let i = 0; i < parsed.length; i += PACKETS_PER_PICTURE)
    pictures.push(parsed.slice(i, i + PACKETS_PER_PICTURE));
  const depacketize = cpuOf(() => {
    if (vp8 === 'werift') for (const picture of pictures) dePacketizeRtpPackets('VP8', picture);
    else for (const picture of pictures) depacketizeVp8(picture.map((p) => p.payload));
  });
  const protect = cpuOf(() => {
    for (const p of parsed) sender.encrypt(p.payload, p.header);
  });
  const ns = (us: number) => round((us * 1000) / packets.length, 0);
  return {
    unprotect: ns(unprotect),
    parse: ns(parse),
    depacketize: ns(depacketize),
    protect: ns(protect),
    receivePath: ns(unprotect + parse + depacketize),
  };
}

const packets = stream(count);
const profiles = [
  ['AEAD_AES_128_GCM', ProtectionProfileAeadAes128Gcm],
  ['AES_CM_128_HMAC_SHA1_80', ProtectionProfileAes128CmHmacSha1_80],
] as const;
const stock = profiles.map(([, profile]) => measure(profile, packets, 'werift'));
installPacketPath();
const studio = profiles.map(([, profile]) => measure(profile, packets, 'studio'));
profiles.forEach(([name], i) => {
  const before = stock[i]!;
  const after = studio[i]!;
  console.log(
    JSON.stringify({
      bench: 'packets',
      srtpProfile: name,
      packets: count,
      nsPerPacketWerift: before,
      nsPerPacketStudio: after,
      receivePathRatio: round(after.receivePath / before.receivePath, 2),
      protectRatio: round(after.protect / before.protect, 2),
    }),
  );
});
