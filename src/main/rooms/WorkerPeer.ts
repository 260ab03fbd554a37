import type { RTCIceCandidateInit } from 'werift';
import type { Logger } from '../logger';
import { TypedEmitter } from '../util/TypedEmitter';
import type { MediaWorker } from '../workers/MediaWorker';
import type { PeerSetup, StreamInit, WorkerMethod, WorkerMethods } from '../workers/protocol';
import type { MediaPeer } from './MediaPeer';
import type { HostedStream } from './RemoteMedia';
import type { PeerEvents } from './Peer';
import type { Stream } from './Stream';

/** What a worker needs to host a stream the main thread created. */
export function streamInit(stream: Stream): StreamInit {
  return {
    id: stream.id,
    connectionId: stream.connectionId,
    roomId: stream.roomId,
    sessionId: stream.sessionId,
    videoType: stream.videoType,
    hasAudio: stream.hasAudio,
    hasVideo: stream.hasVideo,
    recordingBlock: stream.recordingBlock,
    connectionData: stream.connectionData,
  };
}

/**
 * The main thread's handle of a participant's peer hosted on a media worker: the same surface
 * as `Peer`, each call a request to the worker (in order: a worker handles one thread's
 * messages in the order sent). Offers and the peer's end come back as events.
 */
export class WorkerPeer extends TypedEmitter<PeerEvents> implements MediaPeer {
  readonly id: string;
  readonly worker: MediaWorker;
  readonly #logger: Logger;
  /** The streams subscribed to, each with its own token (a later subscription is another). */
  readonly #subscribed = new Map<string, object>();
  #closed = false;

  /** Where a stream is received (null: not on a worker), to forward streams of other workers. */
  readonly #sourceOf: (streamId: string) => HostedStream | null;

  constructor(
    worker: MediaWorker,
    id: string,
    setup: PeerSetup,
    logger: Logger,
    sourceOf: (streamId: string) => HostedStream | null = () => null,
  ) {
    super();
    this.id = id;
    this.worker = worker;
    this.#logger = logger;
    this.#sourceOf = sourceOf;
    this.#send('peer.create', { peerId: id, ...setup });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** A request whose failure ends the peer (the client cannot be told which change failed). */
  #send<M extends WorkerMethod>(method: M, params: WorkerMethods[M]['params']): void {
    this.worker.request(method, params).catch((error: Error) => {
      if (this.#closed) return;
      this.#logger.warn({ err: error, method }, 'media worker request failed');
      this.close(`media worker: ${error.message}`);
    });
  }

  publish(stream: Stream, requestId?: string): void {
    if (this.#closed) return;
    this.#send('peer.publish', {
      peerId: this.id,
      streamId: stream.id,
      ...(requestId !== undefined ? { requestId } : {}),
    });
  }

  unpublish(stream: Stream): void {
    if (this.#closed) return;
    this.#send('peer.unpublish', { peerId: this.id, streamId: stream.id });
  }

  subscribe(stream: Stream): void {
    if (this.#closed || this.#subscribed.has(stream.id)) return;
    const token = {};
    this.#subscribed.set(stream.id, token);
    const request = (from?: { worker: number; stream: StreamInit }) =>
      this.worker
        .request('peer.subscribe', { peerId: this.id, streamId: stream.id, ...(from ? { from } : {}) })
        .catch((error: Error) => {
          if (!this.#closed)
            this.#logger.warn({ err: error, streamId: stream.id }, 'cannot forward the stream');
        });
    const source = this.#sourceOf(stream.id);
    if (source === null || source.worker === this.worker) {
      void request();
      return;
    }
    // A stream received on another worker comes over the route between the two, once that
    // worker holds it: this worker asks it for the stream on the route, and messages on the
    // route are not ordered with the main thread's (asked too early, it answers "ended").
    const from = { worker: source.worker.index, stream: streamInit(stream) };
    source.created.then(
      () => {
        if (!this.#closed && this.#subscribed.get(stream.id) === token) void request(from);
      },
      () => {},
    );
  }

  unsubscribe(streamId: string): void {
    if (!this.#subscribed.delete(streamId) || this.#closed) return;
    this.#send('peer.unsubscribe', { peerId: this.id, streamId });
  }

  async handleAnswer(sdp: string): Promise<void> {
    await this.worker.request('peer.answer', { peerId: this.id, sdp });
  }

  async addCandidate(candidate: RTCIceCandidateInit | null): Promise<void> {
    if (this.#closed) return;
    await this.worker.request('peer.candidate', { peerId: this.id, candidate });
  }

  /** The worker sent an offer for the client. */
  deliverOffer(offer: PeerEvents['offer'][0]): void {
    if (!this.#closed) this.safeEmit('offer', offer);
  }

  /** Closes the peer here and on the worker (unless the worker ended it). Idempotent. */
  close(reason = 'closed', fromWorker = false): void {
    if (this.#closed) return;
    this.#closed = true;
    if (!fromWorker && !this.worker.closed)
      this.worker.request('peer.close', { peerId: this.id, reason }).catch(() => {});
    this.#subscribed.clear();
    this.safeEmit('close', reason);
    this.removeAllListeners();
  }
}
