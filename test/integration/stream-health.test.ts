import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import type { AnyStudioEvent } from '../../src/shared/events';
import type { StreamHealthInfo } from '../../src/shared/events/health';
import { startHeadless, type HeadlessCore } from '../helpers/headless';
import { makeClip, SyntheticPublisher } from '../helpers/publisher';
import { OperatorClient, waitFor } from '../helpers/studio';
import { tempDir } from '../helpers/tmp';

describe('stream health', () => {
  let dir: ReturnType<typeof tempDir>;
  let core: HeadlessCore;
  let operator: OperatorClient;
  let socket: WebSocket;
  const health: Array<{ at: number; roomId: string; streams: StreamHealthInfo[] }> = [];
  before(async () => {
    dir = tempDir();
    core = await startHeadless({ dataDir: dir.path });
    operator = await OperatorClient.login(core);
    socket = new WebSocket(`${core.url.replace('http', 'ws')}/api/events`);
    await new Promise((resolve) => socket.once('open', resolve));
    socket.on('message', (raw) => {
      const message = JSON.parse(String(raw)) as { event?: AnyStudioEvent };
      if (message.event?.type === 'health.streams') health.push({ at: Date.now(), ...message.event.data });
    });
    socket.send(JSON.stringify({ type: 'auth', token: operator.token }));
  });
  after(async () => {
    socket?.close();
    await core?.stop();
    dir.remove();
  });

  const samplesOf = (roomId: string) => health.filter((h) => h.roomId === roomId).map((h) => h.streams[0]!);

  it('reports bitrate, resolution and frame rate about 1 Hz; warns when 5 % of packets are lost, clears when the loss stops', async () => {
    const room = await operator.createRoom();
    const token = await operator.createToken(room.id);
    const publisher = await SyntheticPublisher.start({
      whipUrl: token.whipUrl,
      token: token.token,
      clip: makeClip({ durationSec: 10, videoKbps: 800 }),
      loop: true,
    });
    try {
      // A clean line first: numbers about once a second, no warning.
      const samples = await waitFor(
        () => {
          const s = samplesOf(room.id).filter((h) => h.width !== null);
          return s.length >= 3 ? s : undefined;
        },
        20_000,
        'three health samples with a resolution',
      );
      const last = samples.at(-1)!;
      assert.equal(last.width, 640);
      assert.equal(last.height, 360);
      assert.ok(last.frameRate! > 20 && last.frameRate! < 40, `frame rate ${last.frameRate}`);
      assert.ok(last.bitrateKbps > 300 && last.bitrateKbps < 3000, `bitrate ${last.bitrateKbps}`);
      assert.ok(last.lossPercent <= 1, `loss ${last.lossPercent}`);
      assert.deepEqual(last.warnings, []);
      const times = health.filter((h) => h.roomId === room.id).map((h) => h.at);
      const gaps = times.slice(1).map((t, i) => t - times[i]!);
      assert.ok(Math.min(...gaps) > 500, `samples come about 1 Hz: ${gaps.join(',')}`);

      publisher.lossRate = 0.05;
      const lossStart = Date.now();
      const warned = await waitFor(
        () =>
          health.find(
            (h) => h.roomId === room.id && h.at > lossStart && h.streams[0]!.warnings.includes('loss'),
          ),
        10_000,
        'a loss warning',
      );
      // How fast is the end-to-end spec's business (badge within 3 s); here the value is checked.
      // Warned above 2 %, shown rounded to 0.1 (2.04 % shows as 2).
      assert.ok(warned.streams[0]!.lossPercent >= 2, `loss ${warned.streams[0]!.lossPercent}`);
      assert.ok(publisher.packetsDropped > 0);

      publisher.lossRate = 0;
      const clearStart = Date.now();
      await waitFor(
        () =>
          health.find(
            (h) => h.roomId === room.id && h.at > clearStart + 2500 && h.streams[0]!.warnings.length === 0,
          ),
        15_000,
        'the warning clears when the loss stops',
      );
    } finally {
      await publisher.stop();
    }
  });
});
