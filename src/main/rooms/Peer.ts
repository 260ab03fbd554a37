import {
  MediaStream,
  RTCPeerConnection,
  type PeerConfig,
  type RTCIceCandidateInit,
  type RTCRtpTransceiver,
} from 'werift';
import { StudioError } from '../../shared/errors';
import type { StreamMids } from '../../shared/signaling';
import type { Logger } from '../logger';
import { TypedEmitter } from '../util/TypedEmitter';
import { routeFeedbackToMediaSource } from './rtcpRouting';
import { sectionKinds, withStartBitrate } from './sdp';
import type { MediaKind, Stream } from './Stream';

export interface PeerEvents {
  [key: string]: unknown[];
  /** An offer to send to the client; the peer waits for its answer. */
  offer: [offer: { sdp: string; subscriptions: StreamMids[]; publishes: PublishMids[] }];
  /** The peer connection is gone (failed, closed, or the client stopped answering). */
  close: [reason: string];
}

export interface PublishMids {
  requestId?: string;
  streamId: string;
  audio?: string;
  video?: string;
}

interface Subscription {
  stream: Stream;
  transceivers: Map<MediaKind, RTCRtpTransceiver>;
  dispose: Array<() => void>;
}

interface PendingPublish {
  requestId?: string;
  stream: Stream;
  transceivers: Map<MediaKind, RTCRtpTransceiver>;
}

/** How long the client has to answer an offer. */
const ANSWER_TIMEOUT_MS = 15_000;
/** How long ICE may stay disconnected before the peer is dropped. */
const DISCONNECTED_GRACE_MS = 5_000;

/**
 * One participant's peer connection. The studio is always the offerer: publishing adds
 * receive-only m-lines, subscribing adds send-only m-lines forwarding another stream's RTP
 * as it arrived. Changes are negotiated one offer at a time; changes made while an offer is
 * out are batched into the next one.
 */
export class Peer extends TypedEmitter<PeerEvents> {
  readonly pc: RTCPeerConnection;
  readonly #logger: Logger;
  readonly #subscriptions = new Map<string, Subscription>();
  readonly #pendingPublishes: PendingPublish[] = [];
  #awaitingAnswer: { resolve: () => void; reject: (error: Error) => void; timer: NodeJS.Timeout } | null =
    null;
  #negotiating = false;
  #dirty = false;
  /** An answer was applied: ICE and DTLS started (or are up). */
  #answered = false;
  /** The transport was up once (ICE and DTLS done). */
  #everConnected = false;
  #disconnectTimer: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(config: Partial<PeerConfig>, logger: Logger) {
    super();
    this.#logger = logger;
    this.pc = new RTCPeerConnection(config);
    routeFeedbackToMediaSource(this.pc);
    this.pc.iceConnectionStateChange.subscribe((state) => this.#logger.debug({ state }, 'ICE state'));
    this.pc.connectionStateChange.subscribe((state) => {
      this.#logger.debug({ state }, 'peer connection state');
      if (state === 'connected') this.#everConnected = true;
      if (state === 'failed' || state === 'closed') this.close(`peer connection ${state}`);
      else if (state === 'disconnected') {
        this.#disconnectTimer ??= setTimeout(() => this.close('peer connection lost'), DISCONNECTED_GRACE_MS);
      } else if (state === 'connected' && this.#disconnectTimer !== null) {
        clearTimeout(this.#disconnectTimer);
        this.#disconnectTimer = null;
      }
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Adds receive-only m-lines for a stream this client publishes and negotiates them. The
   * stream gets its tracks when media arrives.
   */
  publish(stream: Stream, requestId?: string): void {
    this.#assertOpen();
    const transceivers = new Map<MediaKind, RTCRtpTransceiver>();
    const kinds: MediaKind[] = [];
    if (stream.hasAudio) kinds.push('audio');
    if (stream.hasVideo) kinds.push('video');
    for (const kind of kinds) {
      const transceiver = this.pc.addTransceiver(kind, { direction: 'recvonly' });
      transceiver.onTrack.subscribe((track) => {
        stream.addTrack({ kind, track, receiver: transceiver.receiver });
      });
      transceivers.set(kind, transceiver);
    }
    this.#pendingPublishes.push({ ...(requestId !== undefined ? { requestId } : {}), stream, transceivers });
    this.negotiate();
  }

  /** Stops receiving a stream this client published. */
  unpublish(stream: Stream): void {
    if (this.#closed) return;
    for (const transceiver of this.pc.getTransceivers()) {
      if (transceiver.receiver.tracks.some((t) => [...stream.tracks.values()].some((s) => s.track === t))) {
        transceiver.direction = 'inactive';
      }
    }
    this.negotiate();
  }

  /** Forwards another participant's stream to this client. */
  subscribe(stream: Stream): void {
    if (this.#closed || this.#subscriptions.has(stream.id)) return;
    const subscription: Subscription = { stream, transceivers: new Map(), dispose: [] };
    this.#subscriptions.set(stream.id, subscription);
    const attach = (kind: MediaKind) => {
      const source = stream.tracks.get(kind);
      if (source === undefined || subscription.transceivers.has(kind) || this.#closed) return;
      const transceiver = this.pc.addTransceiver(source.track, {
        direction: 'sendonly',
        streams: [new MediaStream({ id: stream.id })],
      });
      subscription.transceivers.set(kind, transceiver);
      if (kind === 'video') {
        // A subscriber that lost a frame asks for a keyframe; the publisher makes one.
        const { unSubscribe } = transceiver.sender.onPictureLossIndication.subscribe(() =>
          stream.requestKeyframe(),
        );
        subscription.dispose.push(unSubscribe);
      }
      this.negotiate();
    };
    attach('audio');
    attach('video');
    const onTrack = (t: { kind: MediaKind }) => attach(t.kind);
    stream.on('track', onTrack);
    subscription.dispose.push(() => stream.off('track', onTrack));
  }

  /** Stops forwarding a stream to this client. */
  unsubscribe(streamId: string): void {
    const subscription = this.#subscriptions.get(streamId);
    if (subscription === undefined) return;
    this.#subscriptions.delete(streamId);
    for (const dispose of subscription.dispose) dispose();
    if (this.#closed) return;
    for (const transceiver of subscription.transceivers.values()) {
      try {
        this.pc.removeTrack(transceiver.sender);
      } catch (error) {
        this.#logger.debug({ err: error }, 'removeTrack failed');
      }
    }
    this.negotiate();
  }

  /** Applies the client's answer to the outstanding offer. */
  async handleAnswer(sdp: string): Promise<void> {
    if (this.#awaitingAnswer === null) {
      throw new StudioError('Conflict', 'no offer is waiting for an answer', 'sdp');
    }
    const waiting = this.#awaitingAnswer;
    // werift takes any text as an answer (and then reports the connection as connected): an
    // answer has the offer's media sections, one for one and of the same kinds (RFC 3264 §6).
    // werift does not check the kinds: an answer turning a section into `m=application` would
    // have it run an SCTP association the studio never offered.
    const offered = sectionKinds(this.pc.localDescription?.sdp ?? '');
    const answered = sectionKinds(sdp);
    if (!/^v=0\r?\n/.test(sdp) || answered.length !== offered.length) {
      throw new StudioError(
        'InvalidArgument',
        `the answer SDP was refused: it has ${answered.length} media sections, the offer ${offered.length}`,
        'sdp',
      );
    }
    const changed = answered.findIndex((kind, i) => kind !== offered[i]);
    if (changed >= 0) {
      throw new StudioError(
        'InvalidArgument',
        `the answer SDP was refused: its media section ${changed + 1} is ${answered[changed]!.slice(0, 20)}, the offer's ${offered[changed]}`,
        'sdp',
      );
    }
    try {
      await this.pc.setRemoteDescription({ type: 'answer', sdp });
    } catch (error) {
      throw new StudioError(
        'InvalidArgument',
        `the answer SDP was refused: ${(error as Error).message}`,
        'sdp',
      );
    }
    clearTimeout(waiting.timer);
    this.#awaitingAnswer = null;
    waiting.resolve();
  }

  /** A trickled ICE candidate from the client (null ends candidates). */
  async addCandidate(candidate: RTCIceCandidateInit | null): Promise<void> {
    if (this.#closed) return;
    try {
      await this.pc.addIceCandidate(candidate ?? undefined);
    } catch (error) {
      throw new StudioError(
        'InvalidArgument',
        `ICE candidate refused: ${(error as Error).message}`,
        'candidate',
      );
    }
  }

  /** Schedules a negotiation; concurrent requests are merged. */
  negotiate(): void {
    if (this.#closed) return;
    this.#dirty = true;
    if (this.#negotiating) return;
    this.#negotiating = true;
    void this.#negotiateLoop().finally(() => {
      this.#negotiating = false;
    });
  }

  async #negotiateLoop(): Promise<void> {
    while (this.#dirty && !this.#closed) {
      try {
        // werift fails the DTLS handshake when a new offer is applied while it is in progress
        // (two guests joining at once: the second's stream reaches the first while it connects),
        // so every negotiation after the first waits until the transport is up once.
        if (this.#answered && !this.#everConnected) await this.#connected();
      } catch (error) {
        if (this.#closed) return;
        this.#logger.warn({ err: error }, 'negotiation failed');
        this.close(`negotiation failed: ${(error as Error).message}`);
        return;
      }
      this.#dirty = false;
      const publishes = this.#pendingPublishes.splice(0);
      try {
        const offer = await this.pc.createOffer();
        await this.pc.setLocalDescription(offer);
        const sdp = this.pc.localDescription?.sdp;
        if (sdp === undefined) throw new Error('no local description after setLocalDescription');
        const subscriptions: StreamMids[] = [];
        for (const sub of this.#subscriptions.values()) {
          const mids: StreamMids = { streamId: sub.stream.id, connectionId: sub.stream.connectionId };
          for (const [kind, transceiver] of sub.transceivers)
            if (transceiver.mid !== null) mids[kind] = transceiver.mid;
          subscriptions.push(mids);
        }
        const answered = new Promise<void>((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new Error('the client did not answer the offer')),
            ANSWER_TIMEOUT_MS,
          );
          this.#awaitingAnswer = { resolve, reject, timer };
        });
        this.safeEmit('offer', {
          sdp: withStartBitrate(sdp),
          subscriptions,
          publishes: publishes.map((p) => this.#publishMids(p)),
        });
        await answered;
        this.#answered = true;
      } catch (error) {
        if (this.#closed) return;
        this.#logger.warn({ err: error }, 'negotiation failed');
        this.close(`negotiation failed: ${(error as Error).message}`);
        return;
      }
    }
  }

  #connected(timeoutMs = 15_000): Promise<void> {
    if (this.pc.connectionState === 'connected') return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        unSubscribe();
        reject(new Error('the peer connection did not connect'));
      }, timeoutMs);
      const { unSubscribe } = this.pc.connectionStateChange.subscribe((state) => {
        if (state === 'connected' || state === 'failed' || state === 'closed') {
          clearTimeout(timer);
          unSubscribe();
          if (state === 'connected') resolve();
          else reject(new Error(`the peer connection ${state}`));
        }
      });
    });
  }

  #publishMids(pending: PendingPublish): PublishMids {
    const mids: PublishMids = { streamId: pending.stream.id };
    if (pending.requestId !== undefined) mids.requestId = pending.requestId;
    for (const [kind, transceiver] of pending.transceivers)
      if (transceiver.mid !== null) mids[kind] = transceiver.mid;
    return mids;
  }

  #assertOpen(): void {
    if (this.#closed) throw new StudioError('Conflict', 'the peer connection is closed');
  }

  /** Closes the peer connection. Idempotent. */
  close(reason = 'closed'): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#disconnectTimer !== null) clearTimeout(this.#disconnectTimer);
    if (this.#awaitingAnswer !== null) {
      clearTimeout(this.#awaitingAnswer.timer);
      this.#awaitingAnswer.reject(new Error('peer closed'));
      this.#awaitingAnswer = null;
    }
    for (const subscription of this.#subscriptions.values())
      for (const dispose of subscription.dispose) dispose();
    this.#subscriptions.clear();
    void this.pc.close().catch(() => {});
    this.safeEmit('close', reason);
    this.removeAllListeners();
  }
}
