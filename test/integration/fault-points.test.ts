import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { FaultPoint } from '../../src/main/util/fault';
import { startHeadless, type HeadlessCore } from '../helpers/headless';
import type { SyntheticPublisher } from '../helpers/publisher';
import { makeClip } from '../helpers/publisher';
import { startPublisher } from '../helpers/recordingChecks';
import { createWebhookReceiver } from '../helpers/servers/webhookReceiver';
import { ArchiveApi, OperatorClient, waitFor } from '../helpers/studio';
import { tempDir } from '../helpers/tmp';

interface Received {
  webhookId: string;
  type: string;
  archiveId?: string;
  data: { deliveryId?: string; status?: string };
}

/** Every file under `dir`, relative to it. */
function filesUnder(dir: string, prefix = ''): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path, `${prefix}${name}/`) : [`${prefix}${name}`];
  });
}

describe('crash at each named fault point (SIGKILL)', () => {
  it(
    'no archive stays stuck, no delivery is lost, and a webhook sent twice keeps its webhook-id',
    { timeout: 240_000 },
    async () => {
      const dir = tempDir();
      const target = tempDir('spool-target-');
      const receiver = await createWebhookReceiver({ listen: true });
      // The webhook receiver listens on 127.0.0.1: private addresses are allowed for it.
      const env = {
        SPOOL_SESSION_GRACE_SEC: '60',
        SPOOL_KEYFRAME_INTERVAL_SEC: '1',
        SPOOL_WEBHOOKS_ALLOW_PRIVATE_NETWORK: 'true',
      };
      const clip = makeClip({ durationSec: 20 });
      const publishers: SyntheticPublisher[] = [];
      let core: HeadlessCore | null = null;
      const archives: string[] = [];

      /** Starts the core armed at `point`, runs `action`, and waits until the core killed itself there. */
      async function crashAt(
        point: FaultPoint | `${FaultPoint}:${string}`,
        action?: (c: HeadlessCore) => Promise<void>,
      ) {
        try {
          core = await startHeadless({ dataDir: dir.path, env: { ...env, SPOOL_FAULT: point } });
        } catch (error) {
          // Killed while starting up (recovery or queues resumed reached the point).
          assert.match((error as Error).message, new RegExp(`killing the process at ${point}`));
          core = null;
          return;
        }
        const running = core;
        await action?.(running).catch(() => {
          // The call the crash interrupts fails with the process.
        });
        await waitFor(() => running.process.signalCode === 'SIGKILL', 60_000, `the core to die at ${point}`);
        assert.match(running.output(), new RegExp(`killing the process at ${point}`));
        for (const p of publishers.splice(0)) await p.close();
        core = null;
      }

      /** Publishes into a new room and starts an archive (stopped after ~2 s unless `keep`). */
      async function record(c: HeadlessCore, stop: boolean): Promise<void> {
        const operator = await OperatorClient.login(c);
        const api = new ArchiveApi(c.url);
        const room = await operator.createRoom({ name: `Crash ${archives.length}` });
        const token = await operator.createToken(room.id);
        publishers.push(
          await startPublisher({ whipUrl: token.whipUrl, token: token.token, clip, loop: true }),
        );
        await waitFor(
          async () => (await operator.room(room.id)).session?.streams[0]?.codecs.video,
          15_000,
          'the stream',
        );
        const started = api.start({ sessionId: room.id, outputMode: 'individual' });
        const archive = await started;
        archives.push(archive.id);
        if (!stop) return;
        await new Promise((resolve) => setTimeout(resolve, 2500));
        await api.stop(archive.id);
      }

      try {
        // Set-up: a local target and a webhook, then the first crash as the archive starts.
        core = await startHeadless({ dataDir: dir.path, env });
        const operator = await OperatorClient.login(core);
        await operator.ok('POST', '/api/targets', { kind: 'local', name: 'Folder', path: target.path });
        await operator.ok('POST', '/api/webhooks', { url: receiver.url() });
        await core.stop();
        core = null;

        // The archive row says "started" and its event committed; nobody heard of it.
        await crashAt('archive.afterStatus:started', async (c) => {
          const operator = await OperatorClient.login(c);
          const room = await operator.createRoom({ name: 'Crash at start' });
          const token = await operator.createToken(room.id);
          publishers.push(
            await startPublisher({ whipUrl: token.whipUrl, token: token.token, clip, loop: true }),
          );
          await waitFor(
            async () => (await operator.room(room.id)).session?.streams[0]?.codecs.video,
            15_000,
            'the stream',
          );
          await new ArchiveApi(c.url).call('POST', '/archive', {
            sessionId: room.id,
            outputMode: 'individual',
          });
        });
        // Files final and manifest written, `stopped` committed, not yet `available`.
        await crashAt('archive.afterStopped', (c) => record(c, true));
        // `available` committed; the delivery queue has not heard of it.
        // (The restart finishes the archive the last crash left `stopped`, and dies right there.)
        await crashAt('archive.afterStatus:available');
        // An upload finished; the delivery is not marked done.
        await crashAt('delivery.afterUpload');
        // A delivery is done and its event committed; nothing sent yet.
        await crashAt('delivery.afterDone');
        // A webhook POST was answered 2xx; the message is not marked delivered.
        await crashAt('webhook.afterPost');

        // A clean run settles everything.
        core = await startHeadless({ dataDir: dir.path, env });
        const c = core;
        const api = new ArchiveApi(c.url);
        const list = await api.call<{ items: Array<{ id: string; status: string }> }>('GET', '/archive');
        const ids = list.body.items.map((a) => a.id);
        assert.equal(ids.length, 2, JSON.stringify(list.body.items));
        for (const id of ids) await api.waitStatus(id, 'uploaded', 60_000);
        // Every file of every archive reached the target.
        const delivered = filesUnder(target.path);
        for (const id of ids) {
          const local = filesUnder(join(dir.path, 'archives', id)).filter((f) => /\.(webm|json)$/.test(f));
          for (const file of local)
            assert.ok(
              delivered.some((d) => d.endsWith(file)),
              `${id}/${file} was not delivered: ${delivered.join(', ')}`,
            );
        }
        // Webhooks: every status change once (resent only with the same webhook-id).
        await receiver.waitFor(
          (accepted) =>
            ids.every((id) =>
              accepted.some((r) => r.body.includes('"archive.uploaded"') && r.body.includes(id)),
            ),
          60_000,
        );
        const received: Received[] = receiver.accepted().map((r) => {
          const body = JSON.parse(r.body) as Omit<Received, 'webhookId'>;
          return { ...body, webhookId: String(r.headers['webhook-id']) };
        });
        const byChange = new Map<string, Set<string>>();
        for (const r of received) {
          const key = `${r.type} ${r.archiveId ?? ''} ${r.data.deliveryId ?? ''}`;
          if (!byChange.has(key)) byChange.set(key, new Set());
          byChange.get(key)!.add(r.webhookId);
        }
        for (const [change, webhookIds] of byChange) {
          // Status changes of archives and deliveries (other events repeat by nature: rooms, streams).
          if (
            !/^(archive\.(started|paused|stopped|available|uploaded|failed)|delivery\.(queued|succeeded)) /.test(
              change,
            )
          )
            continue;
          assert.equal(webhookIds.size, 1, `${change} was announced ${webhookIds.size} times`);
        }
        for (const id of ids) {
          for (const type of ['archive.stopped', 'archive.available', 'archive.uploaded'])
            assert.ok(byChange.has(`${type} ${id} `), `no ${type} webhook for ${id}`);
        }
      } finally {
        for (const p of publishers) await p.close();
        await (core as HeadlessCore | null)?.kill();
        await receiver.close();
        dir.remove();
        target.remove();
      }
    },
  );
});
