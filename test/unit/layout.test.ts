import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StudioError } from '../../src/shared/errors';
import {
  computeTiles,
  matchesPattern,
  normalizeLayout,
  parseLayout,
  parseSourcePattern,
  type Layout,
  type LayoutSource,
  type Tile,
} from '../../src/shared/layout';

const canvas = { width: 1280, height: 720 };

function sources(count: number, extra: Partial<LayoutSource>[] = []): LayoutSource[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `s${i}`,
    streamId: `stream-${i}`,
    connectionData: `name=user${i}`,
    videoType: 'camera' as const,
    since: i * 1000,
    ...extra[i],
  }));
}

function rect(tile: Tile | undefined): [number, number, number, number] {
  assert.ok(tile, 'tile exists');
  return [tile.x, tile.y, tile.width, tile.height];
}

function tileOf(tiles: Tile[], id: string): Tile | undefined {
  return tiles.find((t) => t.sourceId === id);
}

function invalid(value: unknown, canvasSize = canvas): StudioError {
  try {
    parseLayout(value, 'videoLayout', canvasSize);
  } catch (error) {
    assert.ok(error instanceof StudioError);
    assert.equal(error.code, 'InvalidArgument');
    return error;
  }
  assert.fail(`expected ${JSON.stringify(value)} to be refused`);
}

describe('layout model', () => {
  it('bestFit puts four sources in a 2×2 grid in arrival order', () => {
    const tiles = computeTiles(canvas, { type: 'bestFit' }, sources(4).reverse());
    assert.deepEqual(rect(tileOf(tiles, 's0')), [0, 0, 640, 360]);
    assert.deepEqual(rect(tileOf(tiles, 's1')), [640, 0, 640, 360]);
    assert.deepEqual(rect(tileOf(tiles, 's2')), [0, 360, 640, 360]);
    assert.deepEqual(rect(tileOf(tiles, 's3')), [640, 360, 640, 360]);
  });

  it('bestFit centres an incomplete last row and shows one source full size', () => {
    const three = computeTiles(canvas, { type: 'bestFit' }, sources(3));
    assert.deepEqual(rect(tileOf(three, 's2')), [320, 360, 640, 360]);
    const one = computeTiles(canvas, { type: 'bestFit' }, sources(1));
    assert.deepEqual(rect(tileOf(one, 's0')), [0, 0, 1280, 720]);
    const two = computeTiles({ width: 640, height: 480 }, { type: 'bestFit' }, sources(2));
    assert.deepEqual(rect(tileOf(two, 's0')), [0, 0, 320, 480], 'side by side on a landscape canvas');
  });

  it('bestFit shows at most 16 sources, the oldest', () => {
    const tiles = computeTiles(canvas, { type: 'bestFit' }, sources(20));
    assert.equal(tiles.length, 16);
    assert.equal(tileOf(tiles, 's16'), undefined);
  });

  it('sources that left get no tile', () => {
    const tiles = computeTiles(canvas, { type: 'bestFit' }, sources(2, [{}, { left: true }]));
    assert.equal(tiles.length, 1);
    assert.deepEqual(rect(tileOf(tiles, 's0')), [0, 0, 1280, 720]);
  });

  it('pip shows the screen share full size and the camera in the lower right corner, above it', () => {
    const list = sources(3, [{}, { videoType: 'screen' }]);
    const tiles = computeTiles(canvas, { type: 'pip' }, list);
    assert.equal(tiles.length, 2, 'OpenTok pip shows two streams');
    assert.deepEqual(rect(tileOf(tiles, 's1')), [0, 0, 1280, 720]);
    const small = tileOf(tiles, 's0')!;
    assert.ok(small.z > tileOf(tiles, 's1')!.z);
    assert.equal(small.width, 320);
    assert.ok(small.x + small.width <= 1280 && small.x > 640 && small.y > 360);
    assert.equal(tiles.at(-1)!.sourceId, 's0', 'tiles come in drawing order');
  });

  it('verticalPresentation gives the screen the large right area and stacks the others on the left', () => {
    const tiles = computeTiles(
      canvas,
      { type: 'verticalPresentation' },
      sources(3, [{}, {}, { videoType: 'screen' }]),
    );
    assert.deepEqual(rect(tileOf(tiles, 's2')), [256, 0, 1024, 720]);
    assert.deepEqual(rect(tileOf(tiles, 's0')), [0, 0, 256, 360]);
    assert.deepEqual(rect(tileOf(tiles, 's1')), [0, 360, 256, 360]);
  });

  it('horizontalPresentation gives the large area to the focus class, then to the oldest source', () => {
    const tiles = computeTiles(
      canvas,
      { type: 'horizontalPresentation' },
      sources(3, [{}, { classes: ['focus'] }]),
    );
    assert.deepEqual(rect(tileOf(tiles, 's1')), [0, 0, 1280, 576]);
    assert.deepEqual(rect(tileOf(tiles, 's0')), [0, 576, 640, 144]);
    const noFocus = computeTiles(canvas, { type: 'horizontalPresentation' }, sources(2));
    assert.deepEqual(rect(tileOf(noFocus, 's0')), [0, 0, 1280, 576]);
  });

  it('focus shows only the sources its patterns select', () => {
    const tiles = computeTiles(canvas, { type: 'focus', focus: ['data:name=user2'] }, sources(3));
    assert.deepEqual(
      tiles.map((t) => t.sourceId),
      ['s2'],
    );
    assert.deepEqual(rect(tiles[0]), [0, 0, 1280, 720]);
  });

  it('bestFit switches to its screenshareType while a screen is shared', () => {
    const layout: Layout = { type: 'bestFit', screenshareType: 'pip' };
    const camerasOnly = computeTiles(canvas, layout, sources(2));
    assert.equal(camerasOnly[0]!.region, 'grid');
    const withScreen = computeTiles(canvas, layout, sources(2, [{}, { videoType: 'screen' }]));
    assert.deepEqual(rect(tileOf(withScreen, 's1')), [0, 0, 1280, 720]);
  });

  it('custom regions place matching sources in their own grids, drawn by z_pos', () => {
    const layout = parseLayout(
      {
        main: { z_pos: 1, x_pos: 0, y_pos: 0, width: 960, height: 720, video_sources: ['type:screen'] },
        side: {
          z_pos: 2,
          x_pos: 960,
          y_pos: 0,
          width: 320,
          height: 720,
          max_columns: 1,
          video_sources: ['*'],
          video_sources_excluded: ['type:screen'],
        },
      },
      'videoLayout',
      canvas,
    );
    const tiles = computeTiles(canvas, layout, sources(3, [{}, { videoType: 'screen' }]));
    assert.deepEqual(rect(tileOf(tiles, 's1')), [0, 0, 960, 720]);
    assert.deepEqual(rect(tileOf(tiles, 's0')), [960, 0, 320, 360]);
    assert.deepEqual(rect(tileOf(tiles, 's2')), [960, 360, 320, 360]);
    assert.deepEqual(
      tiles.map((t) => t.region),
      ['main', 'side', 'side'],
    );
  });

  it('a fixed grid leaves excluded cells empty', () => {
    const layout = parseLayout(
      { grid: { max_columns: 2, max_rows: 2, cells_excluded: [0], video_sources: ['*'] } },
      'videoLayout',
      canvas,
    );
    const tiles = computeTiles(canvas, layout, sources(3));
    assert.deepEqual(rect(tileOf(tiles, 's0')), [640, 0, 640, 360]);
    assert.deepEqual(rect(tileOf(tiles, 's1')), [0, 360, 640, 360]);
    assert.deepEqual(rect(tileOf(tiles, 's2')), [640, 360, 640, 360]);
  });

  it('reuse decides which sources a full region shows and whether a freed cell is reused', () => {
    const region = (reuse: string) =>
      parseLayout({ r: { max_columns: 2, max_rows: 1, reuse, video_sources: ['*'] } }, 'videoLayout', canvas);
    const list = sources(3, [{ left: true }]);
    const ids = (layout: Layout) => computeTiles(canvas, layout, list).map((t) => t.sourceId);
    assert.deepEqual(ids(region('show_oldest')), ['s1', 's2']);
    assert.deepEqual(ids(region('show_newest')), ['s1', 's2']);
    assert.deepEqual(ids(region('none')), ['s1'], 'the cell of s0 stays empty and s2 never gets one');
    const noneTiles = computeTiles(canvas, region('none'), list);
    assert.deepEqual(rect(noneTiles[0]), [640, 0, 640, 720], 's1 keeps its own cell');
    const four = sources(4);
    assert.deepEqual(
      computeTiles(canvas, region('show_newest'), four).map((t) => t.sourceId),
      ['s2', 's3'],
    );
  });

  it('source patterns match stream ids, connection data, video types and classes with wildcards', () => {
    const source = {
      streamId: 'abc-123',
      connectionData: 'role=host;name=Ann',
      videoType: 'screen' as const,
      classes: ['focus'],
    };
    assert.ok(matchesPattern('*', source));
    assert.ok(matchesPattern('abc-*', source));
    assert.ok(matchesPattern('stream:*-12?', source));
    assert.ok(matchesPattern('data:role=host*', source));
    assert.ok(!matchesPattern('data:role=guest*', source));
    assert.ok(matchesPattern('type:screen', source));
    assert.ok(!matchesPattern('type:camera', source));
    assert.ok(matchesPattern('class:focus', source));
    assert.ok('error' in parseSourcePattern('kind:screen'));
    assert.ok('error' in parseSourcePattern('type:window'));
  });

  it('accepts OpenTok layout JSON and maps a custom stylesheet onto regions', () => {
    assert.deepEqual(parseLayout({ type: 'verticalPresentation', stylesheet: '' }), {
      type: 'verticalPresentation',
    });
    assert.deepEqual(parseLayout('pip'), { type: 'pip' });
    assert.deepEqual(parseLayout({ type: 'bestFit', screenshareType: 'horizontalPresentation' }), {
      type: 'bestFit',
      screenshareType: 'horizontalPresentation',
    });
    const layout = parseLayout({
      type: 'custom',
      stylesheet:
        'stream.instructor { position: absolute; width: 100%; height: 100%; z-index: 1 }\n' +
        'stream { position: absolute; right: 0; bottom: 0; width: 25%; height: 25%; z-index: 2 }',
    });
    const tiles = computeTiles(canvas, layout, sources(2, [{}, { classes: ['instructor'] }]));
    assert.deepEqual(rect(tileOf(tiles, 's1')), [0, 0, 1280, 720]);
    assert.deepEqual(rect(tileOf(tiles, 's0')), [960, 540, 320, 180]);
    const floated = parseLayout({
      type: 'custom',
      stylesheet: 'stream { float: left; width: 50%; height: 50% }',
    });
    assert.equal(computeTiles(canvas, floated, sources(4)).length, 4);
  });

  it('a normalized layout parses back to itself', () => {
    for (const value of [
      'bestFit',
      { type: 'pip', focus: ['type:screen'] },
      { main: { video_sources: ['*'], max_columns: 3 } },
      { type: 'custom', stylesheet: 'stream { width: 50%; height: 50% }' },
    ]) {
      const once = parseLayout(value, 'layout', canvas);
      assert.deepEqual(parseLayout(once, 'layout', canvas), once);
    }
  });

  it('refuses a region outside the canvas, naming the region and field', () => {
    const error = invalid({ main: { x_pos: 1000, width: 400, video_sources: ['*'] } });
    assert.equal(error.field, 'main.width');
    assert.match(error.message, /outside the 1280x720 canvas/);
    assert.equal(invalid({ main: { y_pos: 720, video_sources: ['*'] } }).field, 'main.y_pos');
  });

  it('refuses unknown source patterns, odd dimensions and malformed regions', () => {
    const pattern = invalid({ main: { video_sources: ['speaker:*'] } });
    assert.equal(pattern.field, 'main.video_sources[0]');
    assert.match(pattern.message, /unknown source pattern "speaker:\*"/);
    assert.equal(invalid({ main: { width: 641, video_sources: ['*'] } }).field, 'main.width');
    assert.match(invalid({ main: { width: 641, video_sources: ['*'] } }).message, /must be even/);
    assert.equal(invalid({ main: { video_sources: [] } }).field, 'main.video_sources');
    assert.equal(invalid({ main: { reuse: 'sometimes', video_sources: ['*'] } }).field, 'main.reuse');
    assert.equal(
      invalid({ main: { cells_excluded: [1], video_sources: ['*'] } }).field,
      'main.cells_excluded',
    );
    assert.equal(invalid({ main: { video_sources: ['*'], colour: 'red' } }).field, 'main.colour');
  });

  it('refuses unknown presets, misplaced OpenTok options and unsupported stylesheets', () => {
    assert.match(invalid('grid').message, /unknown layout "grid"/);
    assert.equal(invalid({ type: 'mosaic' }).field, 'type');
    assert.equal(invalid({ type: 'pip', screenshareType: 'bestFit' }).field, 'screenshareType');
    assert.equal(invalid({ type: 'pip', stylesheet: 'stream {}' }).field, 'stylesheet');
    assert.equal(invalid({ type: 'custom' }).field, 'stylesheet');
    assert.match(
      invalid({ type: 'custom', stylesheet: 'div.x { width: 10% }' }).message,
      /unsupported selector "div.x"/,
    );
    assert.equal(invalid(42).field, undefined);
  });

  it('normalizeLayout reports every problem with its path', () => {
    const result = normalizeLayout({
      a: { video_sources: ['nope:x'] },
      b: { width: 3, video_sources: ['*'] },
    });
    assert.ok('issues' in result);
    assert.deepEqual(
      result.issues.map((i) => i.path.join('.')),
      ['a.video_sources.0', 'b.width'],
    );
  });
});
