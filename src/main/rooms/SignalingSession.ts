import { StudioError } from '../../shared/errors';
import { clientMessageSchema, type ServerMessage } from '../../shared/signaling';
import { parseWith } from '../../shared/validation';
import type { Logger } from '../logger';
import type { Participant } from './Participant';
import { HEARTBEAT_SEC, type RoomService } from './RoomService';

/** Largest signaling message accepted. */
export const MAX_MESSAGE_BYTES = 256 * 1024;

/** Per-connection limits: what one guest may cost the studio. */
export const SIGNALING_LIMITS = {
  /** Messages per second; beyond it messages are refused, and at 4× the connection is closed. */
  messagesPerSec: 50,
  /** Mute changes per second (each one is an event to every participant and the outbox). */
  mutesPerSec: 10,
  /** Streams one connection may publish at once. */
  streamsPerConnection: 4,
};

/** Recording options a moderator may pass when starting a recording from the room. */
const MODERATOR_RECORD_OPTIONS = new Set([
  'name',
  'hasAudio',
  'hasVideo',
  'outputMode',
  'streamMode',
  'resolution',
  'layout',
  'format',
]);

/** Counts of what the limits refused, for the logs and tests. */
export const signalingCounters = { rateLimited: 0, closedForFlooding: 0 };

/** Counts events in the current one-second window. */
class Window {
  #start = 0;
  #count = 0;

  /** Counts one event; returns how many fell in the current second. */
  hit(now = Date.now()): number {
    if (now - this.#start >= 1000) {
      this.#start = now;
      this.#count = 0;
    }
    return ++this.#count;
  }
}

/**
 * One signaling channel (a WebSocket of a guest page or the operator UI). Messages are
 * validated, then handled one at a time in arrival order; a bad message gets an error back
 * and never affects the room.
 */
export class SignalingSession {
  readonly #rooms: RoomService;
  readonly #send: (message: ServerMessage) => void;
  readonly #end: (reason: string) => void;
  readonly #logger: Logger;
  #participant: Participant | null = null;
  #queue: Promise<void> = Promise.resolve();
  #closed = false;
  readonly #messages = new Window();
  readonly #mutes = new Window();

  constructor(
    rooms: RoomService,
    send: (message: ServerMessage) => void,
    end: (reason: string) => void,
    logger: Logger,
  ) {
    this.#rooms = rooms;
    this.#send = send;
    this.#end = end;
    this.#logger = logger;
  }

  get participant(): Participant | null {
    return this.#participant;
  }

  /** Handles one raw message from the client. */
  receive(raw: string): void {
    if (this.#closed) return;
    const count = this.#messages.hit();
    if (count > SIGNALING_LIMITS.messagesPerSec) {
      signalingCounters.rateLimited++;
      if (count > 4 * SIGNALING_LIMITS.messagesPerSec) {
        signalingCounters.closedForFlooding++;
        this.#logger.warn({ connectionId: this.#participant?.id }, 'signaling flood: connection closed');
        this.#end('too many messages');
        this.close('too many messages');
      } else if (count === SIGNALING_LIMITS.messagesPerSec + 1) {
        this.#send({
          type: 'error',
          code: 'RateLimited',
          message: `more than ${SIGNALING_LIMITS.messagesPerSec} messages a second; slow down`,
        });
      }
      return;
    }
    if (this.#participant !== null) this.#participant.lastSeen = Date.now();
    this.#queue = this.#queue.then(() => this.#handle(raw)).catch(() => {});
  }

  async #handle(raw: string): Promise<void> {
    let requestId: string | undefined;
    try {
      if (raw.length > MAX_MESSAGE_BYTES) throw new StudioError('InvalidArgument', 'message is too large');
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw);
      } catch {
        throw new StudioError('InvalidArgument', 'message is not valid JSON');
      }
      if (
        parsed !== null &&
        typeof parsed === 'object' &&
        typeof (parsed as { requestId?: unknown }).requestId === 'string'
      ) {
        requestId = (parsed as { requestId: string }).requestId;
      }
      const message = parseWith(clientMessageSchema, parsed, 'message');
      if (message.type === 'ping') {
        this.#send({ type: 'pong' });
        return;
      }
      if (message.type === 'join') {
        if (this.#participant !== null) throw new StudioError('Conflict', 'already joined', 'type');
        const claims = await this.#rooms.tokens.verify(message.token, message.roomId);
        await this.#rooms.mediaReady();
        if (this.#participant !== null) throw new StudioError('Conflict', 'already joined', 'type');
        const participant = this.#rooms.connect(claims, 'browser', this.#send, message.resume);
        this.#participant = participant;
        participant.once('close', (reason) => this.#end(reason));
        const room = this.#rooms.live(claims.roomId)!;
        this.#send({
          type: 'joined',
          ...(requestId !== undefined ? { requestId } : {}),
          connectionId: participant.id,
          sessionId: room.session.id,
          resumed: participant.resumed,
          role: participant.info.role,
          room: { id: room.id, name: room.record.name },
          connections: [...room.participants.values()].map((p) => p.info),
          streams: [...room.streams.values()].map((s) => s.info()),
          recording: this.#rooms.recordingState(room.id),
          heartbeatSec: HEARTBEAT_SEC,
        });
        return;
      }
      const participant = this.#participant;
      if (participant === null || participant.closed) {
        throw new StudioError('Conflict', `"${message.type}" before "join": join the room first`, 'type');
      }
      switch (message.type) {
        case 'publish': {
          if (participant.streams.size >= SIGNALING_LIMITS.streamsPerConnection) {
            throw new StudioError(
              'Conflict',
              `a connection may publish at most ${SIGNALING_LIMITS.streamsPerConnection} streams`,
              'type',
            );
          }
          const stream = this.#rooms.publish(
            participant,
            { videoType: message.videoType ?? 'camera', audio: message.audio, video: message.video },
            requestId,
          );
          this.#send({
            type: 'published',
            ...(requestId !== undefined ? { requestId } : {}),
            stream: stream.info(),
          });
          return;
        }
        case 'answer':
          await participant.peer!.handleAnswer(message.sdp);
          return;
        case 'candidate':
          await participant.peer!.addCandidate(message.candidate ?? null);
          return;
        case 'unpublish':
          this.#rooms.unpublish(participant, message.streamId);
          this.#ok(requestId);
          return;
        case 'mute':
          if (this.#mutes.hit() > SIGNALING_LIMITS.mutesPerSec) {
            throw new StudioError(
              'RateLimited',
              `more than ${SIGNALING_LIMITS.mutesPerSec} mute changes a second`,
              'type',
            );
          }
          this.#rooms.setMuted(participant, message.streamId, {
            ...(message.audio !== undefined ? { audio: message.audio } : {}),
            ...(message.video !== undefined ? { video: message.video } : {}),
          });
          return;
        case 'startRecording': {
          const options = message.options ?? {};
          for (const key of Object.keys(options)) {
            if (!MODERATOR_RECORD_OPTIONS.has(key)) {
              throw new StudioError(
                'InvalidArgument',
                `recording option ${key} cannot be set from the room (allowed: ${[...MODERATOR_RECORD_OPTIONS].join(', ')})`,
                `options.${key}`,
              );
            }
          }
          const archive = await this.#rooms.startRecording(participant, options);
          this.#ok(requestId, { archiveId: archive.id });
          return;
        }
        case 'stopRecording':
          await this.#rooms.stopRecording(participant, message.archiveId);
          this.#ok(requestId);
          return;
        case 'leave':
          participant.close('left');
          return;
      }
    } catch (error) {
      const studio = error instanceof StudioError ? error : null;
      if (studio === null) this.#logger.error({ err: error }, 'signaling message failed');
      this.#send({
        type: 'error',
        ...(requestId !== undefined ? { requestId } : {}),
        code: studio?.code ?? 'Internal',
        message: studio?.message ?? 'internal error',
        ...(studio?.field !== undefined ? { field: studio.field } : {}),
      });
    }
  }

  #ok(requestId: string | undefined, result?: unknown): void {
    this.#send({
      type: 'ok',
      ...(requestId !== undefined ? { requestId } : {}),
      ...(result !== undefined ? { result } : {}),
    });
  }

  /** The transport closed: the participant leaves at once. */
  close(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#participant?.close(reason);
  }
}
