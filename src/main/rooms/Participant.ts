import type { VideoType } from '../../shared/archive';
import type { ConnectionInfo } from '../../shared/events/rooms';
import type { ServerMessage } from '../../shared/signaling';
import { TypedEmitter } from '../util/TypedEmitter';
import type { MediaPeer } from './MediaPeer';
import type { Stream } from './Stream';

export interface ParticipantEvents {
  [key: string]: unknown[];
  close: [reason: string];
}

/**
 * One connection in a live room: a guest page, the operator UI or a WHIP client. Browser
 * participants have a signaling channel and a peer that also receives the others' streams;
 * WHIP participants only publish.
 */
export class Participant extends TypedEmitter<ParticipantEvents> {
  readonly info: ConnectionInfo;
  /** The peer connection forwarding others' streams to this participant, if it receives. */
  readonly peer: MediaPeer | null;
  readonly streams = new Map<string, Stream>();
  readonly #send: (message: ServerMessage) => void;
  /**
   * Streams of the connection this one resumes (after a media worker ended): a stream published
   * again with the same video type takes the id of the first of them (RoomService).
   */
  readonly resumedStreams: Array<{
    id: string;
    videoType: VideoType | null;
    layoutClassList: readonly string[];
  }> = [];
  /** This participant resumed a connection (its id is the old one's). */
  resumed = false;
  /** Last time anything was heard from the client (heartbeat). */
  lastSeen = Date.now();
  #closed = false;

  constructor(info: ConnectionInfo, peer: MediaPeer | null, send: (message: ServerMessage) => void) {
    super();
    this.info = info;
    this.peer = peer;
    this.#send = send;
  }

  get id(): string {
    return this.info.id;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Whether this participant receives the others' media. */
  get receives(): boolean {
    return this.peer !== null;
  }

  send(message: ServerMessage): void {
    if (!this.#closed) this.#send(message);
  }

  close(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const stream of this.streams.values()) stream.close(reason);
    this.streams.clear();
    this.peer?.close(reason);
    this.safeEmit('close', reason);
    this.removeAllListeners();
  }
}
