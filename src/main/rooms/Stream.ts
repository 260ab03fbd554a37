import type { MediaStreamTrack, RTCRtpReceiver, RtcpPacket } from 'werift';
import type { VideoType } from '../../shared/archive';
import type { StreamHealthInfo } from '../../shared/events/health';
import type { StreamInfo } from '../../shared/events/rooms';
import { TypedEmitter } from '../util/TypedEmitter';

/** A cached sender report older than this is not replayed (senders send one every few seconds). */
const LAST_REPORT_MAX_AGE_MS = 10_000;

export type MediaKind = 'audio' | 'video';

/** One received track of a stream: the remote werift track and the receiver it came on. */
export interface StreamTrack {
  kind: MediaKind;
  track: MediaStreamTrack;
  receiver: RTCRtpReceiver;
}

export interface StreamEvents {
  [key: string]: unknown[];
  /** A track of the stream started to receive media. */
  track: [StreamTrack];
  /** A track of a stream received on a media worker started to receive media (docs/threads.md). */
  remoteTrack: [kind: MediaKind];
  /** Mute state or codecs changed. */
  updated: [];
  /** The media worker receiving the stream reported its health (`remoteHealth` holds it). */
  remoteHealth: [];
  /** The stream ended. */
  close: [reason: string];
}

/** Shortest time between two keyframe requests to the publisher. */
const KEYFRAME_REQUEST_MIN_MS = 300;

/**
 * One published source (camera, screen, WHIP) with an audio and/or a video track. Forwarders
 * and recorders subscribe to its tracks; keyframe requests from all of them are coalesced.
 */
export class Stream extends TypedEmitter<StreamEvents> {
  readonly id: string;
  readonly connectionId: string;
  readonly roomId: string;
  readonly sessionId: string;
  readonly videoType: VideoType | null;
  readonly hasAudio: boolean;
  readonly hasVideo: boolean;
  readonly createdAt = Date.now();
  /** The connection asked that its media is never recorded. */
  readonly recordingBlock: boolean;
  /** The connection data of the publisher (copied into manifests). */
  readonly connectionData: string;
  audioMuted = false;
  videoMuted = false;
  /** OpenTok layout classes (`PUT /v2/project/{apiKey}/session/{id}/stream`), used by layouts. */
  layoutClassList: readonly string[] = [];
  readonly tracks = new Map<MediaKind, StreamTrack>();
  /**
   * The health the media worker receiving this stream measured last, and when it came (ms);
   * null when the stream is received on this thread (`HealthMonitor` measures it here then).
   */
  remoteHealth: { info: StreamHealthInfo; at: number } | null = null;

  /** A media worker's measure of this stream, at `at` (ms). */
  setRemoteHealth(info: StreamHealthInfo, at: number): void {
    this.remoteHealth = { info, at };
    this.safeEmit('remoteHealth');
  }
  /** Codec MIME types of tracks received on a media worker (their werift objects live there). */
  readonly #remoteTracks = new Map<MediaKind, string>();
  #lastKeyframeRequest = 0;
  #keyframeTimer: NodeJS.Timeout | null = null;
  #closed = false;
  /** The last sender report of each track and when it came: a recorder that starts later maps its clocks at once. */
  readonly #lastReports = new Map<MediaKind, { packet: RtcpPacket; at: number }>();

  constructor(init: {
    id: string;
    connectionId: string;
    roomId: string;
    sessionId: string;
    videoType: VideoType | null;
    hasAudio: boolean;
    hasVideo: boolean;
    recordingBlock: boolean;
    connectionData: string;
  }) {
    super();
    this.id = init.id;
    this.connectionId = init.connectionId;
    this.roomId = init.roomId;
    this.sessionId = init.sessionId;
    this.videoType = init.videoType;
    this.hasAudio = init.hasAudio;
    this.hasVideo = init.hasVideo;
    this.recordingBlock = init.recordingBlock;
    this.connectionData = init.connectionData;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Codec names by kind, e.g. `{ audio: 'opus', video: 'VP8' }`. */
  get codecs(): StreamInfo['codecs'] {
    const codecs: StreamInfo['codecs'] = {};
    const mimes = new Map(this.#remoteTracks);
    for (const [kind, t] of this.tracks) {
      const mime = t.track.codec?.mimeType;
      if (mime !== undefined) mimes.set(kind, mime);
    }
    for (const [kind, mime] of mimes)
      codecs[kind] = mime.split('/')[1]!.toLowerCase() === 'opus' ? 'opus' : mime.split('/')[1]!;
    return codecs;
  }

  info(): StreamInfo {
    return {
      id: this.id,
      connectionId: this.connectionId,
      roomId: this.roomId,
      sessionId: this.sessionId,
      videoType: this.videoType,
      hasAudio: this.hasAudio,
      hasVideo: this.hasVideo,
      audioMuted: this.audioMuted,
      videoMuted: this.videoMuted,
      codecs: this.codecs,
      layoutClassList: [...this.layoutClassList],
      createdAt: this.createdAt,
    };
  }

  /** Called by the publisher's peer when a track of this stream receives media. */
  addTrack(track: StreamTrack): void {
    if (this.#closed) return;
    this.tracks.set(track.kind, track);
    track.receiver.onRtcp.subscribe((packet) => {
      if (packet.type === 200) this.#lastReports.set(track.kind, { packet, at: Date.now() });
    });
    this.safeEmit('track', track);
    this.safeEmit('updated');
  }

  /** Called when a track of this stream, received on a media worker, receives media. */
  setRemoteTrack(kind: MediaKind, mimeType: string): void {
    if (this.#closed) return;
    this.#remoteTracks.set(kind, mimeType);
    this.safeEmit('remoteTrack', kind);
    this.safeEmit('updated');
  }

  /**
   * Subscribes to RTCP (sender reports) of a track; the last sender report, if recent, is
   * delivered first (on the next microtask). Returns an unsubscribe function.
   */
  onRtcp(kind: MediaKind, listener: (packet: RtcpPacket) => void): () => void {
    const t = this.tracks.get(kind);
    if (t === undefined) return () => {};
    const { unSubscribe } = t.receiver.onRtcp.subscribe(listener);
    const last = this.#lastReports.get(kind);
    let subscribed = true;
    if (last !== undefined && Date.now() - last.at < LAST_REPORT_MAX_AGE_MS)
      queueMicrotask(() => subscribed && listener(last.packet));
    return () => {
      subscribed = false;
      unSubscribe();
    };
  }

  /**
   * Asks the publisher for a keyframe (PLI). Requests closer together than a few hundred ms are
   * merged into one, so many subscribers joining at once do not flood the publisher.
   */
  requestKeyframe(): void {
    const video = this.tracks.get('video');
    if (this.#closed || video === undefined || video.track.ssrc === undefined) return;
    const wait = this.#lastKeyframeRequest + KEYFRAME_REQUEST_MIN_MS - Date.now();
    if (wait > 0) {
      this.#keyframeTimer ??= setTimeout(() => {
        this.#keyframeTimer = null;
        this.requestKeyframe();
      }, wait);
      return;
    }
    this.#lastKeyframeRequest = Date.now();
    void video.receiver.sendRtcpPLI(video.track.ssrc).catch(() => {});
  }

  /** Sets the layout classes (compositions and layouts match them with `class:` patterns). */
  setLayoutClassList(classes: readonly string[]): void {
    this.layoutClassList = [...classes];
    this.safeEmit('updated');
  }

  /** Sets a track's mute state; only a change is an update (a flood of toggles to the same state is silent). */
  setMuted(kind: MediaKind, muted: boolean): void {
    const before = kind === 'audio' ? this.audioMuted : this.videoMuted;
    if (before === muted) return;
    if (kind === 'audio') this.audioMuted = muted;
    else this.videoMuted = muted;
    this.safeEmit('updated');
  }

  close(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#keyframeTimer !== null) clearTimeout(this.#keyframeTimer);
    this.safeEmit('close', reason);
    this.removeAllListeners();
  }
}
