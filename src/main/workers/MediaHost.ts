import type { MessagePort } from 'node:worker_threads';
import {
  Event,
  MediaStreamTrack,
  RTCPeerConnection,
  RTCRtpCodecParameters,
  type RTCRtpReceiver,
  type RtcpPacket,
} from 'werift';
import { notFound, StudioError } from '../../shared/errors';
import type { Logger } from '../logger';
import { Peer } from '../rooms/Peer';
import { answerWhipOffer, applyTrickleFragment, peerConfig } from '../rooms/rtcConfig';
import { Stream, type MediaKind } from '../rooms/Stream';
import { StreamHealth } from '../rooms/StreamHealth';
import type { OpenSink } from '../recording/MatroskaWriter';
import { StreamRecorder } from '../recording/StreamRecorder';
import { WriteBudget, type SharedQueue } from '../recording/WriteBudget';
import type { RecorderInit, StreamInit, WorkerEvent, WorkerEvents } from './protocol';
import { forEachPacket, RouteOutbox, type PacketBatch } from './RouteOutbox';
import type { Handlers } from './WorkerHost';

interface HostedWhip {
  pc: RTCPeerConnection;
  stream: Stream;
}

/** A codec as it crosses to another worker. */
interface CodecInit {
  mimeType: string;
  clockRate: number;
  channels?: number;
  payloadType?: number;
  parameters?: string;
  rtcpFeedback: Array<{ type: string; parameter?: string }>;
}

/** What two workers say to each other on the route between them (docs/threads.md). */
type RouteMessage =
  | { t: 'sub'; streamId: string }
  | { t: 'unsub'; streamId: string }
  | { t: 'pli'; streamId: string }
  | { t: 'track'; streamId: string; kind: MediaKind; codec: CodecInit; ssrc: number; channel: number }
  | PacketBatch
  | { t: 'end'; streamId: string };

/** The route to another worker: what is posted there, and the tracks its packets are for. */
interface Route {
  port: MessagePort;
  outbox: RouteOutbox<RouteMessage>;
  /** Tracks imported from there, by the channel number their packets come with. */
  channels: Map<number, MediaStreamTrack>;
}

/** A stream of another worker forwarded to peers of this one. */
interface Imported {
  stream: Stream;
  from: number;
  tracks: Map<MediaKind, MediaStreamTrack>;
  /** The channels its tracks' packets come with (forgotten when it closes). */
  channels: number[];
  /** Local peers subscribed to it; the import ends with the last. */
  peers: Set<string>;
}

/** How often the health of the streams received here is sampled and reported (as on the main thread). */
const HEALTH_INTERVAL_MS = 1000;

/**
 * What a media worker hosts (docs/threads.md): browser peers (the same `Peer` as on the main
 * thread), WHIP peers and the streams they receive. Forwarding between peers of this worker is
 * werift's own: a subscriber's sendonly transceiver is fed by the publisher's track, no copy.
 */
export class MediaHost {
  readonly #peers = new Map<string, Peer>();
  readonly #streams = new Map<string, Stream>();
  /** Streams by the peer that publishes them (closed with it). */
  readonly #published = new Map<string, Set<string>>();
  readonly #whip = new Map<string, HostedWhip>();
  readonly #recorders = new Map<string, StreamRecorder>();
  /** Routes to the other workers, by their index. */
  readonly #routes = new Map<number, Route>();
  /** Channel number of the next track sent to another worker. */
  #nextChannel = 1;
  /** Streams of this worker sent to another: `<streamId> <worker>` → stop sending. */
  readonly #exports = new Map<string, () => void>();
  readonly #imports = new Map<string, Imported>();
  /** This worker's write queue (in the studio's, when shared), made by the first recorder. */
  #budget: WriteBudget | null = null;
  /** The studio's write-queue slots and this worker's one (set by the thread's entry). */
  sharedQueue: SharedQueue | null = null;
  #progressTimer: NodeJS.Timeout | null = null;
  /** Health of the streams received here (not imports), reported to the main thread each second. */
  readonly #health = new Map<string, StreamHealth>();
  #healthTimer: NodeJS.Timeout | null = null;
  readonly #logger: Logger;
  readonly #notify: <E extends WorkerEvent>(event: E, data: WorkerEvents[E]) => void;

  /**
   * Called when a recorder opens a file, that is, writes its first frame (the
   * `media.workerDiesWhileRecording` fault hooks here).
   */
  onRecorderFileStarted: (() => void) | null = null;
  /** Called when another worker's stream is imported (the `media.workerDiesWhileImporting` fault). */
  onImported: (() => void) | null = null;

  /** How recorders open their files (a throttled sink in tests of a slow disk); the file sink by default. */
  readonly #openSink: OpenSink | undefined;

  constructor(
    logger: Logger,
    notify: <E extends WorkerEvent>(event: E, data: WorkerEvents[E]) => void,
    openSink?: OpenSink,
  ) {
    this.#logger = logger;
    this.#notify = notify;
    this.#openSink = openSink;
  }

  /** Hosted objects, for stats and tests. */
  get counts(): { peers: number; streams: number; whip: number; recorders: number } {
    return {
      peers: this.#peers.size,
      streams: this.#streams.size,
      whip: this.#whip.size,
      recorders: this.#recorders.size,
    };
  }

  handlers(): Handlers {
    return {
      'peer.create': ({ peerId, network, preferredVideoCodec }) => {
        if (this.#peers.has(peerId)) throw new StudioError('Conflict', `peer ${peerId} exists`, 'peerId');
        const peer = new Peer(peerConfig(network, preferredVideoCodec), this.#logger.child({ peerId }));
        this.#peers.set(peerId, peer);
        peer.on('offer', (offer) => this.#notify('peer.offer', { peerId, offer }));
        peer.once('close', (reason) => {
          this.#peers.delete(peerId);
          for (const streamId of [...this.#imports.keys()]) this.#releaseImport(streamId, peerId);
          for (const streamId of this.#published.get(peerId) ?? []) this.#closeStream(streamId, reason);
          this.#published.delete(peerId);
          this.#notify('peer.close', { peerId, reason });
        });
        return {};
      },
      'stream.create': ({ stream }) => {
        this.#addStream(stream);
        return {};
      },
      'peer.publish': ({ peerId, streamId, requestId }) => {
        const peer = this.#peer(peerId);
        const stream = this.#stream(streamId);
        let published = this.#published.get(peerId);
        if (published === undefined) this.#published.set(peerId, (published = new Set()));
        published.add(stream.id);
        peer.publish(stream, requestId);
        return {};
      },
      'peer.unpublish': ({ peerId, streamId }) => {
        const stream = this.#streams.get(streamId);
        if (stream !== undefined) this.#peers.get(peerId)?.unpublish(stream);
        return {};
      },
      'peer.subscribe': ({ peerId, streamId, from }) => {
        const peer = this.#peer(peerId);
        let stream = this.#streams.get(streamId);
        if (stream === undefined && from !== undefined)
          stream = this.#import(from.worker, from.stream, peerId);
        if (stream === undefined)
          throw notFound(`stream ${streamId} is not on this media worker`, 'streamId');
        peer.subscribe(stream);
        return {};
      },
      'peer.unsubscribe': ({ peerId, streamId }) => {
        this.#peers.get(peerId)?.unsubscribe(streamId);
        this.#releaseImport(streamId, peerId);
        return {};
      },
      'peer.answer': async ({ peerId, sdp }) => {
        await this.#peer(peerId).handleAnswer(sdp);
        return {};
      },
      'peer.candidate': async ({ peerId, candidate }) => {
        await this.#peers.get(peerId)?.addCandidate(candidate);
        return {};
      },
      'peer.close': ({ peerId, reason }) => {
        this.#peers.get(peerId)?.close(reason);
        return {};
      },
      'stream.close': ({ streamId, reason }) => {
        this.#closeStream(streamId, reason);
        return {};
      },
      'whip.offer': async ({ resourceId, streamId, offer, network, preferredVideoCodec }) => {
        if (this.#whip.has(resourceId))
          throw new StudioError('Conflict', `WHIP session ${resourceId} exists`, 'resourceId');
        const stream = this.#stream(streamId);
        const pc = new RTCPeerConnection(peerConfig(network, preferredVideoCodec));
        this.#whip.set(resourceId, { pc, stream });
        pc.onRemoteTransceiverAdded.subscribe((transceiver) => {
          transceiver.onTrack.subscribe((track) => {
            stream.addTrack({ kind: track.kind as MediaKind, track, receiver: transceiver.receiver });
          });
        });
        pc.connectionStateChange.subscribe((state) => {
          this.#notify('whip.state', { resourceId, state });
          if (state === 'failed' || state === 'closed') this.#closeWhip(resourceId);
        });
        try {
          return { answer: await answerWhipOffer(pc, offer) };
        } catch (error) {
          this.#closeWhip(resourceId);
          throw error;
        }
      },
      'whip.patch': async ({ resourceId, fragment }) => {
        const whip = this.#whip.get(resourceId);
        if (whip === undefined) throw notFound(`WHIP session ${resourceId} does not exist`, 'resourceId');
        await applyTrickleFragment(whip.pc, fragment);
        return {};
      },
      'whip.close': ({ resourceId }) => {
        this.#closeWhip(resourceId);
        return {};
      },
      'recorder.start': (init) => this.#startRecorder(init),
      'recorder.stop': async ({ recorderId }) => {
        const recorder = this.#recorders.get(recorderId);
        if (recorder === undefined)
          throw notFound(`recorder ${recorderId} is not on this media worker`, 'recorderId');
        try {
          return { files: await recorder.stop() };
        } finally {
          this.#recorders.delete(recorderId);
          this.#reportProgress();
        }
      },
      'budget.resume': () => {
        this.#budget?.resume();
        return {};
      },
      'budget.halt': ({ message, code }) => {
        const error: NodeJS.ErrnoException = new Error(message);
        if (code !== undefined) error.code = code;
        this.#budget?.halt(error);
        return {};
      },
    };
  }

  /** The route to another worker (a restarted worker brings a new one). */
  setRoute(peerIndex: number, port: MessagePort): void {
    this.#dropRoute(peerIndex);
    const route: Route = { port, outbox: new RouteOutbox(port), channels: new Map() };
    this.#routes.set(peerIndex, route);
    port.on('message', (message: RouteMessage) => this.#onRoute(peerIndex, route, message));
    port.on('close', () => {
      if (this.#routes.get(peerIndex) === route) this.#dropRoute(peerIndex);
    });
  }

  #dropRoute(peerIndex: number): void {
    const route = this.#routes.get(peerIndex);
    if (route === undefined) return;
    this.#routes.delete(peerIndex);
    for (const [key, stop] of [...this.#exports]) {
      if (key.endsWith(` ${peerIndex}`)) {
        stop();
        this.#exports.delete(key);
      }
    }
    for (const [streamId, imported] of [...this.#imports])
      if (imported.from === peerIndex) this.#closeStream(streamId, 'media worker died');
    route.outbox.close();
    route.port.close();
  }

  #onRoute(peerIndex: number, route: Route, message: RouteMessage): void {
    switch (message.t) {
      case 'sub':
        this.#export(peerIndex, route.outbox, message.streamId);
        return;
      case 'unsub': {
        const key = `${message.streamId} ${peerIndex}`;
        this.#exports.get(key)?.();
        this.#exports.delete(key);
        return;
      }
      case 'pli':
        this.#streams.get(message.streamId)?.requestKeyframe();
        return;
      case 'track': {
        const imported = this.#imports.get(message.streamId);
        if (imported === undefined) return;
        imported.channels.push(message.channel);
        const known = imported.tracks.get(message.kind);
        if (known !== undefined) {
          // The publisher's track of that kind again (sent anew): its packets feed the same one.
          route.channels.set(message.channel, known);
          return;
        }
        const codec = new RTCRtpCodecParameters({
          ...message.codec,
          rtcpFeedback: message.codec.rtcpFeedback.map((f) => ({ ...f })),
        });
        const track = new MediaStreamTrack({ kind: message.kind, codec });
        track.ssrc = message.ssrc;
        imported.tracks.set(message.kind, track);
        route.channels.set(message.channel, track);
        const streamId = message.streamId;
        // A stand-in for the publisher's receiver: keyframe requests travel back on the route.
        const receiver = {
          onRtcp: new Event<[RtcpPacket]>(),
          sendRtcpPLI: async () => route.outbox.post({ t: 'pli', streamId }),
        } as unknown as RTCRtpReceiver;
        imported.stream.addTrack({ kind: message.kind, track, receiver });
        return;
      }
      case 'rtps':
        forEachPacket(message.data, (channel, packet) => route.channels.get(channel)?.writeRtp(packet));
        return;
      case 'end':
        this.#closeStream(message.streamId, 'stream ended');
        return;
    }
  }

  /** Sends a stream of this worker to another one, once per destination worker. */
  #export(peerIndex: number, outbox: RouteOutbox<RouteMessage>, streamId: string): void {
    const key = `${streamId} ${peerIndex}`;
    const stream = this.#streams.get(streamId);
    if (stream === undefined || this.#imports.has(streamId)) {
      outbox.post({ t: 'end', streamId });
      return;
    }
    if (this.#exports.has(key)) return;
    const dispose: Array<() => void> = [];
    const send = (t: { kind: MediaKind; track: MediaStreamTrack }) => {
      const codec = t.track.codec;
      if (codec === undefined) return;
      const channel = this.#nextChannel++;
      outbox.post({
        t: 'track',
        streamId,
        kind: t.kind,
        ssrc: t.track.ssrc ?? 0,
        channel,
        codec: {
          mimeType: codec.mimeType,
          clockRate: codec.clockRate,
          ...(codec.channels !== undefined ? { channels: codec.channels } : {}),
          ...(codec.payloadType !== undefined ? { payloadType: codec.payloadType } : {}),
          ...(codec.parameters !== undefined ? { parameters: codec.parameters } : {}),
          rtcpFeedback: codec.rtcpFeedback.map((f) => ({
            type: f.type,
            ...(f.parameter !== undefined ? { parameter: f.parameter } : {}),
          })),
        },
      });
      // One copy per packet per destination worker, sent with the others of this event-loop
      // turn in one transferred buffer (bench/workers.ts: a third of a message per packet).
      const { unSubscribe } = t.track.onReceiveRtp.subscribe((packet) =>
        outbox.rtp(channel, packet.serialize()),
      );
      dispose.push(unSubscribe);
    };
    for (const t of stream.tracks.values()) send(t);
    stream.on('track', send);
    const onClose = () => {
      this.#exports.delete(key);
      outbox.post({ t: 'end', streamId });
    };
    stream.once('close', onClose);
    this.#exports.set(key, () => {
      stream.off('track', send);
      stream.off('close', onClose);
      for (const d of dispose) d();
    });
  }

  /** The local stand-in of another worker's stream (made on the first local subscriber). */
  #import(from: number, init: StreamInit, peerId: string): Stream {
    const existing = this.#imports.get(init.id);
    if (existing !== undefined) {
      existing.peers.add(peerId);
      return existing.stream;
    }
    const route = this.#routes.get(from);
    if (route === undefined) throw new StudioError('Unavailable', `no route to media worker ${from}`, 'from');
    const stream = this.#addStream(init, false);
    const imported: Imported = { stream, from, tracks: new Map(), channels: [], peers: new Set([peerId]) };
    this.#imports.set(init.id, imported);
    stream.once('close', () => {
      this.#imports.delete(init.id);
      for (const channel of imported.channels) route.channels.delete(channel);
      route.outbox.post({ t: 'unsub', streamId: init.id });
    });
    route.outbox.post({ t: 'sub', streamId: init.id });
    this.onImported?.();
    return stream;
  }

  #releaseImport(streamId: string, peerId: string): void {
    const imported = this.#imports.get(streamId);
    if (imported === undefined || !imported.peers.delete(peerId) || imported.peers.size > 0) return;
    this.#closeStream(streamId, 'no subscriber on this worker');
  }

  #startRecorder(init: RecorderInit): Record<string, never> {
    const stream = this.#streams.get(init.streamId);
    if (stream === undefined)
      throw notFound(`stream ${init.streamId} is not on this media worker`, 'streamId');
    if (this.#recorders.has(init.recorderId))
      throw new StudioError('Conflict', `recorder ${init.recorderId} exists`, 'recorderId');
    this.#budget ??= new WriteBudget(init.queueBytes, this.sharedQueue ?? undefined);
    const { recorderId } = init;
    const recorder = new StreamRecorder({
      stream,
      dir: init.dir,
      baseName: init.baseName,
      format: init.format,
      audio: init.audio,
      video: init.video,
      ...(init.split !== undefined ? { split: init.split } : {}),
      archiveStartMs: init.archiveStartMs,
      keyframeIntervalSec: init.keyframeIntervalSec,
      logger: this.#logger.child({ recorderId, streamId: init.streamId }),
      budget: this.#budget,
      ...(this.#openSink ? { openSink: this.#openSink } : {}),
      onFileStarted: (file) => {
        this.#notify('recorder.fileStarted', { recorderId, file });
        this.onRecorderFileStarted?.();
      },
      onFileFinished: (file) => this.#notify('recorder.fileFinished', { recorderId, file }),
      onWriteError: (error) =>
        this.#notify('recorder.writeError', {
          recorderId,
          message: error.message,
          ...((error as NodeJS.ErrnoException).code !== undefined
            ? { code: (error as NodeJS.ErrnoException).code! }
            : {}),
        }),
    });
    this.#recorders.set(recorderId, recorder);
    this.#progressTimer ??= setInterval(() => this.#reportProgress(), 500);
    return {};
  }

  #reportProgress(): void {
    if (this.#recorders.size === 0 && this.#progressTimer !== null) {
      clearInterval(this.#progressTimer);
      this.#progressTimer = null;
    }
    this.#notify('recorder.progress', {
      recorders: [...this.#recorders].map(([recorderId, r]) => ({
        recorderId,
        bytesWritten: r.bytesWritten,
        bytesReceived: r.bytesReceived,
        framesDropped: r.framesDropped,
        readable: r.readableFiles(),
      })),
      budget:
        this.#budget === null
          ? null
          : {
              peakBytes: this.#budget.peakBytes,
              totalBytes: this.#budget.totalBytes,
            },
    });
  }

  #stream(streamId: string): Stream {
    const stream = this.#streams.get(streamId);
    if (stream === undefined) throw notFound(`stream ${streamId} is not on this media worker`, 'streamId');
    return stream;
  }

  #peer(peerId: string): Peer {
    const peer = this.#peers.get(peerId);
    if (peer === undefined) throw notFound(`peer ${peerId} is not on this media worker`, 'peerId');
    return peer;
  }

  /** A stream hosted here; `notify`: its tracks are reported to the main thread (not for imports). */
  #addStream(init: StreamInit, notify = true): Stream {
    if (this.#streams.has(init.id)) throw new StudioError('Conflict', `stream ${init.id} exists`, 'streamId');
    const stream = new Stream(init);
    stream.onListenerError = (event, error) =>
      this.#logger.error({ err: error, event, streamId: init.id }, 'stream listener failed');
    this.#streams.set(stream.id, stream);
    stream.on('track', (t) => {
      const codec = t.track.codec;
      if (codec !== undefined && notify)
        this.#notify('stream.track', {
          streamId: stream.id,
          kind: t.kind,
          mimeType: codec.mimeType,
          clockRate: codec.clockRate,
        });
    });
    stream.once('close', () => {
      this.#streams.delete(stream.id);
      this.#health.get(stream.id)?.close();
      this.#health.delete(stream.id);
      if (this.#health.size === 0 && this.#healthTimer !== null) {
        clearInterval(this.#healthTimer);
        this.#healthTimer = null;
      }
    });
    if (notify) {
      this.#health.set(stream.id, new StreamHealth(stream));
      this.#healthTimer ??= setInterval(() => this.#reportHealth(), HEALTH_INTERVAL_MS);
    }
    return stream;
  }

  #reportHealth(): void {
    const now = Date.now();
    this.#notify('stream.health', { streams: [...this.#health.values()].map((h) => h.sample(now)) });
  }

  #closeStream(streamId: string, reason: string): void {
    const stream = this.#streams.get(streamId);
    if (stream === undefined) return;
    // Subscribers on this worker stop forwarding it (the main thread also unsubscribes them).
    for (const peer of this.#peers.values()) peer.unsubscribe(streamId);
    stream.close(reason);
  }

  #closeWhip(resourceId: string): void {
    const whip = this.#whip.get(resourceId);
    if (whip === undefined) return;
    this.#whip.delete(resourceId);
    this.#closeStream(whip.stream.id, 'WHIP session ended');
    void whip.pc.close().catch(() => {});
  }

  /**
   * Finalizes every recorder's files as a stop does — the frames they hold written, each file's
   * duration and index — for a worker about to end after an uncaught error: what it received is
   * on disk whole, and the main thread hears of each file as finished (docs/threads.md, "When a
   * worker dies"). The recorders stay listed: a `recorder.stop` that comes meanwhile gets the same
   * files. Resolves with how many recorders finalized and how many could not.
   */
  async salvage(): Promise<{ finalized: number; failed: number }> {
    const results = await Promise.allSettled([...this.#recorders.values()].map((r) => r.stop()));
    const failed = results.filter((r) => r.status === 'rejected');
    for (const r of failed)
      this.#logger.error(
        { err: r.reason as unknown },
        'a recording could not be finalized by its failing worker',
      );
    return { finalized: results.length - failed.length, failed: failed.length };
  }

  /** Closes every peer and stream (the worker is shutting down). */
  close(): void {
    if (this.#progressTimer !== null) clearInterval(this.#progressTimer);
    if (this.#healthTimer !== null) clearInterval(this.#healthTimer);
    for (const peerIndex of [...this.#routes.keys()]) this.#dropRoute(peerIndex);
    for (const resourceId of [...this.#whip.keys()]) this.#closeWhip(resourceId);
    for (const peer of [...this.#peers.values()]) peer.close('media worker closed');
    for (const streamId of [...this.#streams.keys()]) this.#closeStream(streamId, 'media worker closed');
  }
}
