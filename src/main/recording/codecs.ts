/** Codec facts the recorder needs: Matroska codec ids, dimensions and codec private data. */

export type VideoCodec = 'VP8' | 'VP9' | 'H264' | 'AV1';

/** werift's depacketizer name for a codec mime type. */
export function depacketizerName(mimeType: string): 'VP8' | 'VP9' | 'MPEG4/ISO/AVC' | 'AV1' | 'OPUS' | null {
  const name = mimeType.split('/')[1]?.toUpperCase();
  if (name === 'VP8' || name === 'VP9' || name === 'AV1' || name === 'OPUS') return name;
  if (name === 'H264') return 'MPEG4/ISO/AVC';
  return null;
}

export function videoCodecOf(mimeType: string): VideoCodec | null {
  const name = mimeType.split('/')[1]?.toUpperCase();
  return name === 'VP8' || name === 'VP9' || name === 'H264' || name === 'AV1' ? name : null;
}

export const MATROSKA_CODEC_ID: Record<VideoCodec, string> = {
  VP8: 'V_VP8',
  VP9: 'V_VP9',
  H264: 'V_MPEG4/ISO/AVC',
  AV1: 'V_AV1',
};

/**
 * The Opus encoder's look-ahead at 48 kHz (libopus in VOIP and AUDIO modes, as libwebrtc, Chrome,
 * Firefox and ffmpeg use it): the decoded audio of a packet starts 312 samples (6.5 ms) before
 * the instant its RTP timestamp names. RTP does not carry it; a recording declares it as the
 * OpusHead pre-skip and Matroska's CodecDelay, so players take it off and a beep plays with its
 * flash (without it, audio was 5–7 ms late in every recording and composition).
 */
export const OPUS_PRE_SKIP = 312;
/** `OPUS_PRE_SKIP` in nanoseconds (Matroska's CodecDelay). */
export const OPUS_CODEC_DELAY_NS = Math.round((OPUS_PRE_SKIP * 1e9) / 48_000);

/** OpusHead for Matroska's CodecPrivate: 2 channels, 48 kHz, pre-skip `OPUS_PRE_SKIP`. */
export function opusHead(channels = 2): Buffer {
  const head = Buffer.alloc(19);
  head.write('OpusHead', 0, 'ascii');
  head[8] = 1;
  head[9] = channels;
  head.writeUInt16LE(OPUS_PRE_SKIP, 10);
  head.writeUInt32LE(48000, 12);
  head.writeInt16LE(0, 16);
  head[18] = 0;
  return head;
}

/** Length of the VP8 payload descriptor at the start of an RTP payload (RFC 7741 §4.2). */
export function vp8DescriptorLength(payload: Uint8Array): number {
  let length = 1;
  if ((payload[0]! & 0x80) === 0) return length; // no extension byte
  const x = payload[1]!;
  length++;
  if (x & 0x80) length += payload[length]! & 0x80 ? 2 : 1; // PictureID, 7 or 15 bits
  if (x & 0x40) length++; // TL0PICIDX
  if (x & 0x30) length++; // TID / KEYIDX
  return length;
}

/** Whether a VP8 RTP payload starts a picture: S=1 with partition index 0 (RFC 7741 §4.2). */
export function vp8StartsPicture(payload: Uint8Array): boolean {
  return payload.length > 0 && (payload[0]! & 0x17) === 0x10;
}

/**
 * A VP8 picture from its RTP packets' payloads (RFC 7741): each payload without its descriptor,
 * in order; a keyframe when a partition start of partition 0 (S=1, PID=0) begins with the
 * frame tag's P bit clear (RFC 6386 §9.1). A descriptor longer than its payload is an error.
 * werift's depacketizer read each descriptor bit by bit (the recorder's largest per-packet
 * cost after decryption) and skipped the TID/KEYIDX byte only when L or K was set, not T.
 */
export function depacketizeVp8(payloads: readonly Buffer[]): { data: Buffer; keyframe: boolean } {
  const parts: Buffer[] = [];
  let keyframe = false;
  let length = 0;
  for (const payload of payloads) {
    if (payload.length === 0) throw new Error('empty VP8 payload');
    const skip = vp8DescriptorLength(payload);
    if (skip > payload.length) throw new Error('VP8 payload descriptor longer than its packet');
    const part = payload.subarray(skip);
    if (vp8StartsPicture(payload) && part.length > 0 && (part[0]! & 0x01) === 0) keyframe = true;
    parts.push(part);
    length += part.length;
  }
  return { data: parts.length === 1 ? parts[0]! : Buffer.concat(parts, length), keyframe };
}

/** Width and height from a VP8 keyframe (RFC 6386 9.1). */
export function vp8Dimensions(frame: Buffer): { width: number; height: number } | null {
  if (frame.length < 10 || (frame[0]! & 1) !== 0) return null;
  if (frame[3] !== 0x9d || frame[4] !== 0x01 || frame[5] !== 0x2a) return null;
  return { width: frame.readUInt16LE(6) & 0x3fff, height: frame.readUInt16LE(8) & 0x3fff };
}

class BitReader {
  #bit = 0;
  constructor(private readonly data: Buffer) {}
  bit(): number {
    const byte = this.data[this.#bit >> 3];
    if (byte === undefined) throw new Error('bitstream ended');
    const value = (byte >> (7 - (this.#bit & 7))) & 1;
    this.#bit++;
    return value;
  }
  bits(n: number): number {
    let value = 0;
    for (let i = 0; i < n; i++) value = value * 2 + this.bit();
    return value;
  }
  /** Exp-Golomb unsigned. */
  ue(): number {
    let zeros = 0;
    while (this.bit() === 0) if (++zeros > 31) throw new Error('bad exp-golomb code');
    return zeros === 0 ? 0 : 2 ** zeros - 1 + this.bits(zeros);
  }
  se(): number {
    const v = this.ue();
    return v % 2 === 0 ? -(v / 2) : (v + 1) / 2;
  }
}

/** Width and height from a VP9 keyframe's uncompressed header. */
export function vp9Dimensions(frame: Buffer): { width: number; height: number } | null {
  try {
    const r = new BitReader(frame);
    if (r.bits(2) !== 2) return null; // frame_marker
    const profile = r.bit() | (r.bit() << 1);
    if (profile === 3) r.bit();
    if (r.bit() === 1) return null; // show_existing_frame
    if (r.bit() !== 0) return null; // not a keyframe
    r.bit(); // show_frame
    r.bit(); // error_resilient_mode
    if (r.bits(24) !== 0x498342) return null; // sync code
    if (profile >= 2) r.bit(); // ten_or_twelve_bit
    const colorSpace = r.bits(3);
    if (colorSpace !== 7) {
      r.bit(); // color_range
      if (profile === 1 || profile === 3) r.bits(3);
    } else if (profile === 1 || profile === 3) {
      r.bit();
    }
    return { width: r.bits(16) + 1, height: r.bits(16) + 1 };
  } catch {
    return null;
  }
}

/** Splits an Annex B byte stream (00 00 01 / 00 00 00 01 start codes) into NAL units. */
export function annexBNalUnits(data: Buffer): Buffer[] {
  const units: Buffer[] = [];
  let start = -1;
  let i = 0;
  while (i + 2 < data.length) {
    if (data[i] === 0 && data[i + 1] === 0 && data[i + 2] === 1) {
      if (start >= 0) {
        let end = i;
        if (end > start && data[end - 1] === 0) end--;
        units.push(data.subarray(start, end));
      }
      i += 3;
      start = i;
    } else {
      i++;
    }
  }
  if (start >= 0 && start < data.length) units.push(data.subarray(start));
  return units.filter((u) => u.length > 0);
}

/** Annex B → length-prefixed NAL units (AVCC), as Matroska stores H.264. */
export function annexBToAvcc(data: Buffer): Buffer {
  const units = annexBNalUnits(data);
  if (units.length === 0) return data;
  return Buffer.concat(
    units.flatMap((unit) => {
      const length = Buffer.alloc(4);
      length.writeUInt32BE(unit.length);
      return [length, unit];
    }),
  );
}

function unescapeRbsp(nal: Buffer): Buffer {
  const out: number[] = [];
  for (let i = 0; i < nal.length; i++) {
    if (i >= 2 && nal[i] === 3 && nal[i - 1] === 0 && nal[i - 2] === 0) continue;
    out.push(nal[i]!);
  }
  return Buffer.from(out);
}

/** Width and height from an H.264 SPS NAL unit (with its header byte). */
export function h264SpsDimensions(sps: Buffer): { width: number; height: number } | null {
  try {
    const r = new BitReader(unescapeRbsp(sps.subarray(1)));
    const profile = r.bits(8);
    r.bits(8); // constraint flags
    r.bits(8); // level
    r.ue(); // seq_parameter_set_id
    let chromaFormat = 1;
    if ([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135].includes(profile)) {
      chromaFormat = r.ue();
      if (chromaFormat === 3) r.bit();
      r.ue();
      r.ue();
      r.bit();
      if (r.bit() === 1) {
        for (let i = 0; i < (chromaFormat !== 3 ? 8 : 12); i++) {
          if (r.bit() === 1) {
            let last = 8;
            let next = 8;
            for (let j = 0; j < (i < 6 ? 16 : 64); j++) {
              if (next !== 0) next = (last + r.se() + 256) % 256;
              last = next === 0 ? last : next;
            }
          }
        }
      }
    }
    r.ue(); // log2_max_frame_num_minus4
    const pocType = r.ue();
    if (pocType === 0) r.ue();
    else if (pocType === 1) {
      r.bit();
      r.se();
      r.se();
      const n = r.ue();
      for (let i = 0; i < n; i++) r.se();
    }
    r.ue(); // max_num_ref_frames
    r.bit();
    const widthMbs = r.ue() + 1;
    const heightMapUnits = r.ue() + 1;
    const frameMbsOnly = r.bit();
    if (frameMbsOnly === 0) r.bit();
    r.bit();
    let crop = { left: 0, right: 0, top: 0, bottom: 0 };
    if (r.bit() === 1) crop = { left: r.ue(), right: r.ue(), top: r.ue(), bottom: r.ue() };
    const subW = chromaFormat === 1 || chromaFormat === 2 ? 2 : 1;
    const subH = (chromaFormat === 1 ? 2 : 1) * (2 - frameMbsOnly);
    return {
      width: widthMbs * 16 - subW * (crop.left + crop.right),
      height: (2 - frameMbsOnly) * heightMapUnits * 16 - subH * (crop.top + crop.bottom),
    };
  } catch {
    return null;
  }
}

/** The avcC record (Matroska CodecPrivate) from the SPS and PPS of a keyframe. */
export function avcDecoderConfig(frame: Buffer): { config: Buffer; width: number; height: number } | null {
  const units = annexBNalUnits(frame);
  const sps = units.find((u) => (u[0]! & 0x1f) === 7);
  const pps = units.find((u) => (u[0]! & 0x1f) === 8);
  if (sps === undefined || pps === undefined || sps.length < 4) return null;
  const dims = h264SpsDimensions(sps) ?? { width: 640, height: 480 };
  const spsLength = Buffer.alloc(2);
  spsLength.writeUInt16BE(sps.length);
  const ppsLength = Buffer.alloc(2);
  ppsLength.writeUInt16BE(pps.length);
  const config = Buffer.concat([
    Buffer.from([1, sps[1]!, sps[2]!, sps[3]!, 0xff, 0xe1]),
    spsLength,
    sps,
    Buffer.from([1]),
    ppsLength,
    pps,
  ]);
  return { config, ...dims };
}

/** AV1: reads the sequence header OBU of a keyframe for av1C and dimensions. */
export function av1DecoderConfig(frame: Buffer): { config: Buffer; width: number; height: number } | null {
  try {
    let offset = 0;
    while (offset < frame.length) {
      const header = frame[offset]!;
      const type = (header >> 3) & 0x0f;
      const hasExtension = (header >> 2) & 1;
      const hasSize = (header >> 1) & 1;
      let cursor = offset + 1 + hasExtension;
      let size = frame.length - cursor;
      if (hasSize) {
        size = 0;
        for (let i = 0; i < 8; i++) {
          const byte = frame[cursor++]!;
          size |= (byte & 0x7f) << (i * 7);
          if ((byte & 0x80) === 0) break;
        }
      }
      if (type === 1) {
        const obu = frame.subarray(offset, cursor + size);
        const r = new BitReader(frame.subarray(cursor, cursor + size));
        const profile = r.bits(3);
        r.bit(); // still_picture
        const reduced = r.bit();
        let level = 0;
        let tier = 0;
        if (reduced) level = r.bits(5);
        else {
          const timingInfo = r.bit();
          let decoderModelInfo = 0;
          if (timingInfo) {
            r.bits(32);
            r.bits(32);
            if (r.bit()) r.ue();
            decoderModelInfo = r.bit();
            if (decoderModelInfo) {
              r.bits(5);
              r.bits(32);
              r.bits(5);
              r.bits(5);
            }
          }
          const initialDisplayDelay = r.bit();
          const count = r.bits(5) + 1;
          for (let i = 0; i < count; i++) {
            r.bits(12);
            const l = r.bits(5);
            const t = l > 7 ? r.bit() : 0;
            if (i === 0) {
              level = l;
              tier = t;
            }
            if (decoderModelInfo && r.bit()) r.bits(5 * 2 + 1);
            if (initialDisplayDelay && r.bit()) r.bits(4);
          }
        }
        const widthBits = r.bits(4) + 1;
        const heightBits = r.bits(4) + 1;
        const width = r.bits(widthBits) + 1;
        const height = r.bits(heightBits) + 1;
        const config = Buffer.concat([
          Buffer.from([0x81, (profile << 5) | level, (tier << 7) | 0x0c, 0x00]),
          obu,
        ]);
        // av1C says 8-bit 4:2:0, which is what WebRTC encoders send.
        return { config, width, height };
      }
      offset = cursor + size;
    }
  } catch {
    return null;
  }
  return null;
}

/** Samples (at 48 kHz) of one Opus frame of each TOC configuration (RFC 6716 §3.1). */
const OPUS_FRAME_SAMPLES = [
  480, 960, 1920, 2880, 480, 960, 1920, 2880, 480, 960, 1920, 2880, 480, 960, 480, 960, 120, 240, 480, 960,
  120, 240, 480, 960, 120, 240, 480, 960, 120, 240, 480, 960,
];

/** Samples (48 kHz) an Opus packet decodes to, from its TOC byte; null when it is malformed. */
export function opusPacketSamples(packet: Buffer): number | null {
  if (packet.length === 0) return null;
  const toc = packet[0]!;
  const frame = OPUS_FRAME_SAMPLES[toc >> 3]!;
  switch (toc & 3) {
    case 0:
      return frame;
    case 1:
    case 2:
      return 2 * frame;
    default: {
      if (packet.length < 2) return null;
      const count = packet[1]! & 0x3f;
      return count === 0 || count * frame > 5760 ? null : count * frame;
    }
  }
}

/** A 20 ms Opus packet that decodes to silence (CELT, fullband, no coded energy). */
export const OPUS_SILENCE_20MS = Buffer.from([0xf8, 0xff, 0xfe]);
