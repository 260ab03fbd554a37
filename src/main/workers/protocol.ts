import type { MessagePort } from 'node:worker_threads';
import type { RTCIceCandidateInit } from 'werift';
import type { FramesDropped, RecordingFormat, VideoType } from '../../shared/archive';
import type { ThreadStats } from '../../shared/api';
import type { ErrorBody, ErrorCode } from '../../shared/errors';
import type { StreamHealthInfo } from '../../shared/events/health';
import { StudioError } from '../../shared/errors';
import type { VideoCodecName } from '../../shared/rooms';
import type { StreamMids } from '../../shared/signaling';
import type { PublishMids } from '../rooms/Peer';
import type { RtcNetwork } from '../rooms/rtcConfig';
import type { RecordedFile } from '../recording/StreamRecorder';

/**
 * The one protocol between the main thread and a media worker (docs/threads.md): typed
 * requests with ids answered by one response each, and notifications without replies. Every
 * message carries the version; a worker built from other sources is refused at start.
 */
export const PROTOCOL_VERSION = 1;

export type { ThreadStats } from '../../shared/api';

/** What a worker needs to create its side of a stream (the main thread keeps the rest). */
export interface StreamInit {
  id: string;
  connectionId: string;
  roomId: string;
  sessionId: string;
  videoType: VideoType | null;
  hasAudio: boolean;
  hasVideo: boolean;
  recordingBlock: boolean;
  connectionData: string;
}

/** How a worker builds a peer's werift configuration (codec objects cannot cross threads). */
export interface PeerSetup {
  network: RtcNetwork;
  preferredVideoCodec: VideoCodecName;
}

type Empty = Record<string, never>;

/** A stream recorder on the worker hosting the stream (`StreamRecorderOptions` that can cross threads). */
export interface RecorderInit {
  recorderId: string;
  streamId: string;
  dir: string;
  baseName: string;
  format: RecordingFormat;
  audio: boolean;
  video: boolean;
  split?: { durationSec: number; only: boolean };
  archiveStartMs: number;
  keyframeIntervalSec: number;
  /** `recordingQueueBytes`: the studio's write queue limit, shared by every recording thread. */
  queueBytes: number;
}

/** What a recorder reports while it records (the main thread's handle answers from it). */
export interface RecorderProgress {
  recorderId: string;
  bytesWritten: number;
  bytesReceived: number;
  framesDropped: Partial<Record<'audio' | 'video', FramesDropped>>;
  /** Readable bytes of each file being written (whole clusters). */
  readable: Record<string, number>;
}

/** Requests the main thread sends to a media worker: method → params and result. */
export interface WorkerMethods {
  /**
   * Liveness (the pool's heartbeat), with the share of time (0–1) the worker's event loop was busy
   * since the previous ping: room placement spills from a busy worker (`RemoteMedia`).
   */
  ping: { params: Record<string, never>; result: { at: number; busy: number } };
  /** Heap and event-loop figures of the worker's isolate. */
  stats: { params: Record<string, never>; result: Omit<ThreadStats, 'name'> };
  /** Closes everything the worker hosts; the pool then terminates it. */
  shutdown: { params: Record<string, never>; result: Record<string, never> };
  /** Test-only faults (refused unless the pool started the worker with `allowFaults`). */
  'fault.throw': { params: { message: string }; result: Record<string, never> };
  /** Never answers: the worker's event loop spins forever. */
  'fault.hang': { params: Record<string, never>; result: Record<string, never> };
  /** A browser participant's peer (the studio offers; offers come back as `peer.offer`). */
  'peer.create': { params: { peerId: string } & PeerSetup; result: Empty };
  /**
   * A stream received on this worker, created before anything refers to it (a recorder may be
   * started for it before its peer negotiates).
   */
  'stream.create': { params: { stream: StreamInit }; result: Empty };
  /** Receive-only m-lines for a stream (created here) the peer's client publishes. */
  'peer.publish': { params: { peerId: string; streamId: string; requestId?: string }; result: Empty };
  'peer.unpublish': { params: { peerId: string; streamId: string }; result: Empty };
  /**
   * Forwards a stream to the peer: one hosted here, or (`from`) one hosted by another worker,
   * imported over the route between the two (docs/threads.md, "Across workers").
   */
  'peer.subscribe': {
    params: { peerId: string; streamId: string; from?: { worker: number; stream: StreamInit } };
    result: Empty;
  };
  'peer.unsubscribe': { params: { peerId: string; streamId: string }; result: Empty };
  'peer.answer': { params: { peerId: string; sdp: string }; result: Empty };
  'peer.candidate': { params: { peerId: string; candidate: RTCIceCandidateInit | null }; result: Empty };
  'peer.close': { params: { peerId: string; reason: string }; result: Empty };
  /** Ends a stream hosted here (unpublished, its participant left). */
  'stream.close': { params: { streamId: string; reason: string }; result: Empty };
  /** A WHIP offer: a receive-only peer with one stream; the answer carries the candidates. */
  'whip.offer': {
    params: { resourceId: string; streamId: string; offer: string } & PeerSetup;
    result: { answer: string };
  };
  /** Trickled candidates (`application/trickle-ice-sdpfrag`). */
  'whip.patch': { params: { resourceId: string; fragment: string }; result: Empty };
  'whip.close': { params: { resourceId: string }; result: Empty };
  /** Records a stream hosted on this worker (NotFound if it is elsewhere). */
  'recorder.start': { params: RecorderInit; result: Empty };
  /** Writes what was received, finalizes the files and returns them. */
  'recorder.stop': { params: { recorderId: string }; result: { files: RecordedFile[] } };
  /** A full disk: every recorder of the worker stops writing at a whole cluster. */
  'budget.halt': { params: { message: string; code?: string }; result: Empty };
  /** The disk has room again: recorders write again. */
  'budget.resume': { params: Empty; result: Empty };
}

/** Notifications a media worker sends to the main thread: event → data. */
export interface WorkerEvents {
  /** The worker loaded and listens for requests (its first message). */
  ready: { pid: number; threadId: number };
  /**
   * The worker hit an uncaught error: it finalizes its recordings (bounded), then ends; the
   * main thread names this error as the reason it died.
   */
  failing: { message: string };
  /** A peer's offer for its client (relayed over signaling). */
  'peer.offer': {
    peerId: string;
    offer: { sdp: string; subscriptions: StreamMids[]; publishes: PublishMids[] };
  };
  /** A peer ended on its own (ICE failed, no answer, negotiation failed). */
  'peer.close': { peerId: string; reason: string };
  /** A track of a hosted stream started to receive media. */
  'stream.track': { streamId: string; kind: 'audio' | 'video'; mimeType: string; clockRate: number };
  /** The health of every stream received on this worker (`StreamHealth`), about once a second. */
  'stream.health': { streams: StreamHealthInfo[] };
  /** The connection state of a WHIP peer changed. */
  'whip.state': { resourceId: string; state: string };
  /** A recorder opened a file (its first frame is written). */
  'recorder.fileStarted': { recorderId: string; file: RecordedFile };
  /** A recorder finalized a file (split files while recording). */
  'recorder.fileFinished': { recorderId: string; file: RecordedFile };
  /** A recorder could not write (the archive should stop). */
  'recorder.writeError': { recorderId: string; message: string; code?: string };
  /** Counters of every recorder of the worker, about twice a second. */
  'recorder.progress': {
    recorders: RecorderProgress[];
    /**
     * The worker's write budget: the peak of its bytes waiting for the disk, all bytes written.
     * (What waits now is in the studio's shared queue: `WorkerPool.queueSlots`.)
     */
    budget: { peakBytes: number; totalBytes: number } | null;
  };
}

export type WorkerMethod = keyof WorkerMethods;
export type WorkerEvent = keyof WorkerEvents;

export type RequestMessage = {
  [M in WorkerMethod]: {
    v: number;
    kind: 'request';
    id: number;
    method: M;
    params: WorkerMethods[M]['params'];
  };
}[WorkerMethod];

export type ResponseMessage =
  | { v: number; kind: 'response'; id: number; ok: true; result: unknown }
  | { v: number; kind: 'response'; id: number; ok: false; error: ErrorBody };

/** Hands a worker its end of the route to another worker (the port is in the transfer list). */
export interface PortMessage {
  v: number;
  kind: 'port';
  /** Index of the worker at the other end. */
  peerIndex: number;
  port: MessagePort;
}

export type NotificationMessage = {
  [E in WorkerEvent]: { v: number; kind: 'notification'; event: E; data: WorkerEvents[E] };
}[WorkerEvent];

/** Data the pool passes to a worker at start (`workerData`). */
export interface MediaWorkerData {
  /** Index of the worker in the pool (`media-<index>`). */
  index: number;
  /** The main thread's protocol version (the worker refuses another). */
  protocolVersion: number;
  /** Accept the `fault.*` requests (tests). */
  allowFaults: boolean;
  /** pino level of the worker's logger. */
  logLevel: string;
  /** How many times this index was restarted before (0 for the first worker). */
  restarts: number;
  /**
   * The studio's write-queue slots (recording/WriteBudget.ts `SharedQueue`): slot 0 is the main
   * thread's, slot `index + 1` this worker's.
   */
  queueSlots?: BigInt64Array;
}

const CODES = new Set<ErrorCode>([
  'InvalidArgument',
  'Unauthenticated',
  'PermissionDenied',
  'NotFound',
  'Conflict',
  'PreconditionFailed',
  'PayloadTooLarge',
  'Unprocessable',
  'RateLimited',
  'Unavailable',
  'Internal',
]);

/** An error as it crosses the thread boundary: StudioErrors keep code, message and field. */
export function errorToBody(error: unknown): ErrorBody {
  if (error instanceof StudioError) return error.toBody();
  return { code: 'Internal', message: error instanceof Error ? error.message : String(error) };
}

/** The StudioError a response's error body stands for. */
export function errorFromBody(body: ErrorBody): StudioError {
  return new StudioError(CODES.has(body.code) ? body.code : 'Internal', body.message, body.field);
}

/** Whether a value is a message of this protocol (any version: the caller checks `v`). */
export function isMessage(value: unknown): value is RequestMessage | ResponseMessage | NotificationMessage {
  if (value === null || typeof value !== 'object') return false;
  const m = value as { v?: unknown; kind?: unknown };
  return (
    typeof m.v === 'number' && (m.kind === 'request' || m.kind === 'response' || m.kind === 'notification')
  );
}
