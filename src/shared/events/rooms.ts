import type { VideoType } from '../archive';

export interface ConnectionInfo {
  id: string;
  roomId: string;
  sessionId: string;
  role: 'moderator' | 'publisher' | 'subscriber';
  connectionData: string;
  recordingBlock: boolean;
  /** `browser` (join page), `whip` (WHIP client), `operator` (the studio UI). */
  kind: 'browser' | 'whip' | 'operator';
  createdAt: number;
}

export interface StreamInfo {
  id: string;
  connectionId: string;
  roomId: string;
  sessionId: string;
  videoType: VideoType | null;
  hasAudio: boolean;
  hasVideo: boolean;
  audioMuted: boolean;
  videoMuted: boolean;
  /** e.g. `{ audio: 'opus', video: 'VP8' }`. */
  codecs: { audio?: string; video?: string };
  /** OpenTok layout classes (optional: older events have none). */
  layoutClassList?: string[];
  createdAt: number;
}

export interface SessionInfo {
  id: string;
  roomId: string;
  startedAt: number;
  endedAt: number | null;
}

export interface RoomEventPayloads {
  'room.created': { id: string; name: string };
  'room.updated': { id: string; name: string };
  'room.deleted': { id: string };
  'session.created': SessionInfo;
  'session.destroyed': SessionInfo;
  'connection.created': ConnectionInfo;
  'connection.destroyed': ConnectionInfo & { reason: string };
  'stream.created': StreamInfo;
  'stream.updated': StreamInfo;
  'stream.destroyed': StreamInfo & { reason: string };
}
