import { z } from 'zod';
import type { ConnectionInfo, StreamInfo } from './events/rooms';

export const ROLES = ['moderator', 'publisher', 'subscriber'] as const;
export type Role = (typeof ROLES)[number];

export const VIDEO_CODECS = ['VP8', 'VP9', 'H264', 'AV1'] as const;
export type VideoCodecName = (typeof VIDEO_CODECS)[number];

const resolution = z
  .string()
  .regex(/^\d{2,4}x\d{2,4}$/, 'must look like 1280x720')
  .refine((v) => {
    const [w, h] = v.split('x').map(Number) as [number, number];
    return w % 2 === 0 && h % 2 === 0 && w <= 1920 && h <= 1920 && w >= 16 && h >= 16;
  }, 'must be even sizes of at most 1920 per side');

/** Recording defaults of a room: what an archive started in it uses unless told otherwise. */
export const recordingDefaultsSchema = z.strictObject({
  name: z.string().max(200, 'must be at most 200 characters').optional(),
  outputMode: z.enum(['composed', 'individual']).default('individual'),
  streamMode: z.enum(['auto', 'manual']).default('auto'),
  format: z.enum(['webm', 'mp4']).default('webm'),
  hasAudio: z.boolean().default(true),
  hasVideo: z.boolean().default(true),
  resolution: resolution.default('1280x720'),
  splitDuration: z
    .number()
    .int('must be whole seconds')
    .min(5, 'must be at least 5 seconds')
    .max(86_400)
    .optional(),
  splitOnly: z.boolean().optional(),
});
export type RecordingDefaults = z.output<typeof recordingDefaultsSchema>;

const roomName = z.string().trim().min(1, 'must not be empty').max(100, 'must be at most 100 characters');

/** `POST /api/rooms` body. */
export const createRoomSchema = z.strictObject({
  name: roomName,
  /** Record automatically from the first join to the end of the session. */
  autoRecord: z.boolean().default(false),
  maxParticipants: z
    .number()
    .int('must be a whole number')
    .min(1, 'must be at least 1')
    .max(100, 'must be at most 100')
    .default(16),
  /** Video codec offered first to publishers. */
  preferredVideoCodec: z.enum(VIDEO_CODECS).default('VP8'),
  recording: recordingDefaultsSchema.default(() => recordingDefaultsSchema.parse({})),
});
export type CreateRoom = z.input<typeof createRoomSchema>;

/** `PATCH /api/rooms/{id}` body: any subset of the fields. */
export const updateRoomSchema = z.strictObject({
  name: roomName.optional(),
  autoRecord: z.boolean().optional(),
  maxParticipants: z
    .number()
    .int('must be a whole number')
    .min(1, 'must be at least 1')
    .max(100, 'must be at most 100')
    .optional(),
  preferredVideoCodec: z.enum(VIDEO_CODECS).optional(),
  recording: recordingDefaultsSchema.partial().optional(),
});

export interface RoomSettings {
  autoRecord: boolean;
  maxParticipants: number;
  preferredVideoCodec: VideoCodecName;
  recording: RecordingDefaults;
}

/** `POST /api/rooms/{id}/tokens` body. */
export const createTokenSchema = z.strictObject({
  role: z.enum(ROLES).default('publisher'),
  /** Seconds from now until the token expires (default 24 h, at most 30 days). */
  expiresInSec: z
    .number()
    .int('must be whole seconds')
    .min(1, 'must be at least 1')
    .max(30 * 86_400, 'must be at most 30 days')
    .default(86_400),
  /** Free text shown to others and copied into archive manifests (OpenTok connection data). */
  connectionData: z.string().max(1000, 'must be at most 1000 characters').default(''),
  /** This connection's media is never recorded. */
  recordingBlock: z.boolean().default(false),
});

export interface TokenResponse {
  token: string;
  joinUrl: string;
  /** The join URL on the LAN (HTTPS), when a LAN address is configured. */
  lanJoinUrl: string | null;
  whipUrl: string;
  expiresAt: number;
  role: Role;
}

export interface RoomJson {
  id: string;
  name: string;
  autoRecord: boolean;
  maxParticipants: number;
  preferredVideoCodec: VideoCodecName;
  recording: RecordingDefaults;
  createdAt: number;
  updatedAt: number;
  /** The live session, when anyone is in the room. */
  session: LiveSessionJson | null;
}

export interface LiveSessionJson {
  id: string;
  startedAt: number;
  connections: ConnectionInfo[];
  streams: StreamInfo[];
  /** Archives recording now. */
  recording: Array<{
    archiveId: string;
    status: 'started' | 'paused';
    name: string | null;
    startedAt: number;
  }>;
}
