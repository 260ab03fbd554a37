import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StreamHealthInfo } from '../../src/shared/events/health';
import type { EventBus } from '../../src/main/events/EventBus';
import { HealthMonitor } from '../../src/main/rooms/HealthMonitor';
import type { LiveRoom } from '../../src/main/rooms/LiveRoom';
import type { RoomService } from '../../src/main/rooms/RoomService';
import { Stream } from '../../src/main/rooms/Stream';
import { TypedEmitter } from '../../src/main/util/TypedEmitter';

/** A live room with one stream received on a media worker, and what the monitor publishes. */
function setup() {
  const stream = new Stream({
    id: 's1',
    connectionId: 'c1',
    roomId: 'r1',
    sessionId: 'r1',
    videoType: 'camera',
    hasAudio: true,
    hasVideo: true,
    recordingBlock: false,
    connectionData: '',
  });
  const room = Object.assign(new TypedEmitter<Record<string, unknown[]>>(), {
    id: 'r1',
    streams: new Map([[stream.id, stream]]),
  }) as unknown as LiveRoom;
  const rooms = Object.assign(new TypedEmitter<Record<string, unknown[]>>(), {
    liveRooms: () => [room],
    workerOfStream: () => ({}),
  }) as unknown as RoomService;
  const published: Array<{ at: number; warnings: string[] }> = [];
  const bus = {
    publish: (_type: string, data: { streams: StreamHealthInfo[] }) =>
      published.push({ at: Date.now(), warnings: data.streams[0]!.warnings }),
  } as unknown as EventBus;
  // The regular publishing is far away: what is published before it came from a worker's report.
  const monitor = new HealthMonitor({ rooms, bus, intervalMs: 60_000, local: null });
  const report = (warnings: StreamHealthInfo['warnings']) =>
    stream.setRemoteHealth(
      {
        streamId: 's1',
        connectionId: 'c1',
        bitrateKbps: 500,
        lossPercent: warnings.includes('loss') ? 5 : 0,
        frameRate: 30,
        width: 640,
        height: 360,
        warnings,
      },
      Date.now(),
    );
  return { monitor, published, report };
}

describe('health monitor (streams measured on a media worker)', () => {
  it("publishes a room at once when a worker's report brings a new warning, and only then", () => {
    const { monitor, published, report } = setup();
    try {
      report([]);
      assert.equal(published.length, 0, 'a clean report waits for the regular publishing');
      report(['loss']);
      assert.deepEqual(
        published.map((p) => p.warnings),
        [['loss']],
        'the warning is published with the report that brought it',
      );
      report(['loss']);
      assert.equal(published.length, 1, 'the same warning again is no news');
      report(['loss', 'frameRate']);
      assert.deepEqual(published.at(-1)?.warnings, ['loss', 'frameRate']);
    } finally {
      monitor.close();
    }
  });
});
