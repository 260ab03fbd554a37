import type { StreamHealthInfo } from '../../shared/events/health';
import type { EventBus } from '../events/EventBus';
import type { LiveRoom } from './LiveRoom';
import type { RoomService } from './RoomService';
import type { LocalMedia } from './loadLocalMedia';
import type { Stream } from './Stream';

export interface HealthMonitorOptions {
  rooms: RoomService;
  bus: EventBus;
  /** How often the health of each room's streams is published (default 1000 ms). */
  intervalMs?: number;
  /** The media plane on this thread, which measures streams received here (none with workers). */
  local?: LocalMedia | null;
}

/** Samples one stream's health. */
interface HealthSource {
  sample(now: number): StreamHealthInfo;
  close(): void;
}

/** A worker's sample older than this is not reported (the worker is late or gone): zeros are. */
const REMOTE_SAMPLE_MAX_AGE_MS = 3000;

/**
 * The health of a stream received on a media worker: the worker measures it (its own
 * `StreamHealth`, docs/threads.md) and reports it each second; the mute state is known here.
 */
class RemoteStreamHealth implements HealthSource {
  readonly #stream: Stream;
  /** Warnings as last published: a new one is published when the worker reports it. */
  #published: readonly string[] = [];
  readonly #onReport = () => {
    if (this.#current(Date.now()).warnings.some((w) => !this.#published.includes(w))) this.#publishNow();
  };
  readonly #publishNow: () => void;

  /**
   * `publishNow` publishes the stream's room at once. The worker samples each second and this
   * thread publishes each second, on two clocks: a warning waited up to a second more here
   * (measured: a 5 % loss warned 1.8–2.8 s after it began, over 3 s on a loaded machine).
   */
  constructor(stream: Stream, publishNow: () => void) {
    this.#stream = stream;
    this.#publishNow = publishNow;
    stream.on('remoteHealth', this.#onReport);
  }

  sample(now: number): StreamHealthInfo {
    const info = this.#current(now);
    this.#published = info.warnings;
    return info;
  }

  #current(now: number): StreamHealthInfo {
    const stream = this.#stream;
    const last = stream.remoteHealth;
    if (last === null || now - last.at > REMOTE_SAMPLE_MAX_AGE_MS)
      return {
        streamId: stream.id,
        connectionId: stream.connectionId,
        bitrateKbps: 0,
        lossPercent: 0,
        frameRate: null,
        width: null,
        height: null,
        warnings: [],
      };
    // A muted camera sends nothing on purpose (the worker does not know it is muted).
    if (!stream.videoMuted) return last.info;
    return { ...last.info, frameRate: null, warnings: last.info.warnings.filter((w) => w !== 'frameRate') };
  }

  close(): void {
    this.#stream.off('remoteHealth', this.#onReport);
  }
}

/**
 * Measures every published stream of every live room (or takes the measure of the media worker
 * receiving it) and publishes `health.streams` for each room about once a second (not
 * persisted: the operator's screen and the tray want it live).
 */
export class HealthMonitor {
  readonly #options: HealthMonitorOptions;
  readonly #rooms = new Map<
    string,
    { room: LiveRoom; streams: Map<string, HealthSource>; off: () => void }
  >();
  readonly #timer: NodeJS.Timeout;
  readonly #onSession = (room: LiveRoom) => this.#watch(room);
  readonly #onSessionEnded = (room: LiveRoom) => this.#unwatch(room.id);
  #closed = false;

  constructor(options: HealthMonitorOptions) {
    this.#options = options;
    options.rooms.on('sessionStarted', this.#onSession);
    options.rooms.on('sessionEnded', this.#onSessionEnded);
    for (const room of options.rooms.liveRooms()) this.#watch(room);
    this.#timer = setInterval(() => this.#publish(), options.intervalMs ?? 1000);
    this.#timer.unref();
  }

  get closed(): boolean {
    return this.#closed;
  }

  #watch(room: LiveRoom): void {
    if (this.#closed || this.#rooms.has(room.id)) return;
    const streams = new Map<string, HealthSource>();
    const add = (stream: Stream) => {
      if (streams.has(stream.id)) return;
      // A stream received on a media worker is measured there.
      const local = this.#options.rooms.workerOfStream(stream.id) === null ? this.#options.local : null;
      if (local) {
        streams.set(stream.id, new local.StreamHealth(stream));
        return;
      }
      const remote = new RemoteStreamHealth(stream, () => this.#publishRoom(room.id, Date.now()));
      streams.set(stream.id, remote);
    };
    const remove = (stream: Stream) => {
      streams.get(stream.id)?.close();
      streams.delete(stream.id);
    };
    const closed = () => this.#unwatch(room.id);
    room.on('streamAdded', add);
    room.on('streamRemoved', remove);
    room.on('close', closed);
    for (const stream of room.streams.values()) add(stream);
    this.#rooms.set(room.id, {
      room,
      streams,
      off: () => {
        room.off('streamAdded', add);
        room.off('streamRemoved', remove);
        room.off('close', closed);
      },
    });
  }

  #unwatch(roomId: string): void {
    const entry = this.#rooms.get(roomId);
    if (entry === undefined) return;
    entry.off();
    for (const health of entry.streams.values()) health.close();
    this.#rooms.delete(roomId);
  }

  #publish(): void {
    const now = Date.now();
    for (const roomId of this.#rooms.keys()) this.#publishRoom(roomId, now);
  }

  #publishRoom(roomId: string, now: number): void {
    const entry = this.#rooms.get(roomId);
    if (entry === undefined || entry.streams.size === 0) return;
    const streams = [...entry.streams.values()].map((h) => h.sample(now));
    this.#options.bus.publish('health.streams', { roomId, streams }, { persist: false, roomId });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    this.#options.rooms.off('sessionStarted', this.#onSession);
    this.#options.rooms.off('sessionEnded', this.#onSessionEnded);
    for (const roomId of [...this.#rooms.keys()]) this.#unwatch(roomId);
  }
}
