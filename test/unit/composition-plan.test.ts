import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  planComposition,
  type PlanOptions,
  type PlanSource,
} from '../../src/main/composition/compositionPlan';
import { buildFfmpegArgs, buildFilterGraph } from '../../src/main/composition/filterGraph';
import type { MediaProbe } from '../../src/main/composition/mediaProbe';
import { StudioError } from '../../src/shared/errors';

function probe(overrides: Partial<MediaProbe> = {}): MediaProbe {
  return {
    startTime: -0.007,
    duration: null,
    video: { codec: 'vp8', width: 640, height: 480, firstPts: 0, lastPts: 10, gaps: [] },
    audio: { codec: 'opus', startTime: -0.007, channels: 1, sampleRate: 48000 },
    ...overrides,
  };
}

function source(id: string, startMs: number, stopMs: number, extra: Partial<PlanSource> = {}): PlanSource {
  return {
    id: `${id}.webm`,
    path: `/archives/a/${id}.webm`,
    streamId: id,
    connectionData: `name=${id}`,
    videoType: 'camera',
    classes: [],
    startMs,
    stopMs,
    probe: probe(),
    ...extra,
  };
}

const options = (extra: Partial<PlanOptions> = {}): PlanOptions => ({
  canvas: { width: 640, height: 480 },
  fps: 30,
  layouts: [{ atMs: 0, layout: { type: 'bestFit' } }],
  audioSources: ['*'],
  audioSourcesExcluded: [],
  trim: false,
  video: true,
  audio: true,
  ...extra,
});

describe('composition plan and filter graph', () => {
  it('orders the grid by when the streams were created, as the live program view does, not by their first frames', () => {
    // a joined first; its first keyframe came later, so its file starts after b's.
    const joined = planComposition(
      [source('a', 900, 20_000, { joinedMs: -2000 }), source('b', 500, 20_000, { joinedMs: -1000 })],
      options(),
    );
    const both = joined.segments.at(-1)!;
    assert.equal(both.tiles.length, 2);
    const left = (plan: typeof joined) => plan.segments.at(-1)!.tiles.find((t) => t.x === 0)?.sourceId;
    assert.equal(left(joined), 'a.webm', 'the first to join takes the first cell');
    // Without the join times (a manifest from elsewhere), the first file to start does.
    const started = planComposition([source('a', 900, 20_000), source('b', 500, 20_000)], options());
    assert.equal(left(started), 'b.webm');
  });

  it('places each file at its start offset and re-flows the grid when a source arrives or leaves', () => {
    const plan = planComposition([source('a', 0, 20_000), source('b', 7000, 12_500)], options());
    assert.equal(plan.frames, 600);
    assert.equal(plan.duration, 20);
    assert.deepEqual(
      plan.segments.map((s) => [s.from, s.to, s.tiles.length]),
      [
        [0, 210, 1],
        [210, 375, 2],
        [375, 600, 1],
      ],
    );
    const [a, b] = plan.layers;
    assert.deepEqual(
      a!.placements.map((p) => [p.from, p.to, p.rect.x, p.rect.width]),
      [
        [0, 210, 0, 640],
        [210, 375, 0, 320],
        [375, 600, 0, 640],
      ],
    );
    assert.deepEqual(b!.visible, [[210, 375]], 'b is shown only between its offsets');
    assert.deepEqual(
      plan.inputs.map((i) => i.offset),
      [0, 7],
    );
  });

  it('a layout change lands on the frame of its time', () => {
    const plan = planComposition(
      [source('a', 0, 20_000), source('b', 0, 20_000)],
      options({
        layouts: [
          { atMs: 0, layout: { type: 'bestFit' } },
          { atMs: 10_000, layout: { type: 'pip' } },
        ],
      }),
    );
    assert.deepEqual(
      plan.segments.map((s) => s.from),
      [0, 300],
    );
    assert.deepEqual(plan.backdrops, [
      { rect: plan.layers.find((l) => l.z === 1)!.placements[0]!.rect, from: 300, to: 600, z: 1 },
    ]);
    const graph = buildFilterGraph(plan);
    assert.match(
      graph,
      /drawbox=.*enable='between\(t,9\.983333,19\.983333\)'/,
      'the corner is cleared under the small tile',
    );
    assert.match(graph, /if\(lt\(t,9\.983333\),320,640\)/, 'the tile of a grows at 10 s');
    assert.match(graph, /:eval=frame/, 'a source whose tile changes size scales per frame');
  });

  it('a layout class set while recording moves the focus at the frame of its time', () => {
    // horizontalPresentation: the stream with the `focus` class takes the large area on top.
    const plan = planComposition(
      [
        source('a', 0, 20_000),
        source('b', 0, 20_000, { classChanges: [{ atMs: 8000, classes: ['focus'] }] }),
      ],
      options({ layouts: [{ atMs: 0, layout: { type: 'horizontalPresentation' } }] }),
    );
    assert.deepEqual(
      plan.segments.map((s) => [s.from, s.to]),
      [
        [0, 240],
        [240, 600],
      ],
    );
    const large = (i: number) => plan.segments[i]!.tiles.find((t) => t.region === 'large')?.sourceId;
    assert.equal(large(0), 'a.webm', 'before the class: the first stream is large');
    assert.equal(large(1), 'b.webm', 'from 8 s (frame 240): the stream with the focus class');
  });

  it('trim starts the output at the first source and ends it with the last', () => {
    const plan = planComposition([source('a', 3000, 8000), source('b', 5000, 9000)], options({ trim: true }));
    assert.equal(plan.startMs, 3000);
    assert.equal(plan.duration, 6);
    assert.deepEqual(
      plan.inputs.map((i) => [i.offset, i.stop]),
      [
        [0, 5],
        [2, 6],
      ],
    );
  });

  it('a video gap blanks the tile from the frame after the last picture until the next', () => {
    const gapped = source('a', 1000, 11_000, {
      probe: probe({
        video: {
          codec: 'vp8',
          width: 640,
          height: 480,
          firstPts: 0,
          lastPts: 10,
          gaps: [{ from: 2, to: 6 }],
        },
      }),
    });
    const plan = planComposition([gapped], options());
    assert.deepEqual(plan.layers[0]!.visible, [
      [30, 91],
      [210, 330],
    ]);
  });

  it('selects audio by pattern and leaves out files that contribute nothing', () => {
    const screen = source('screen', 0, 10_000, { videoType: 'screen', probe: probe({ audio: null }) });
    const plan = planComposition(
      [source('host', 0, 10_000), source('guest', 0, 10_000), screen],
      options({
        layouts: [{ atMs: 0, layout: { type: 'focus', focus: ['type:screen'] } }],
        audioSources: ['data:name=host'],
      }),
    );
    assert.deepEqual(
      plan.inputs.map((i) => [i.source.streamId, i.video, i.audio]),
      [
        ['host', false, true],
        ['screen', true, false],
      ],
    );
    assert.equal(plan.hasAudio, true);
  });

  it('refuses a composition where nothing matches', () => {
    assert.throws(
      () =>
        planComposition(
          [source('a', 0, 1000)],
          options({
            layouts: [
              {
                atMs: 0,
                layout: {
                  type: 'custom',
                  regions: {
                    r: {
                      x_pos: 0,
                      y_pos: 0,
                      z_pos: 0,
                      cells_excluded: [],
                      reuse: 'show_oldest',
                      video_sources: ['stream:zzz'],
                      video_sources_excluded: [],
                    },
                  },
                },
              },
            ],
            audioSources: [],
          }),
        ),
      (error: unknown) => error instanceof StudioError && /nothing to compose/.test(error.message),
    );
  });

  it('the graph fills audio gaps, delays late sources in small steps and mixes without normalizing', () => {
    const plan = planComposition([source('a', 0, 20_000), source('b', 7500, 12_000)], options());
    const graph = buildFilterGraph(plan);
    assert.match(
      graph,
      /\[1:a\]atrim=end=12,asetpts=PTS-6\/TB,aresample=48000:async=1:min_hard_comp=0.02:first_pts=0,.*adelay=delays=6000:all=1\[a1\]/,
    );
    assert.match(graph, /amix=inputs=2:normalize=0:duration=longest/);
    assert.match(graph, /apad=whole_dur=20,atrim=end=20\[aout\]/);
    assert.match(graph, /^color=c=black:s=640x480:r=30:d=19\.983333,format=yuv420p\[bg\]/);
    assert.match(
      graph,
      /\[1:v\]fps=30,scale=w='320':h='480':[^;]*bilinear\[v1\]/,
      'a constant tile scales once',
    );
    assert.match(graph, /\[0:v\]fps=30,scale=[^;]*:eval=frame\[v0\]/, 'a re-flowing tile scales per frame');
    assert.match(
      graph,
      /\[bg\]\[v0\]overlay=[^;]*eof_action=pass\[m0\]/,
      'a shown all along needs no enable',
    );
    const { args } = buildFfmpegArgs(
      plan,
      { format: 'mp4', videoCodec: 'h264', maxBitrate: 1_000_000 },
      '/out.mp4',
      '/graph.txt',
    );
    const itsoffsets = args.flatMap((a, i) => (a === '-itsoffset' ? [args[i + 1]] : []));
    assert.deepEqual(itsoffsets, ['-0.007', '7.493'], "each file's timestamp 0 lands on its offset");
    assert.ok(args.includes('+faststart'));
    assert.deepEqual(args.slice(args.indexOf('-maxrate'), args.indexOf('-maxrate') + 4), [
      '-maxrate',
      '1000000',
      '-bufsize',
      '2000000',
    ]);
    assert.deepEqual(
      args.slice(args.indexOf('-c:a'), args.indexOf('-c:a') + 6),
      ['-c:a', 'aac', '-aac_coder', 'fast', '-b:a', '128k'],
      'AAC 128 kb/s',
    );
  });

  it('an audio-only archive makes an audio-only file', () => {
    const plan = planComposition([source('a', 0, 5000)], options({ video: false }));
    assert.equal(plan.hasVideo, false);
    const { args, filterGraph } = buildFfmpegArgs(
      plan,
      { format: 'mp4', videoCodec: 'h264', maxBitrate: null },
      '/o.mp4',
      '/g.txt',
    );
    assert.doesNotMatch(filterGraph, /color=/);
    assert.ok(!args.includes('[vout]'));
  });

  it('encodes VP8 with one thread on 2 cores (libvpx spins its others on a busy machine), its default on more', () => {
    const plan = planComposition([source('a', 0, 5000), source('b', 0, 5000)], options());
    const outputThreads = (cores: number) => {
      const { args } = buildFfmpegArgs(
        plan,
        { format: 'webm', videoCodec: 'vp8', maxBitrate: null, cores },
        '/o.webm',
        '/g.txt',
      );
      const outputs = args.slice(args.lastIndexOf('-i') + 2);
      assert.equal(outputs[outputs.indexOf('-c:v') + 1], 'libvpx');
      return outputs.flatMap((a, i) => (a === '-threads' ? [outputs[i + 1]] : []));
    };
    assert.deepEqual(outputThreads(2), ['1']);
    assert.deepEqual(outputThreads(1), ['1']);
    assert.deepEqual(outputThreads(8), []);
  });
});
