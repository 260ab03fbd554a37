/** Minimal EBML (Matroska/WebM) encoding: element IDs, sizes and values. */

export const ID = {
  EBML: 0x1a45dfa3,
  EBMLVersion: 0x4286,
  EBMLReadVersion: 0x42f7,
  EBMLMaxIDLength: 0x42f2,
  EBMLMaxSizeLength: 0x42f3,
  DocType: 0x4282,
  DocTypeVersion: 0x4287,
  DocTypeReadVersion: 0x4285,
  Segment: 0x18538067,
  SeekHead: 0x114d9b74,
  Seek: 0x4dbb,
  SeekID: 0x53ab,
  SeekPosition: 0x53ac,
  Void: 0xec,
  Info: 0x1549a966,
  TimestampScale: 0x2ad7b1,
  Duration: 0x4489,
  DateUTC: 0x4461,
  MuxingApp: 0x4d80,
  WritingApp: 0x5741,
  Tracks: 0x1654ae6b,
  TrackEntry: 0xae,
  TrackNumber: 0xd7,
  TrackUID: 0x73c5,
  TrackType: 0x83,
  FlagLacing: 0x9c,
  CodecID: 0x86,
  CodecPrivate: 0x63a2,
  CodecDelay: 0x56aa,
  SeekPreRoll: 0x56bb,
  Video: 0xe0,
  PixelWidth: 0xb0,
  PixelHeight: 0xba,
  Audio: 0xe1,
  SamplingFrequency: 0xb5,
  Channels: 0x9f,
  Cluster: 0x1f43b675,
  Timestamp: 0xe7,
  SimpleBlock: 0xa3,
  Cues: 0x1c53bb6b,
  CuePoint: 0xbb,
  CueTime: 0xb3,
  CueTrackPositions: 0xb7,
  CueTrack: 0xf7,
  CueClusterPosition: 0xf1,
} as const;

/** The bytes of an element ID (IDs carry their own length marker). */
export function idBytes(id: number): Buffer {
  const bytes: number[] = [];
  let v = id;
  while (v > 0) {
    bytes.unshift(v & 0xff);
    v = Math.floor(v / 256);
  }
  return Buffer.from(bytes);
}

/** An EBML variable-length size; `width` forces a length (1–8 bytes). */
export function vint(value: number, width?: number): Buffer {
  let length = width ?? 1;
  if (width === undefined) while (length < 8 && value >= 2 ** (7 * length) - 1) length++;
  const out = Buffer.alloc(length);
  let v = value;
  for (let i = length - 1; i >= 0; i--) {
    out[i] = v & 0xff;
    v = Math.floor(v / 256);
  }
  out[0]! |= 1 << (8 - length);
  return out;
}

/** The 8-byte "unknown size" marker (a segment being written). */
export const UNKNOWN_SIZE = Buffer.from([0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);

export function element(id: number, data: Buffer | Buffer[]): Buffer {
  const body = Array.isArray(data) ? Buffer.concat(data) : data;
  return Buffer.concat([idBytes(id), vint(body.length), body]);
}

export function uint(id: number, value: number | bigint): Buffer {
  let v = BigInt(value);
  const bytes: number[] = [];
  do {
    bytes.unshift(Number(v & 0xffn));
    v >>= 8n;
  } while (v > 0n);
  return element(id, Buffer.from(bytes));
}

export function int(id: number, value: bigint): Buffer {
  const data = Buffer.alloc(8);
  data.writeBigInt64BE(value);
  return element(id, data);
}

export function float(id: number, value: number): Buffer {
  const data = Buffer.alloc(8);
  data.writeDoubleBE(value);
  return element(id, data);
}

export function string(id: number, value: string): Buffer {
  return element(id, Buffer.from(value, 'utf8'));
}

/** A Void element of exactly `total` bytes (at least 2), to reserve space for a later rewrite. */
export function voidElement(total: number): Buffer {
  if (total < 2) throw new Error('a Void element needs at least 2 bytes');
  // One ID byte; the size takes 1 byte up to 127 bytes of payload, else 8 bytes.
  const sizeWidth = total - 2 <= 126 ? 1 : 8;
  const payload = total - 1 - sizeWidth;
  return Buffer.concat([Buffer.from([ID.Void]), vint(payload, sizeWidth), Buffer.alloc(payload)]);
}
