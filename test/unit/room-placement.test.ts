import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { placeInRoom, SPILL_BUSY, type PlacedWorker } from '../../src/main/rooms/RemoteMedia';

/** Room placement's choice for a room's next connection (docs/threads.md, "Spill"). */
describe('room placement (spill)', () => {
  const worker = (name: string, load: number, busy = 0.1): PlacedWorker & { name: string } => ({
    name,
    load,
    busy,
  });

  it('keeps a room on its worker while that one is not full', () => {
    const home = worker('a', 49);
    assert.equal(placeInRoom(home, [home, worker('b', 0)], 50).name, 'a');
    // 0: no limit by count.
    const crowded = worker('a', 500);
    assert.equal(placeInRoom(crowded, [crowded, worker('b', 0)], 0).name, 'a');
  });

  it('spills to the least-loaded worker that is not full when the room’s has the limit of connections', () => {
    const home = worker('a', 50);
    const workers = [home, worker('b', 60), worker('c', 12), worker('d', 3, SPILL_BUSY)];
    assert.equal(placeInRoom(home, workers, 50).name, 'c');
  });

  it('spills when the room’s worker is busy, whatever its count', () => {
    const home = worker('a', 2, SPILL_BUSY);
    assert.equal(placeInRoom(home, [home, worker('b', 9, 0.2)], 0).name, 'b');
    assert.equal(placeInRoom(home, [home, worker('b', 9, 0.2)], 50).name, 'b');
  });

  it('stays home when every worker is full, or when it is the only one', () => {
    const home = worker('a', 50, 0.9);
    assert.equal(placeInRoom(home, [home, worker('b', 50), worker('c', 1, 0.95)], 50).name, 'a');
    assert.equal(placeInRoom(home, [home], 50).name, 'a');
  });
});
