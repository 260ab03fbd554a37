import type { ServerMessage } from '../../shared/signaling';
import type { SessionInfo } from '../../shared/events/rooms';
import type { RoomRecord } from '../store/RoomRepository';
import { TypedEmitter } from '../util/TypedEmitter';
import type { Participant } from './Participant';
import type { Stream } from './Stream';

export interface LiveRoomEvents {
  [key: string]: unknown[];
  participantAdded: [Participant];
  participantRemoved: [Participant, reason: string];
  streamAdded: [Stream];
  streamUpdated: [Stream];
  streamRemoved: [Stream, reason: string];
  /** The last participant left (the session may still end after the grace period). */
  empty: [];
  close: [];
}

/**
 * A room while someone is in it: one session, its participants and their streams. Every
 * participant that receives gets every other participant's streams.
 */
export class LiveRoom extends TypedEmitter<LiveRoomEvents> {
  record: RoomRecord;
  readonly session: SessionInfo;
  readonly participants = new Map<string, Participant>();
  readonly streams = new Map<string, Stream>();
  #closed = false;

  constructor(record: RoomRecord, session: SessionInfo) {
    super();
    this.record = record;
    this.session = session;
  }

  get id(): string {
    return this.record.id;
  }

  get closed(): boolean {
    return this.#closed;
  }

  addParticipant(participant: Participant): void {
    this.participants.set(participant.id, participant);
    this.broadcast({ type: 'connection-created', connection: participant.info }, participant.id);
    if (participant.peer !== null) {
      for (const stream of this.streams.values()) {
        if (stream.connectionId !== participant.id) participant.peer.subscribe(stream);
      }
    }
    participant.once('close', (reason) => this.#removeParticipant(participant, reason));
    this.safeEmit('participantAdded', participant);
  }

  #removeParticipant(participant: Participant, reason: string): void {
    if (!this.participants.delete(participant.id)) return;
    this.broadcast({ type: 'connection-destroyed', connection: participant.info, reason });
    this.safeEmit('participantRemoved', participant, reason);
    if (this.participants.size === 0) this.safeEmit('empty');
  }

  /** Adds a published stream and forwards it to every other receiving participant. */
  addStream(stream: Stream, publisher: Participant): void {
    this.streams.set(stream.id, stream);
    publisher.streams.set(stream.id, stream);
    for (const participant of this.participants.values()) {
      if (participant.id !== publisher.id && participant.peer !== null) participant.peer.subscribe(stream);
    }
    stream.on('updated', () => {
      this.broadcast({ type: 'stream-updated', stream: stream.info() });
      this.safeEmit('streamUpdated', stream);
    });
    stream.once('close', (reason) => {
      this.streams.delete(stream.id);
      publisher.streams.delete(stream.id);
      for (const participant of this.participants.values()) participant.peer?.unsubscribe(stream.id);
      this.broadcast({ type: 'stream-destroyed', stream: stream.info(), reason });
      this.safeEmit('streamRemoved', stream, reason);
    });
    this.broadcast({ type: 'stream-created', stream: stream.info() });
    this.safeEmit('streamAdded', stream);
  }

  /** Sends a signaling message to every participant (but one). */
  broadcast(message: ServerMessage, exceptId?: string): void {
    for (const participant of this.participants.values()) {
      if (participant.id !== exceptId) participant.send(message);
    }
  }

  close(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const participant of [...this.participants.values()]) {
      participant.send({ type: 'bye', reason });
      participant.close(reason);
    }
    this.safeEmit('close');
    this.removeAllListeners();
  }
}
