/**
 * The signaling protocol between a guest page (or the operator UI) and the studio: JSON over
 * WebSocket at `/signaling`. Documented in docs/signaling.md. The studio is always the SDP
 * offerer, so there is never glare: clients only answer.
 */
import { z } from 'zod';
import type { ArchiveJson } from './archive';
import type { ConnectionInfo, StreamInfo } from './events/rooms';
import type { Role } from './rooms';

const requestId = z.string().max(64).optional();

export const clientMessageSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('join'),
    token: z.string().min(1).max(4096),
    /** The room the client means to join (the join page's URL); the token must be for it. */
    roomId: z.string().min(1).max(64).optional(),
    /**
     * The `resume` of a `reconnect` message: the connection joins again as itself (same
     * connection id) and its streams, published again, keep their ids (a new segment each).
     */
    resume: z.string().min(1).max(128).optional(),
    requestId,
  }),
  z.strictObject({
    type: z.literal('publish'),
    requestId,
    videoType: z.enum(['camera', 'screen', 'custom']).default('camera'),
    audio: z.boolean(),
    video: z.boolean(),
  }),
  z.strictObject({ type: z.literal('answer'), sdp: z.string().min(1).max(200_000), requestId }),
  z.strictObject({
    type: z.literal('candidate'),
    candidate: z
      .strictObject({
        candidate: z.string().max(2000),
        sdpMid: z.string().max(64).nullable().optional(),
        sdpMLineIndex: z.number().int().min(0).max(1000).nullable().optional(),
        usernameFragment: z.string().max(256).nullable().optional(),
      })
      .nullable(),
  }),
  z.strictObject({ type: z.literal('unpublish'), streamId: z.string().min(1).max(64), requestId }),
  z.strictObject({
    type: z.literal('mute'),
    streamId: z.string().min(1).max(64),
    audio: z.boolean().optional(),
    video: z.boolean().optional(),
  }),
  z.strictObject({
    type: z.literal('startRecording'),
    requestId,
    options: z.record(z.string(), z.unknown()).default({}),
  }),
  z.strictObject({
    type: z.literal('stopRecording'),
    requestId,
    archiveId: z.string().min(1).max(64).optional(),
  }),
  z.strictObject({ type: z.literal('ping') }),
  z.strictObject({ type: z.literal('leave') }),
]);
export type ClientMessage = z.input<typeof clientMessageSchema>;

/** Which m-lines of an offer carry which stream. */
export interface StreamMids {
  streamId: string;
  connectionId: string;
  audio?: string;
  video?: string;
}

export interface RecordingState {
  active: boolean;
  archives: Array<Pick<ArchiveJson, 'id' | 'name' | 'status' | 'createdAt'>>;
}

export type ServerMessage =
  | {
      type: 'joined';
      requestId?: string;
      connectionId: string;
      sessionId: string;
      /** The join resumed the connection a `reconnect` ended (its id and its streams' ids kept). */
      resumed: boolean;
      role: Role;
      room: { id: string; name: string };
      connections: ConnectionInfo[];
      streams: StreamInfo[];
      recording: RecordingState;
      /** Seconds between the client's pings; the studio drops a client silent for 3 intervals. */
      heartbeatSec: number;
    }
  | {
      type: 'offer';
      sdp: string;
      /** Streams of others this client receives, by m-line. */
      subscriptions: StreamMids[];
      /** Streams this client publishes that are new in this offer: the m-lines it sends them on. */
      publishes: Array<{ requestId?: string; streamId: string; audio?: string; video?: string }>;
    }
  | { type: 'published'; requestId?: string; stream: StreamInfo }
  | { type: 'connection-created'; connection: ConnectionInfo }
  | { type: 'connection-destroyed'; connection: ConnectionInfo; reason: string }
  | { type: 'stream-created'; stream: StreamInfo }
  | { type: 'stream-updated'; stream: StreamInfo }
  | { type: 'stream-destroyed'; stream: StreamInfo; reason: string }
  | {
      type: 'recording';
      recording: RecordingState;
      archive?: Pick<ArchiveJson, 'id' | 'name' | 'status' | 'reason'>;
    }
  | { type: 'ok'; requestId?: string; result?: unknown }
  | { type: 'error'; requestId?: string; code: string; message: string; field?: string }
  | { type: 'pong' }
  | { type: 'bye'; reason: string }
  /**
   * The studio lost this connection's media (a media worker ended): join again with the same
   * token and `resume` within `resumeWithinSec`, and publish again.
   */
  | { type: 'reconnect'; reason: string; resume: string; resumeWithinSec: number };
