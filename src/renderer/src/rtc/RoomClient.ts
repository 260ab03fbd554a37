import type { ConnectionInfo, StreamInfo } from '../../../shared/events/rooms';
import type { ClientMessage, RecordingState, ServerMessage } from '../../../shared/signaling';

type Joined = Extract<ServerMessage, { type: 'joined' }>;

/** A stream of another participant, with the media received so far. */
export interface RemoteStream {
  info: StreamInfo;
  media: MediaStream;
}

export interface RoomClientEvents {
  state: 'connecting' | 'joined' | 'closed';
  streams: Map<string, RemoteStream>;
  connections: Map<string, ConnectionInfo>;
  recording: RecordingState;
  error: { code: string; message: string };
  closed: string;
  /**
   * The studio asked this client to join again (its media side ended), with `resume` to join as
   * the same connection; `closed` follows.
   */
  reconnect: { reason: string; resume: string; resumeWithinSec: number };
}

type Listener<K extends keyof RoomClientEvents> = (value: RoomClientEvents[K]) => void;

export class SignalingError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The browser side of the studio's signaling protocol (docs/signaling.md). The studio always
 * offers; this client answers, sends on the m-lines the studio assigns to its own streams and
 * receives everyone else's.
 */
export class RoomClient {
  readonly pc: RTCPeerConnection;
  readonly streams = new Map<string, RemoteStream>();
  readonly connections = new Map<string, ConnectionInfo>();
  recording: RecordingState = { active: false, archives: [] };
  joined: Joined | null = null;
  readonly #ws: WebSocket;
  readonly #listeners = new Map<keyof RoomClientEvents, Set<(value: never) => void>>();
  readonly #pending = new Map<string, { resolve: (m: ServerMessage) => void; reject: (e: Error) => void }>();
  /** Local tracks waiting for the m-lines the studio assigns them (by publish request id). */
  readonly #publishing = new Map<string, { audio?: MediaStreamTrack; video?: MediaStreamTrack }>();
  /** Local streams by stream id, to replace or stop their tracks. */
  readonly localStreams = new Map<string, { audio?: RTCRtpSender; video?: RTCRtpSender }>();
  #nextId = 1;
  #heartbeat: ReturnType<typeof setInterval> | null = null;
  #queue: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(signalingUrl: string) {
    this.pc = new RTCPeerConnection({ iceServers: [] });
    this.pc.onicecandidate = (event) => {
      this.#send({
        type: 'candidate',
        candidate: event.candidate ? (event.candidate.toJSON() as never) : null,
      });
    };
    this.#ws = new WebSocket(signalingUrl);
    this.#ws.onmessage = (event) => {
      const message = JSON.parse(String(event.data)) as ServerMessage;
      // Offers are applied one after the other, never interleaved.
      this.#queue = this.#queue
        .then(() => this.#handle(message))
        .catch((error: Error) => {
          this.#emit('error', { code: 'Client', message: error.message });
        });
    };
    this.#ws.onclose = () => this.close('signaling closed');
  }

  on<K extends keyof RoomClientEvents>(event: K, listener: Listener<K>): () => void {
    const set = this.#listeners.get(event) ?? new Set();
    set.add(listener as (value: never) => void);
    this.#listeners.set(event, set);
    return () => set.delete(listener as (value: never) => void);
  }

  #emit<K extends keyof RoomClientEvents>(event: K, value: RoomClientEvents[K]): void {
    for (const listener of this.#listeners.get(event) ?? []) (listener as Listener<K>)(value);
  }

  #send(message: ClientMessage): void {
    if (this.#ws.readyState === WebSocket.OPEN) this.#ws.send(JSON.stringify(message));
  }

  #request<T extends ServerMessage>(message: ClientMessage & { requestId?: string }): Promise<T> {
    const requestId = String(this.#nextId++);
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(requestId, { resolve: resolve as (m: ServerMessage) => void, reject });
      this.#send({ ...message, requestId } as ClientMessage);
    });
  }

  /**
   * Opens the socket and joins with a join token (and a `reconnect`'s `resume`, to join as the
   * connection it ended). Rejects with the studio's reason.
   */
  async join(token: string, roomId?: string, resume?: string): Promise<Joined> {
    this.#emit('state', 'connecting');
    if (this.#ws.readyState !== WebSocket.OPEN) {
      await new Promise<void>((resolve, reject) => {
        this.#ws.addEventListener('open', () => resolve(), { once: true });
        this.#ws.addEventListener(
          'close',
          () => reject(new SignalingError('Unavailable', 'cannot reach the studio')),
          {
            once: true,
          },
        );
      });
    }
    const joined = await this.#request<Joined>({
      type: 'join',
      token,
      ...(roomId ? { roomId } : {}),
      ...(resume ? { resume } : {}),
    });
    this.joined = joined;
    for (const connection of joined.connections) this.connections.set(connection.id, connection);
    for (const stream of joined.streams) this.#ensureStream(stream);
    this.recording = joined.recording;
    this.#heartbeat = setInterval(() => this.#send({ type: 'ping' }), joined.heartbeatSec * 1000);
    this.#emit('connections', this.connections);
    this.#emit('streams', this.streams);
    this.#emit('recording', this.recording);
    this.#emit('state', 'joined');
    return joined;
  }

  /** Publishes a local media stream; resolves with the stream id once the studio has it. */
  async publish(media: MediaStream, videoType: 'camera' | 'screen' | 'custom' = 'camera'): Promise<string> {
    const audio = media.getAudioTracks()[0];
    const video = media.getVideoTracks()[0];
    const requestId = String(this.#nextId++);
    this.#publishing.set(requestId, { ...(audio ? { audio } : {}), ...(video ? { video } : {}) });
    const published = new Promise<Extract<ServerMessage, { type: 'published' }>>((resolve, reject) => {
      this.#pending.set(requestId, { resolve: resolve as (m: ServerMessage) => void, reject });
    });
    this.#send({
      type: 'publish',
      requestId,
      videoType,
      audio: audio !== undefined,
      video: video !== undefined,
    });
    const result = await published;
    return result.stream.id;
  }

  async unpublish(streamId: string): Promise<void> {
    const senders = this.localStreams.get(streamId);
    for (const sender of Object.values(senders ?? {})) sender?.track?.stop();
    this.localStreams.delete(streamId);
    await this.#request({ type: 'unpublish', streamId });
  }

  mute(streamId: string, kind: 'audio' | 'video', muted: boolean): void {
    const sender = this.localStreams.get(streamId)?.[kind];
    if (sender?.track) sender.track.enabled = !muted;
    this.#send({ type: 'mute', streamId, [kind]: muted });
  }

  async startRecording(options: Record<string, unknown> = {}): Promise<void> {
    await this.#request({ type: 'startRecording', options });
  }

  async stopRecording(archiveId?: string): Promise<void> {
    await this.#request({ type: 'stopRecording', ...(archiveId ? { archiveId } : {}) });
  }

  #ensureStream(info: StreamInfo): RemoteStream {
    let stream = this.streams.get(info.id);
    if (stream === undefined) {
      stream = { info, media: new MediaStream() };
      this.streams.set(info.id, stream);
    } else {
      stream.info = info;
    }
    return stream;
  }

  async #handle(message: ServerMessage): Promise<void> {
    const requestId = 'requestId' in message ? message.requestId : undefined;
    switch (message.type) {
      case 'offer':
        await this.#answer(message);
        return;
      case 'connection-created':
        this.connections.set(message.connection.id, message.connection);
        this.#emit('connections', this.connections);
        return;
      case 'connection-destroyed':
        this.connections.delete(message.connection.id);
        this.#emit('connections', this.connections);
        return;
      case 'stream-created':
      case 'stream-updated':
        if (message.stream.connectionId === this.joined?.connectionId) return;
        this.#ensureStream(message.stream);
        this.#emit('streams', this.streams);
        return;
      case 'stream-destroyed':
        this.streams.delete(message.stream.id);
        this.#emit('streams', this.streams);
        return;
      case 'recording':
        this.recording = message.recording;
        this.#emit('recording', this.recording);
        return;
      case 'error': {
        const pending = requestId !== undefined ? this.#pending.get(requestId) : undefined;
        if (pending) {
          this.#pending.delete(requestId!);
          this.#publishing.delete(requestId!);
          pending.reject(new SignalingError(message.code, message.message));
        } else {
          this.#emit('error', { code: message.code, message: message.message });
        }
        return;
      }
      case 'bye':
        this.close(message.reason);
        return;
      case 'reconnect':
        this.#emit('reconnect', {
          reason: message.reason,
          resume: message.resume,
          resumeWithinSec: message.resumeWithinSec,
        });
        this.close(message.reason);
        return;
      default: {
        const pending = requestId !== undefined ? this.#pending.get(requestId) : undefined;
        if (pending && message.type !== 'joined') {
          this.#pending.delete(requestId!);
          pending.resolve(message);
        } else if (pending) {
          this.#pending.delete(requestId!);
          pending.resolve(message);
        }
      }
    }
  }

  async #answer(offer: Extract<ServerMessage, { type: 'offer' }>): Promise<void> {
    await this.pc.setRemoteDescription({ type: 'offer', sdp: offer.sdp });
    const byMid = (mid: string | undefined) =>
      mid === undefined ? undefined : this.pc.getTransceivers().find((t) => t.mid === mid);
    for (const publish of offer.publishes) {
      const tracks = publish.requestId !== undefined ? this.#publishing.get(publish.requestId) : undefined;
      const senders: { audio?: RTCRtpSender; video?: RTCRtpSender } = {};
      for (const kind of ['audio', 'video'] as const) {
        const transceiver = byMid(publish[kind]);
        const track = tracks?.[kind];
        if (transceiver && track) {
          transceiver.direction = 'sendonly';
          await transceiver.sender.replaceTrack(track);
          if (kind === 'video') await keepResolution(transceiver.sender);
          senders[kind] = transceiver.sender;
        }
      }
      this.localStreams.set(publish.streamId, senders);
      if (publish.requestId !== undefined) this.#publishing.delete(publish.requestId);
    }
    for (const sub of offer.subscriptions) {
      const stream = this.streams.get(sub.streamId);
      if (stream === undefined) continue;
      for (const kind of ['audio', 'video'] as const) {
        const track = byMid(sub[kind])?.receiver.track;
        if (track && !stream.media.getTracks().includes(track)) stream.media.addTrack(track);
      }
    }
    const answer = await this.pc.createAnswer();
    await this.pc.setLocalDescription(answer);
    this.#send({ type: 'answer', sdp: this.pc.localDescription!.sdp });
    this.#emit('streams', this.streams);
  }

  /** Leaves the room and releases the camera and microphone. */
  close(reason = 'left'): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#heartbeat !== null) clearInterval(this.#heartbeat);
    this.#send({ type: 'leave' });
    for (const senders of this.localStreams.values())
      for (const s of Object.values(senders)) s?.track?.stop();
    for (const pending of this.#pending.values()) pending.reject(new SignalingError('Unavailable', reason));
    this.#pending.clear();
    this.pc.close();
    this.#ws.close();
    this.#emit('state', 'closed');
    this.#emit('closed', reason);
  }
}

/**
 * A recording keeps the camera's resolution: when bandwidth or CPU run short the browser lowers
 * the frame rate and quality instead of the picture size (its default for cameras, `balanced`,
 * also starts a 720p camera at 640×360 and takes seconds to step up, all of it recorded so).
 */
async function keepResolution(sender: RTCRtpSender): Promise<void> {
  const parameters = sender.getParameters();
  if (parameters.degradationPreference === 'maintain-resolution') return;
  try {
    await sender.setParameters({ ...parameters, degradationPreference: 'maintain-resolution' });
  } catch {
    // A browser without the setting sends as it would have.
  }
}
