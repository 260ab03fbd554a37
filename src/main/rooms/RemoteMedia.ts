import type { Logger } from '../logger';
import type { MediaWorker } from '../workers/MediaWorker';
import type { PeerSetup } from '../workers/protocol';
import type { WorkerPool } from '../workers/WorkerPool';
import type { MediaKind, Stream } from './Stream';
import { streamInit, WorkerPeer } from './WorkerPeer';

/** A stream received on a worker, and its creation there (settled once the worker holds it). */
export interface HostedStream {
  worker: MediaWorker;
  created: Promise<unknown>;
}

/** Why handles on a worker that ended are closed (guests see it as the `bye`/close reason). */
export const WORKER_DIED = 'media worker died';

/**
 * A worker busier than this share of the time (between two heartbeats) is full: its room's new
 * connections go to another worker. Above it, packets begin to wait for the thread.
 */
export const SPILL_BUSY = 0.7;

/** What room placement reads of a worker. */
export interface PlacedWorker {
  /** Connections it hosts (peers and WHIP sessions). */
  load: number;
  /** Share of time busy, 0–1 (`MediaWorker.busy`). */
  busy: number;
}

/**
 * Where a room's next connection goes: its home worker, unless that one is full (`spillPeers`
 * connections or more — 0: no limit — or busier than `SPILL_BUSY`); then the least-loaded other
 * worker that is not full (ties: the first). When every worker is full it stays home: spilling
 * then would only add a route between two full threads.
 */
export function placeInRoom<W extends PlacedWorker>(home: W, workers: readonly W[], spillPeers: number): W {
  const full = (w: W) => (spillPeers > 0 && w.load >= spillPeers) || w.busy >= SPILL_BUSY;
  if (!full(home)) return home;
  let best: W | null = null;
  for (const w of workers) if (w !== home && !full(w) && (best === null || w.load < best.load)) best = w;
  return best ?? home;
}

/**
 * The rooms' side of the media workers (docs/threads.md): which worker hosts each live room
 * (room affinity), the handles of what the workers host — peers, streams, WHIP sessions — and
 * the routing of the workers' events to them. When a worker dies every handle on it closes.
 */
export class RemoteMedia {
  readonly #pool: WorkerPool;
  readonly #logger: Logger;
  readonly #rooms = new Map<string, MediaWorker>();
  readonly #peers = new Map<string, WorkerPeer>();
  readonly #streams = new Map<string, HostedStream & { stream: Stream }>();
  readonly #whip = new Map<
    string,
    { worker: MediaWorker; onState: (state: string) => void; onEnd: () => void }
  >();

  /** `room`: a room's peers share one worker; `spread`: each peer on the least-loaded worker. */
  readonly #placement: 'room' | 'spread';
  /** A room's worker with this many connections is full (0: no limit); see `placeInRoom`. */
  readonly #spillPeers: number;

  constructor(pool: WorkerPool, logger: Logger, placement: 'room' | 'spread' = 'room', spillPeers = 0) {
    this.#pool = pool;
    this.#logger = logger;
    this.#placement = placement;
    this.#spillPeers = spillPeers;
    for (const worker of pool.workers()) this.#attach(worker);
    pool.on('workerStarted', (worker) => this.#attach(worker));
  }

  #attach(worker: MediaWorker): void {
    worker.on('peer.offer', ({ peerId, offer }) => this.#peers.get(peerId)?.deliverOffer(offer));
    worker.on('peer.close', ({ peerId, reason }) => this.#peers.get(peerId)?.close(reason, true));
    worker.on('stream.track', ({ streamId, kind, mimeType }) =>
      this.#streams.get(streamId)?.stream.setRemoteTrack(kind as MediaKind, mimeType),
    );
    worker.on('stream.health', ({ streams }) => {
      const at = Date.now();
      for (const info of streams) {
        const entry = this.#streams.get(info.streamId);
        if (entry === undefined || entry.worker !== worker) continue;
        entry.stream.setRemoteHealth(info, at);
      }
    });
    worker.on('whip.state', ({ resourceId, state }) => this.#whip.get(resourceId)?.onState(state));
    worker.once('close', () => this.#workerGone(worker));
  }

  #workerGone(worker: MediaWorker): void {
    for (const [roomId, w] of this.#rooms) if (w === worker) this.#rooms.delete(roomId);
    for (const peer of [...this.#peers.values()]) if (peer.worker === worker) peer.close(WORKER_DIED, true);
    for (const [id, whip] of [...this.#whip]) {
      if (whip.worker !== worker) continue;
      this.#whip.delete(id);
      whip.onEnd();
    }
    for (const [id, entry] of [...this.#streams]) {
      if (entry.worker !== worker) continue;
      this.#streams.delete(id);
      entry.stream.close(WORKER_DIED);
    }
  }

  /**
   * The worker for a room's next connection: the room's own (placed on the least-loaded one at its
   * first use), or another one when the room's is full (spill, `placeInRoom`).
   */
  workerFor(roomId: string): MediaWorker {
    if (this.#placement === 'spread') return this.#pool.pick();
    let home = this.#rooms.get(roomId);
    if (home === undefined || home.closed) {
      home = this.#pool.pick();
      this.#rooms.set(roomId, home);
    }
    const worker = placeInRoom(home, this.#pool.workers(), this.#spillPeers);
    if (worker !== home)
      this.#logger.debug(
        { roomId, from: home.index, to: worker.index, load: home.load, busy: home.busy },
        'room spills to another media worker',
      );
    return worker;
  }

  /** The worker receiving a stream, or null when it is not on a worker. */
  workerOfStream(streamId: string): MediaWorker | null {
    return this.#streams.get(streamId)?.worker ?? null;
  }

  /** The session of a room ended: its next session may go elsewhere. */
  releaseRoom(roomId: string): void {
    this.#rooms.delete(roomId);
  }

  /** A browser participant's peer on the room's worker. */
  createPeer(roomId: string, peerId: string, setup: PeerSetup, logger: Logger): WorkerPeer {
    const worker = this.workerFor(roomId);
    const peer = new WorkerPeer(
      worker,
      peerId,
      setup,
      logger,
      (streamId) => this.#streams.get(streamId) ?? null,
    );
    worker.load++;
    this.#peers.set(peerId, peer);
    peer.once('close', () => {
      this.#peers.delete(peerId);
      worker.load--;
    });
    return peer;
  }

  /**
   * A stream received on a worker: created there first (before a recorder or a peer refers to
   * it; a worker handles requests in order), its track events reach it, closing it ends it there.
   */
  hostStream(stream: Stream, worker: MediaWorker): void {
    const created = worker.request('stream.create', { stream: streamInit(stream) });
    this.#streams.set(stream.id, { stream, worker, created });
    created.catch((error: Error) => {
      this.#logger.error({ err: error, streamId: stream.id }, 'the media worker could not create the stream');
      stream.close(`media worker: ${error.message}`);
    });
    stream.once('close', (reason) => {
      if (this.#streams.get(stream.id)?.worker !== worker) return;
      this.#streams.delete(stream.id);
      if (!worker.closed)
        worker
          .request('stream.close', { streamId: stream.id, reason })
          .catch((error: Error) =>
            this.#logger.debug({ err: error, streamId: stream.id }, 'stream.close failed'),
          );
    });
  }

  /** Tracks a WHIP session on a worker: its connection state, and its end if the worker dies. */
  hostWhip(
    resourceId: string,
    worker: MediaWorker,
    onState: (state: string) => void,
    onEnd: () => void,
  ): void {
    worker.load++;
    this.#whip.set(resourceId, { worker, onState, onEnd });
  }

  /** Ends a WHIP session on its worker. */
  endWhip(resourceId: string): void {
    const whip = this.#whip.get(resourceId);
    if (whip === undefined) return;
    this.#whip.delete(resourceId);
    whip.worker.load--;
    if (!whip.worker.closed) whip.worker.request('whip.close', { resourceId }).catch(() => {});
  }
}
