import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger } from '../../src/main/logger';
import type { HostedStream } from '../../src/main/rooms/RemoteMedia';
import { Stream } from '../../src/main/rooms/Stream';
import { WorkerPeer } from '../../src/main/rooms/WorkerPeer';
import type { MediaWorker } from '../../src/main/workers/MediaWorker';

const logger = createLogger({ level: 'silent' });

/** A worker's request channel that records what it was asked, in order. */
function worker(index: number): MediaWorker & { asked: Array<[string, Record<string, unknown>]> } {
  const asked: Array<[string, Record<string, unknown>]> = [];
  return {
    index,
    closed: false,
    asked,
    request: (method: string, params: Record<string, unknown>) => {
      asked.push([method, params]);
      return Promise.resolve({});
    },
  } as unknown as MediaWorker & { asked: typeof asked };
}

const stream = (id: string) =>
  new Stream({
    id,
    connectionId: `c-${id}`,
    roomId: 'r',
    sessionId: 's',
    videoType: 'camera',
    hasAudio: true,
    hasVideo: true,
    recordingBlock: false,
    connectionData: '',
  });

/** A stream hosted on `on`, whose creation there settles when the test says so. */
function hosted(on: MediaWorker): HostedStream & { settle: () => void; fail: () => void } {
  let settle!: () => void;
  let fail!: () => void;
  const created = new Promise<void>((resolve, reject) => {
    settle = resolve;
    fail = () => reject(new Error('stream.create failed'));
  });
  return { worker: on, created, settle, fail };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));
const subscribes = (w: ReturnType<typeof worker>) => w.asked.filter(([m]) => m === 'peer.subscribe');

describe('a peer on a media worker subscribing to streams', () => {
  it('asks for a stream of another worker only once that worker holds it (the route and the main thread are not ordered)', async () => {
    const here = worker(0);
    const there = worker(1);
    const source = hosted(there);
    const peer = new WorkerPeer(here, 'p', { config: {} } as never, logger, () => source);
    peer.subscribe(stream('s1'));
    await flush();
    assert.deepEqual(subscribes(here), [], 'not before the source worker created the stream');
    source.settle();
    await flush();
    assert.equal(subscribes(here).length, 1);
    const [, params] = subscribes(here)[0]!;
    assert.equal(params.streamId, 's1');
    assert.equal((params.from as { worker: number }).worker, 1, 'over the route from worker 1');
  });

  it('asks for a stream of its own worker at once, in order with what follows', async () => {
    const here = worker(0);
    const peer = new WorkerPeer(here, 'p', { config: {} } as never, logger, () => ({
      worker: here,
      created: new Promise(() => {}),
    }));
    peer.subscribe(stream('s1'));
    peer.unsubscribe('s1');
    assert.deepEqual(
      here.asked.slice(1).map(([m, p]) => [m, p.streamId, p.from]),
      [
        ['peer.subscribe', 's1', undefined],
        ['peer.unsubscribe', 's1', undefined],
      ],
    );
  });

  it('does not ask when it unsubscribed, closed, or the stream could not be created meanwhile', async () => {
    const here = worker(0);
    const there = worker(1);
    const sources = new Map([
      ['gone', hosted(there)],
      ['failed', hosted(there)],
      ['again', hosted(there)],
    ]);
    const peer = new WorkerPeer(here, 'p', { config: {} } as never, logger, (id) => sources.get(id) ?? null);
    for (const id of sources.keys()) peer.subscribe(stream(id));
    peer.unsubscribe('gone');
    // Unsubscribed and subscribed again before the stream was there: asked once, not twice.
    peer.unsubscribe('again');
    peer.subscribe(stream('again'));
    sources.get('failed')!.fail();
    sources.get('gone')!.settle();
    sources.get('again')!.settle();
    await flush();
    assert.deepEqual(
      subscribes(here).map(([, p]) => p.streamId),
      ['again'],
    );

    const closing = new WorkerPeer(here, 'q', { config: {} } as never, logger, () => sources.get('again')!);
    const before = subscribes(here).length;
    closing.subscribe(stream('late'));
    closing.close();
    await flush();
    assert.equal(subscribes(here).length, before, 'a closed peer asks for nothing');
  });
});
