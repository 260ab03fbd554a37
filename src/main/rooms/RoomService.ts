import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type BetterSqlite3 from 'better-sqlite3';
import type { RTCPeerConnection } from 'werift';
import type { VideoType } from '../../shared/archive';
import { conflict, notFound, StudioError } from '../../shared/errors';
import type { ConnectionInfo, SessionInfo } from '../../shared/events/rooms';
import {
  createRoomSchema,
  createTokenSchema,
  recordingDefaultsSchema,
  updateRoomSchema,
  type RoomJson,
  type RoomSettings,
  type TokenResponse,
} from '../../shared/rooms';
import type { RecordingState, ServerMessage } from '../../shared/signaling';
import { parseWith } from '../../shared/validation';
import type { Settings } from '../config/schema';
import type { EventBus } from '../events/EventBus';
import type { Logger } from '../logger';
import { RoomRepository, type RoomRecord } from '../store/RoomRepository';
import { TypedEmitter } from '../util/TypedEmitter';
import type { LocalMedia } from './loadLocalMedia';
import { JoinTokens, linkExpired, type JoinClaims } from './JoinTokens';
import { LiveRoom } from './LiveRoom';
import { Participant } from './Participant';
import type { MediaPeer } from './MediaPeer';
import { RemoteMedia, WORKER_DIED } from './RemoteMedia';
import { WorkerPeer } from './WorkerPeer';
import type { WorkerPool } from '../workers/WorkerPool';
import type { MediaWorker } from '../workers/MediaWorker';
import type { RtcNetwork } from './rtcConfig';
import { checkSdp, icePwd, iceUfrag, normalizeLineEndings } from './sdp';
import { Stream, type MediaKind } from './Stream';
import { guarded } from '../util/guarded';

/** What the rooms need from whoever records them (set by the composition root). */
export interface RecordingControl {
  /** Starts an archive of a room (moderator over signaling). */
  start(roomId: string, options: Record<string, unknown>): Promise<{ id: string }>;
  /** Stops one archive, or every archive of the room. */
  stop(roomId: string, archiveId?: string): Promise<void>;
  /** Archives recording a room now. */
  state(roomId: string): RecordingState;
  /** How long an emptied room's session must stay open for its recordings (automatic archives). */
  keepSessionSec?(roomId: string): number;
}

export interface RoomServiceEvents {
  [key: string]: unknown[];
  /** A session began (first join). */
  sessionStarted: [LiveRoom];
  /** A session ended (grace period after the last leave, or the room was closed). */
  sessionEnded: [LiveRoom];
}

export interface RoomServiceOptions {
  db: BetterSqlite3.Database;
  bus: EventBus;
  logger: Logger;
  settings: Settings;
  /** Key that signs join tokens. */
  joinKey: Uint8Array;
  network: RtcNetwork;
  /** Base URLs for join links: loopback HTTP and, when configured, the LAN HTTPS URL. */
  urls: () => { http: string; lan: string | null };
  /** Media worker threads (`mediaWorkers` > 0): peers live there; without, on this thread. */
  media?: WorkerPool | null;
  /** The media plane on this thread (`mediaWorkers: 0`): needed when there is no `media`. */
  local?: LocalMedia | null;
}

export interface WhipResource {
  participant: Participant;
  /** The peer connection, or null when it lives on a media worker. */
  pc: RTCPeerConnection | null;
  /** The media worker hosting the peer connection, when there are workers. */
  worker: MediaWorker | null;
  /** ICE ufrag of the client's offer (a PATCH with another one is an ICE restart). */
  remoteUfrag: string | null;
  /** ICE password of the client's offer (a PATCH with another one is an ICE restart too). */
  remotePwd: string | null;
  stream: Stream;
  /** SHA-256 of the token that created it: only that token (or a room moderator) may change it. */
  tokenHash: string;
}

const hashToken = (token: string): string => createHash('sha256').update(token).digest('hex');

/** The `Retry-After` of a refusal because the room is full. */
export const ROOM_FULL_RETRY_AFTER_SEC = 5;

/** Seconds between a client's pings; a client silent for three intervals is dropped. */
export const HEARTBEAT_SEC = 5;

/** How long a connection cut off by a media worker's end can be resumed (`reconnect`). */
export const RESUME_WITHIN_SEC = 60;
/** At most this many connections wait to be resumed (the oldest are forgotten first). */
const MAX_RESUMABLE = 10_000;

/** A browser connection a media worker's end cut off, as it was. */
interface Resumable {
  sessionId: string;
  info: ConnectionInfo;
  /** Its streams: published again with the same video type, they keep these ids and layout classes. */
  streams: Array<{ id: string; videoType: VideoType | null; layoutClassList: readonly string[] }>;
  expiresAt: number;
}

/**
 * Rooms and what happens in them: the room records, join tokens, live sessions with their
 * participants and streams, browser peers and WHIP publishers. Recording subscribes to the
 * sessionStarted/sessionEnded events and to each live room's stream events.
 */
export class RoomService extends TypedEmitter<RoomServiceEvents> {
  readonly repo: RoomRepository;
  readonly tokens: JoinTokens;
  readonly #options: RoomServiceOptions;
  readonly #logger: Logger;
  readonly #live = new Map<string, LiveRoom>();
  readonly #endTimers = new Map<string, NodeJS.Timeout>();
  /** Connections a media worker's end cut off, by their `resume` secret (docs/signaling.md). */
  readonly #resumable = new Map<string, Resumable>();
  readonly #whip = new Map<string, WhipResource>();
  #recording: RecordingControl | null = null;
  /** The media workers' handles, or null when the media plane runs on this thread. */
  readonly #remote: RemoteMedia | null;
  /** The media plane on this thread (`mediaWorkers: 0`), or null with workers. */
  readonly #local: LocalMedia | null;
  #heartbeat: NodeJS.Timeout;
  #closed = false;
  #intakeStopped = false;

  constructor(options: RoomServiceOptions) {
    super();
    this.#options = options;
    this.#logger = options.logger;
    this.repo = new RoomRepository(options.db);
    this.tokens = new JoinTokens(options.joinKey);
    this.#remote = options.media
      ? new RemoteMedia(
          options.media,
          options.logger.child({ part: 'media' }),
          options.settings.mediaWorkerPlacement,
          options.settings.mediaWorkerSpillPeers,
        )
      : null;
    this.#local = options.local ?? null;
    if (this.#remote === null && this.#local === null)
      throw new Error('RoomService needs media workers or the local media plane');
    this.onListenerError = (event, error) =>
      this.#logger.error({ err: error, event }, 'room listener failed');
    // Sessions left open by a crash ended when the process did.
    this.repo.closeOpenSessions(Date.now());
    this.#heartbeat = setInterval(
      guarded(this.#logger, 'heartbeat check', () => this.#checkHeartbeats()),
      1000,
    );
    this.#heartbeat.unref();
  }

  /**
   * Waits until the media plane can host peers: the media workers start when media first needs
   * them (a guest joins, a WHIP publisher offers), so a studio nobody joins starts none (~30 MB
   * each). Without workers there is nothing to wait for.
   */
  async mediaReady(): Promise<void> {
    const pool = this.#options.media;
    if (!pool) return;
    try {
      await pool.start();
    } catch (error) {
      throw new StudioError('Unavailable', `the media workers could not start: ${(error as Error).message}`);
    }
  }

  /** A guest's peer on this thread (no media workers). */
  #localPeer(record: RoomRecord, connectionId: string): MediaPeer {
    const local = this.#localMedia();
    return new local.Peer(
      local.peerConfig(this.#options.network, record.settings.preferredVideoCodec),
      this.#logger.child({ connectionId }),
    );
  }

  /** The media plane on this thread; only reached without media workers. */
  #localMedia(): LocalMedia {
    if (this.#local === null) throw new Error('the local media plane is not loaded (media workers are on)');
    return this.#local;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Connects the recorder (the composition root calls this once). */
  setRecordingControl(control: RecordingControl): void {
    this.#recording = control;
  }

  // ---- rooms ------------------------------------------------------------------------------

  create(body: unknown): RoomJson {
    const input = parseWith(createRoomSchema, body, 'room');
    const now = Date.now();
    const record: RoomRecord = {
      id: randomUUID(),
      name: input.name,
      settings: {
        autoRecord: input.autoRecord,
        maxParticipants: input.maxParticipants,
        preferredVideoCodec: input.preferredVideoCodec,
        recording: input.recording,
      },
      createdAt: now,
      updatedAt: now,
    };
    this.repo.insert(record);
    this.#options.bus.publish('room.created', { id: record.id, name: record.name }, { roomId: record.id });
    return this.toJson(record);
  }

  /** Creates a room for an OpenTok `session/create` call. */
  createForSession(options: {
    archiveMode?: 'always' | 'manual';
    archiveName?: string;
    archiveResolution?: string;
  }): RoomJson {
    return this.create({
      name: `Session ${new Date().toISOString().slice(0, 16).replace('T', ' ')}`,
      autoRecord: options.archiveMode === 'always',
      // OpenTok automatic archives are composed MP4s.
      recording: {
        ...(options.archiveMode === 'always' ? { outputMode: 'composed' } : {}),
        ...(options.archiveName !== undefined ? { name: options.archiveName } : {}),
        // OpenTok: automatic archives are 640x480 unless the session names a resolution.
        ...(options.archiveResolution !== undefined
          ? { resolution: options.archiveResolution }
          : options.archiveMode === 'always'
            ? { resolution: '640x480' }
            : {}),
      },
    });
  }

  list(): RoomJson[] {
    return this.repo.list().map((r) => this.toJson(r));
  }

  get(id: string): RoomJson {
    return this.toJson(this.record(id));
  }

  /** The room record, or NotFound. */
  record(id: string): RoomRecord {
    const record = this.repo.get(id);
    if (record === null) throw notFound(`room ${id} does not exist`, 'roomId');
    return record;
  }

  update(id: string, body: unknown): RoomJson {
    const record = this.record(id);
    const patch = parseWith(updateRoomSchema, body, 'room');
    const settings: RoomSettings = {
      autoRecord: patch.autoRecord ?? record.settings.autoRecord,
      maxParticipants: patch.maxParticipants ?? record.settings.maxParticipants,
      preferredVideoCodec: patch.preferredVideoCodec ?? record.settings.preferredVideoCodec,
      recording: parseWith(
        recordingDefaultsSchema,
        { ...record.settings.recording, ...patch.recording },
        'room.recording',
      ),
    };
    const updated: RoomRecord = {
      ...record,
      name: patch.name ?? record.name,
      settings,
      updatedAt: Date.now(),
    };
    this.repo.update(updated);
    const live = this.#live.get(id);
    if (live) live.record = updated;
    this.#options.bus.publish('room.updated', { id, name: updated.name }, { roomId: id });
    return this.toJson(updated);
  }

  delete(id: string): void {
    this.record(id);
    const live = this.#live.get(id);
    if (live !== undefined && live.participants.size > 0) {
      throw conflict(
        `room ${id} has ${live.participants.size} participant(s) connected; it can be deleted when everyone has left`,
        'roomId',
      );
    }
    if (live !== undefined) this.#endSession(live, 'room deleted');
    this.repo.delete(id);
    this.#options.bus.publish('room.deleted', { id }, { roomId: id });
  }

  toJson(record: RoomRecord): RoomJson {
    const live = this.#live.get(record.id);
    return {
      id: record.id,
      name: record.name,
      ...record.settings,
      createdAt: record.createdAt,
      updatedAt: record.updatedAt,
      session:
        live === undefined
          ? null
          : {
              id: live.session.id,
              startedAt: live.session.startedAt,
              connections: [...live.participants.values()].map((p) => p.info),
              streams: [...live.streams.values()].map((s) => s.info()),
              recording: (this.#recording?.state(record.id).archives ?? []).map((a) => ({
                archiveId: a.id,
                status: a.status === 'paused' ? 'paused' : 'started',
                name: a.name,
                startedAt: a.createdAt,
              })),
            },
    };
  }

  /** Streams published in a room's live session now (none when nobody is in it). */
  streamsOf(roomId: string): Stream[] {
    this.record(roomId);
    return [...(this.#live.get(roomId)?.streams.values() ?? [])];
  }

  /**
   * Sets the layout classes of live streams (`PUT /v2/project/{apiKey}/session/{id}/stream`).
   * All or nothing: an unknown stream changes none.
   */
  setLayoutClassLists(roomId: string, items: Array<{ id: string; layoutClassList: string[] }>): void {
    const streams = new Map(this.streamsOf(roomId).map((s) => [s.id, s]));
    items.forEach((item, i) => {
      if (!streams.has(item.id))
        throw notFound(`stream ${item.id} is not published in session ${roomId}`, `items[${i}].id`);
    });
    for (const item of items) streams.get(item.id)!.setLayoutClassList(item.layoutClassList);
  }

  /** The media worker receiving a stream, or null when the media plane runs on this thread. */
  workerOfStream(streamId: string): MediaWorker | null {
    return this.#remote?.workerOfStream(streamId) ?? null;
  }

  /** The live room, if anyone is in it. */
  live(roomId: string): LiveRoom | undefined {
    return this.#live.get(roomId);
  }

  liveRooms(): LiveRoom[] {
    return [...this.#live.values()];
  }

  // ---- tokens -----------------------------------------------------------------------------

  async createToken(roomId: string, body: unknown): Promise<TokenResponse> {
    this.record(roomId);
    const input = parseWith(createTokenSchema, body ?? {}, 'token');
    const { token, expiresAt } = await this.tokens.issue(
      {
        roomId,
        role: input.role,
        connectionData: input.connectionData,
        recordingBlock: input.recordingBlock,
      },
      input.expiresInSec,
    );
    const { http, lan } = this.#options.urls();
    const path = `/join/${encodeURIComponent(roomId)}?t=${encodeURIComponent(token)}`;
    return {
      token,
      joinUrl: `${lan ?? http}${path}`,
      lanJoinUrl: lan === null ? null : `${lan}${path}`,
      whipUrl: `${http}/whip/${encodeURIComponent(roomId)}`,
      expiresAt,
      role: input.role,
    };
  }

  // ---- participants -----------------------------------------------------------------------

  /**
   * Admits a connection with verified claims into the room's live session (starting one if
   * needed). Browser connections get a peer that receives every other stream.
   */
  connect(
    claims: JoinClaims,
    kind: ConnectionInfo['kind'],
    send: (message: ServerMessage) => void,
    resume?: string,
  ): Participant {
    this.#assertOpen();
    const record = this.record(claims.roomId);
    // No media worker running: refuse before a session is opened for nobody.
    this.#remote?.workerFor(record.id);
    const room = this.#ensureLive(record);
    if (room.participants.size >= record.settings.maxParticipants) {
      // With Retry-After over HTTP (RFC 9110 §15.6.4): a slot frees when someone leaves, which no
      // one can tell, so a few seconds — a WHIP encoder retrying does not hammer the studio.
      throw new StudioError(
        'Unavailable',
        `the room is full (${record.settings.maxParticipants} participants); try again later`,
        undefined,
        { retryAfterSec: ROOM_FULL_RETRY_AFTER_SEC },
      );
    }
    const resumed =
      resume !== undefined && kind === 'browser' ? this.#resumableFor(resume, claims, room) : null;
    const info: ConnectionInfo = {
      id: resumed?.info.id ?? randomUUID(),
      roomId: record.id,
      sessionId: room.session.id,
      role: claims.role,
      connectionData: claims.connectionData,
      recordingBlock: claims.recordingBlock,
      kind,
      createdAt: resumed?.info.createdAt ?? Date.now(),
    };
    const peer: MediaPeer | null =
      kind === 'whip'
        ? null
        : this.#remote !== null
          ? this.#remote.createPeer(
              record.id,
              info.id,
              { network: this.#options.network, preferredVideoCodec: record.settings.preferredVideoCodec },
              this.#logger.child({ connectionId: info.id }),
            )
          : this.#localPeer(record, info.id);
    const participant = new Participant(info, peer, send);
    if (resumed !== null) {
      participant.resumed = true;
      participant.resumedStreams.push(...resumed.streams);
    }
    if (peer !== null) {
      peer.on('offer', (offer) => participant.send({ type: 'offer', ...offer }));
      peer.once('close', (reason) => {
        // The media side is gone but the guest is fine: it joins again as itself (docs/signaling.md).
        if (reason === WORKER_DIED) {
          const secret = this.#keepResumable(participant);
          participant.send({ type: 'reconnect', reason, resume: secret, resumeWithinSec: RESUME_WITHIN_SEC });
        }
        participant.close(reason);
      });
    }
    this.repo.insertConnection(info);
    participant.once('close', (reason) => {
      this.repo.endConnection(info.id, Date.now());
      this.#options.bus.publish('connection.destroyed', { ...info, reason }, { roomId: info.roomId });
    });
    room.addParticipant(participant);
    if (resumed !== null) this.#resumable.delete(resume!);
    this.#options.bus.publish('connection.created', info, { roomId: info.roomId });
    const timer = this.#endTimers.get(record.id);
    if (timer !== undefined) {
      clearTimeout(timer);
      this.#endTimers.delete(record.id);
    }
    return participant;
  }

  /** Keeps what a connection cut off by its media worker's end was; returns the secret that resumes it. */
  #keepResumable(participant: Participant): string {
    const now = Date.now();
    for (const [key, r] of this.#resumable) if (r.expiresAt <= now) this.#resumable.delete(key);
    while (this.#resumable.size >= MAX_RESUMABLE)
      this.#resumable.delete(this.#resumable.keys().next().value!);
    const secret = randomBytes(24).toString('base64url');
    this.#resumable.set(secret, {
      sessionId: participant.info.sessionId,
      info: participant.info,
      streams: [...participant.streams.values()].map((s) => ({
        id: s.id,
        videoType: s.videoType,
        layoutClassList: s.layoutClassList,
      })),
      expiresAt: now + RESUME_WITHIN_SEC * 1000,
    });
    return secret;
  }

  /**
   * The connection a `resume` secret stands for, if this join may take its place: the same
   * session, the same token claims, and not connected now (the secret is spent once the join
   * succeeds). An unknown or expired secret is no error: the connection joins as a new one
   * (`resumed: false`).
   */
  #resumableFor(secret: string, claims: JoinClaims, room: LiveRoom): Resumable | null {
    const r = this.#resumable.get(secret);
    if (r === undefined) return null;
    if (r.expiresAt <= Date.now()) {
      this.#resumable.delete(secret);
      return null;
    }
    const same =
      r.sessionId === room.session.id &&
      r.info.roomId === claims.roomId &&
      r.info.role === claims.role &&
      r.info.connectionData === claims.connectionData &&
      r.info.recordingBlock === claims.recordingBlock &&
      !room.participants.has(r.info.id);
    return same ? r : null;
  }

  /** Starts receiving a stream from a browser participant. */
  publish(
    participant: Participant,
    options: { videoType: VideoType; audio: boolean; video: boolean },
    requestId?: string,
  ): Stream {
    if (participant.info.role === 'subscriber') {
      throw new StudioError(
        'PermissionDenied',
        'subscribers cannot publish; ask for a publisher link',
        'role',
      );
    }
    if (!options.audio && !options.video)
      throw new StudioError('InvalidArgument', 'publish audio, video or both', 'audio');
    if (participant.peer === null)
      throw new StudioError('Conflict', 'this connection cannot publish over signaling');
    // A resumed connection's stream published again keeps its id and layout classes: recordings
    // go on in a new segment, laid out as before.
    const videoType = options.video ? options.videoType : null;
    const resumedAt = participant.resumedStreams.findIndex((s) => s.videoType === videoType);
    const resumed = resumedAt >= 0 ? participant.resumedStreams.splice(resumedAt, 1)[0] : undefined;
    const stream = this.#addStream(
      participant,
      options.videoType,
      options.audio,
      options.video,
      participant.peer instanceof WorkerPeer ? participant.peer.worker : null,
      resumed,
    );
    participant.peer.publish(stream, requestId);
    return stream;
  }

  /** A new stream in the room; `worker` receives it when the media plane runs on workers. */
  #addStream(
    participant: Participant,
    videoType: VideoType | null,
    audio: boolean,
    video: boolean,
    worker: MediaWorker | null = null,
    resumed?: { id: string; layoutClassList: readonly string[] },
  ): Stream {
    const room = this.#live.get(participant.info.roomId);
    if (room === undefined || participant.closed)
      throw new StudioError('Conflict', 'the connection has left the room');
    const resumes = resumed !== undefined && !room.streams.has(resumed.id);
    const stream = new Stream({
      id: resumes ? resumed.id : randomUUID(),
      connectionId: participant.id,
      roomId: room.id,
      sessionId: room.session.id,
      videoType: video ? videoType : null,
      hasAudio: audio,
      hasVideo: video,
      recordingBlock: participant.info.recordingBlock,
      connectionData: participant.info.connectionData,
    });
    if (resumes) stream.layoutClassList = [...resumed.layoutClassList];
    this.repo.insertStream(stream.info());
    stream.on('track', () => this.repo.updateStreamCodecs(stream.id, stream.codecs));
    stream.on('remoteTrack', () => this.repo.updateStreamCodecs(stream.id, stream.codecs));
    stream.on('updated', () =>
      this.#options.bus.publish('stream.updated', stream.info(), { roomId: room.id }),
    );
    stream.once('close', (reason) => {
      this.repo.endStream(stream.id, Date.now());
      this.#options.bus.publish('stream.destroyed', { ...stream.info(), reason }, { roomId: room.id });
    });
    // Known as a worker's before the room hears of it: a recorder starting at once goes there.
    if (worker !== null) this.#remote?.hostStream(stream, worker);
    room.addStream(stream, participant);
    this.#options.bus.publish('stream.created', stream.info(), { roomId: room.id });
    return stream;
  }

  /** Ends a stream of a participant. */
  unpublish(participant: Participant, streamId: string): void {
    const stream = participant.streams.get(streamId);
    if (stream === undefined)
      throw notFound(`stream ${streamId} is not published by this connection`, 'streamId');
    participant.peer?.unpublish(stream);
    stream.close('unpublished');
  }

  setMuted(participant: Participant, streamId: string, mute: { audio?: boolean; video?: boolean }): void {
    const stream = participant.streams.get(streamId);
    if (stream === undefined)
      throw notFound(`stream ${streamId} is not published by this connection`, 'streamId');
    for (const kind of ['audio', 'video'] as MediaKind[]) {
      const value = mute[kind];
      if (value !== undefined) stream.setMuted(kind, value);
    }
  }

  /** Moderator recording control over signaling. */
  async startRecording(participant: Participant, options: Record<string, unknown>): Promise<{ id: string }> {
    this.#requireModerator(participant);
    if (this.#recording === null) throw new StudioError('Unavailable', 'recording is not available');
    return this.#recording.start(participant.info.roomId, options);
  }

  async stopRecording(participant: Participant, archiveId?: string): Promise<void> {
    this.#requireModerator(participant);
    if (this.#recording === null) throw new StudioError('Unavailable', 'recording is not available');
    await this.#recording.stop(participant.info.roomId, archiveId);
  }

  recordingState(roomId: string): RecordingState {
    return this.#recording?.state(roomId) ?? { active: false, archives: [] };
  }

  #requireModerator(participant: Participant): void {
    if (participant.info.role !== 'moderator') {
      throw new StudioError('PermissionDenied', 'only moderators can start and stop recording', 'role');
    }
  }

  // ---- WHIP -------------------------------------------------------------------------------

  /**
   * A WHIP publisher's offer (RFC 9725): admits it as a participant with one stream and
   * answers. Returns the resource id for the session URL.
   */
  async whipPublish(
    roomId: string,
    token: string,
    offer: string,
  ): Promise<{ resourceId: string; answer: string }> {
    const claims = await this.tokens.verify(token, roomId);
    if (claims.role === 'subscriber') {
      throw new StudioError('PermissionDenied', 'WHIP needs a publisher or moderator token', 'token');
    }
    offer = normalizeLineEndings(offer);
    const summary = checkSdp(offer, { direction: 'send' });
    const record = this.record(roomId);
    await this.mediaReady();
    const participant = this.connect(claims, 'whip', () => {});
    if (this.#remote !== null)
      return this.#whipOnWorker(this.#remote, record, participant, summary, offer, token);
    const local = this.#localMedia();
    const pc = new local.RTCPeerConnection(
      local.peerConfig(this.#options.network, record.settings.preferredVideoCodec),
    );
    let stream: Stream;
    let answer: string;
    try {
      stream = this.#addStream(participant, summary.video ? 'camera' : null, summary.audio, summary.video);
      pc.onRemoteTransceiverAdded.subscribe((transceiver) => {
        transceiver.onTrack.subscribe((track) => {
          stream.addTrack({ kind: track.kind as MediaKind, track, receiver: transceiver.receiver });
        });
      });
      pc.connectionStateChange.subscribe((state) => {
        if (state === 'failed' || state === 'closed') participant.close(`WHIP peer connection ${state}`);
      });
      answer = await local.answerWhipOffer(pc, offer);
    } catch (error) {
      participant.close('WHIP negotiation failed');
      void pc.close().catch(() => {});
      throw error;
    }
    const resourceId = participant.id;
    this.#whip.set(resourceId, {
      participant,
      pc,
      worker: null,
      remoteUfrag: iceUfrag(offer),
      remotePwd: icePwd(offer),
      stream,
      tokenHash: hashToken(token),
    });
    // An offer that never connects gives its slot back (a client that vanished after POST).
    const connectTimer = setTimeout(() => {
      if (pc.connectionState !== 'connected') participant.close('WHIP peer never connected');
    }, this.#options.settings.whipConnectTimeoutSec * 1000);
    connectTimer.unref();
    participant.once('close', () => {
      clearTimeout(connectTimer);
      this.#whip.delete(resourceId);
      void pc.close().catch(() => {});
    });
    return { resourceId, answer };
  }

  /** `whipPublish` with the peer connection on the room's media worker. */
  async #whipOnWorker(
    remote: RemoteMedia,
    record: RoomRecord,
    participant: Participant,
    summary: { audio: boolean; video: boolean },
    offer: string,
    token: string,
  ): Promise<{ resourceId: string; answer: string }> {
    const resourceId = participant.id;
    let answer: string;
    let stream: Stream;
    let worker: MediaWorker;
    try {
      worker = remote.workerFor(record.id);
      stream = this.#addStream(
        participant,
        summary.video ? 'camera' : null,
        summary.audio,
        summary.video,
        worker,
      );
      let connected = false;
      remote.hostWhip(
        resourceId,
        worker,
        (state) => {
          if (state === 'connected') connected = true;
          if (state === 'failed' || state === 'closed') participant.close(`WHIP peer connection ${state}`);
        },
        () => participant.close(WORKER_DIED),
      );
      const connectTimer = setTimeout(() => {
        if (!connected) participant.close('WHIP peer never connected');
      }, this.#options.settings.whipConnectTimeoutSec * 1000);
      connectTimer.unref();
      participant.once('close', () => {
        clearTimeout(connectTimer);
        this.#whip.delete(resourceId);
        remote.endWhip(resourceId);
      });
      ({ answer } = await worker.request('whip.offer', {
        resourceId,
        streamId: stream.id,
        offer,
        network: this.#options.network,
        preferredVideoCodec: record.settings.preferredVideoCodec,
      }));
    } catch (error) {
      participant.close('WHIP negotiation failed');
      throw error;
    }
    this.#whip.set(resourceId, {
      participant,
      pc: null,
      worker,
      remoteUfrag: iceUfrag(offer),
      remotePwd: icePwd(offer),
      stream,
      tokenHash: hashToken(token),
    });
    return { resourceId, answer };
  }

  whipResource(roomId: string, resourceId: string): WhipResource {
    const resource = this.#whip.get(resourceId);
    if (resource === undefined || resource.participant.info.roomId !== roomId) {
      throw notFound(`WHIP session ${resourceId} does not exist`, 'resourceId');
    }
    return resource;
  }

  /**
   * Checks that a token may change or end a WHIP session: the token that created it, even once
   * expired (RFC 9725 §4.2: the client must be able to end its session with DELETE, and a session
   * outlives its link), or an unexpired moderator token of the same room. Throws NotFound /
   * PermissionDenied.
   */
  async whipAuthorize(roomId: string, resourceId: string, token: string): Promise<WhipResource> {
    // The signature first: an expired token's claims count only when the studio signed them.
    const claims = await this.tokens.verify(token, roomId, { evenExpired: true });
    const resource = this.whipResource(roomId, resourceId);
    if (hashToken(token) === resource.tokenHash) return resource;
    if (claims.expiresAt <= Date.now()) throw linkExpired();
    if (claims.role !== 'moderator') {
      throw new StudioError(
        'PermissionDenied',
        'only the token that created this WHIP session (or a moderator of the room) can change it',
        'token',
      );
    }
    return resource;
  }

  /** Trickled candidates (`application/trickle-ice-sdpfrag`) for a WHIP session. */
  async whipPatch(roomId: string, resourceId: string, fragment: string): Promise<void> {
    const resource = this.whipResource(roomId, resourceId);
    if (resource.pc !== null) await this.#localMedia().applyTrickleFragment(resource.pc, fragment);
    else await resource.worker!.request('whip.patch', { resourceId, fragment });
  }

  whipDelete(roomId: string, resourceId: string): void {
    this.whipResource(roomId, resourceId).participant.close('WHIP session ended');
  }

  // ---- sessions ---------------------------------------------------------------------------

  #ensureLive(record: RoomRecord): LiveRoom {
    let room = this.#live.get(record.id);
    if (room !== undefined) return room;
    const session: SessionInfo = {
      id: randomUUID(),
      roomId: record.id,
      startedAt: Date.now(),
      endedAt: null,
    };
    this.repo.insertSession(session);
    room = new LiveRoom(record, session);
    room.onListenerError = this.onListenerError;
    const live = room;
    room.on('empty', () => {
      // Automatic archives stop autoArchiveStopSec after the last leave: the session waits for them.
      const keep = this.#recording?.keepSessionSec?.(record.id) ?? 0;
      const grace = Math.max(this.#options.settings.sessionGraceSec, keep) * 1000;
      this.#endTimers.set(
        record.id,
        setTimeout(
          guarded(this.#logger, 'ending the session', () => {
            this.#endTimers.delete(record.id);
            if (live.participants.size === 0) this.#endSession(live, 'empty');
          }),
          grace,
        ),
      );
    });
    this.#live.set(record.id, room);
    this.#options.bus.publish('session.created', session, { roomId: record.id });
    this.safeEmit('sessionStarted', room);
    return room;
  }

  #endSession(room: LiveRoom, reason: string): void {
    if (this.#live.get(room.id) !== room) return;
    const timer = this.#endTimers.get(room.id);
    if (timer !== undefined) clearTimeout(timer);
    this.#endTimers.delete(room.id);
    this.#live.delete(room.id);
    this.#remote?.releaseRoom(room.id);
    const endedAt = Date.now();
    room.session.endedAt = endedAt;
    // Recording hears first, so it stops with reason "session ended" while streams still exist.
    this.safeEmit('sessionEnded', room);
    room.close(reason);
    this.repo.endSession(room.session.id, endedAt);
    this.#options.bus.publish('session.destroyed', { ...room.session }, { roomId: room.id });
  }

  #checkHeartbeats(): void {
    const limit = Date.now() - 3 * HEARTBEAT_SEC * 1000;
    for (const room of this.#live.values()) {
      for (const participant of [...room.participants.values()]) {
        if (participant.info.kind !== 'whip' && participant.lastSeen < limit) {
          participant.send({ type: 'bye', reason: 'heartbeat timeout' });
          participant.close('heartbeat timeout');
        }
      }
    }
  }

  #assertOpen(): void {
    if (this.#closed || this.#intakeStopped)
      throw new StudioError('Unavailable', 'the studio is shutting down');
  }

  /** Shutdown's first step: no new connections (joins, WHIP); those connected stay until close. */
  stopIntake(): void {
    this.#intakeStopped = true;
  }

  /** Ends every session and closes every peer. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#heartbeat);
    for (const room of [...this.#live.values()]) this.#endSession(room, 'studio closed');
    for (const timer of this.#endTimers.values()) clearTimeout(timer);
    this.#endTimers.clear();
    this.removeAllListeners();
  }
}
