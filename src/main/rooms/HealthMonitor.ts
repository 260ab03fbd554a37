import type { EventBus } from '../events/EventBus';
import type { LiveRoom } from './LiveRoom';
import type { RoomService } from './RoomService';
import { StreamHealth } from './StreamHealth';
import type { Stream } from './Stream';

export interface HealthMonitorOptions {
  rooms: RoomService;
  bus: EventBus;
  /** How often the health of each room's streams is published (default 1000 ms). */
  intervalMs?: number;
}

/**
 * Measures every published stream of every live room and publishes `health.streams` for each
 * room about once a second (not persisted: the operator's screen and the tray want it live).
 */
export class HealthMonitor {
  readonly #options: HealthMonitorOptions;
  readonly #rooms = new Map<
    string,
    { room: LiveRoom; streams: Map<string, StreamHealth>; off: () => void }
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
    const streams = new Map<string, StreamHealth>();
    const add = (stream: Stream) => {
      if (!streams.has(stream.id)) streams.set(stream.id, new StreamHealth(stream));
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
    for (const [roomId, entry] of this.#rooms) {
      if (entry.streams.size === 0) continue;
      const streams = [...entry.streams.values()].map((h) => h.sample(now));
      this.#options.bus.publish('health.streams', { roomId, streams }, { persist: false, roomId });
    }
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
