import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import type { DeliveryEventPayloads } from '../../src/shared/events/deliveries';
import type { CreatedWebhookJson } from '../../src/shared/webhooks';
import { startHeadless, type HeadlessCore } from '../helpers/headless';
import { makeClip, type SyntheticPublisher } from '../helpers/publisher';
import { checkManifestFiles, startPublisher } from '../helpers/recordingChecks';
import { startAzurite } from '../helpers/servers/azurite';
import { sha256File } from '../helpers/servers/deliveryHarness';
import { startServers } from '../helpers/servers/processes';
import { blobSha256, containerOf, createBucket, s3Sha256 } from '../helpers/servers/remote';
import { startSshd } from '../helpers/servers/sshd';
import { startSwift } from '../helpers/servers/swift';
import { createWebhookReceiver, type ReceivedRequest } from '../helpers/servers/webhookReceiver';
import { ArchiveApi, OperatorClient, waitFor } from '../helpers/studio';
import { tempDir } from '../helpers/tmp';

/** The studio event envelope a studio webhook receives. */
interface Envelope<T = Record<string, unknown>> {
  id: string;
  type: string;
  archiveId?: string;
  data: T;
}

const headersOf = (request: ReceivedRequest) => ({
  'webhook-id': String(request.headers['webhook-id']),
  'webhook-timestamp': String(request.headers['webhook-timestamp']),
  'webhook-signature': String(request.headers['webhook-signature']),
});

describe('a recorded archive delivered by the core itself', () => {
  it(
    'a take recorded by the core lands byte-identical on SFTP, S3 and Azure, and signed webhooks report each file',
    { timeout: 150_000 },
    async () => {
      const dir = tempDir();
      const receiver = await createWebhookReceiver({ listen: true });
      // The servers start first: started beside the core, a busy machine starts neither in time.
      const servers = startServers([startSshd(), startSwift(), startAzurite()] as const);
      let core: HeadlessCore | null = null;
      let publisher: SyntheticPublisher | null = null;
      try {
        await servers;
        core = await startHeadless({
          dataDir: dir.path,
          env: {
            SPOOL_KEYFRAME_INTERVAL_SEC: '1',
            // The receiver and the servers listen on 127.0.0.1.
            SPOOL_WEBHOOKS_ALLOW_PRIVATE_NETWORK: 'true',
          },
        });
        const operator = await OperatorClient.login(core);
        const webhook = await operator.ok<CreatedWebhookJson>('POST', '/api/webhooks', {
          url: receiver.url(),
        });

        // A few seconds of a real publisher, recorded by the core.
        const room = await operator.createRoom({ name: 'Delivered take' });
        const token = await operator.createToken(room.id);
        publisher = await startPublisher({
          whipUrl: token.whipUrl,
          token: token.token,
          clip: makeClip({ durationSec: 10 }),
          loop: true,
        });
        await waitFor(
          async () => (await operator.room(room.id)).session?.streams[0]?.codecs.video,
          15_000,
          'the stream',
        );
        const api = new ArchiveApi(core.url);
        const archive = await api.start({ sessionId: room.id, outputMode: 'individual' });
        const stopAt = Date.now() + 3000;

        // Targets configured through the API while it records, as an operator would.
        const [sshd, swift, azurite] = await servers;
        await createBucket(swift, 'spool');
        await containerOf(azurite, 'spool').create();
        await operator.ok('POST', '/api/targets', {
          kind: 'sftp',
          name: 'SFTP',
          allowPrivateNetwork: true,
          host: sshd.host,
          port: sshd.port,
          user: sshd.user.name,
          privateKey: sshd.privateKey,
          hostKeyFingerprint: sshd.hostKeyFingerprint,
          path: sshd.root,
        });
        await operator.ok('POST', '/api/targets', {
          kind: 's3',
          name: 'S3',
          allowPrivateNetwork: true,
          endpoint: swift.endpoint,
          forcePathStyle: true,
          bucket: 'spool',
          prefix: 'takes/',
          accessKeyId: swift.accessKeyId,
          secretAccessKey: swift.secretAccessKey,
        });
        await operator.ok('POST', '/api/targets', {
          kind: 'azure',
          name: 'Azure',
          allowPrivateNetwork: true,
          connectionString: azurite.connectionString,
          container: 'spool',
        });
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, stopAt - Date.now())));
        await api.stop(archive.id);
        await api.waitStatus(archive.id, 'uploaded', 60_000).catch(async (error: Error) => {
          // Which delivery held it up, and why.
          const deliveries = await operator.ok('GET', `/api/deliveries?archiveId=${archive.id}`);
          throw new Error(`${error.message}; deliveries: ${JSON.stringify(deliveries)}`);
        });
        const manifest = await checkManifestFiles(dir.path, archive.id, 0.5);
        const media = manifest.files.filter((f) => /\.(webm|mkv|mp4)$/.test(f.filename));
        assert.ok(media.length >= 1, 'the archive holds a recorded media file');

        // Every file of the archive reached each target, announced by a verified webhook.
        const verifier = new Webhook(webhook.secret);
        const ofArchive = <T>(accepted: ReceivedRequest[], type: string) =>
          accepted
            .map((r) => verifier.verify(r.body, headersOf(r)) as Envelope<T>)
            .filter((e) => e.type === type && e.archiveId === archive.id);
        const succeeded = (accepted: ReceivedRequest[]) =>
          ofArchive<DeliveryEventPayloads['delivery.succeeded']>(accepted, 'delivery.succeeded');
        // Webhooks go out in order: once `archive.uploaded` arrived, every delivery event before it did.
        await receiver.waitFor((accepted) => ofArchive(accepted, 'archive.uploaded').length > 0, 30_000);
        const queued = ofArchive<DeliveryEventPayloads['delivery.queued']>(
          receiver.accepted(),
          'delivery.queued',
        );
        const files = [...new Set(queued.map((e) => e.data.file))].sort();
        for (const file of [...media.map((f) => f.filename), 'manifest.json'])
          assert.ok(files.includes(file), `${file} was not queued for delivery: ${files.join(', ')}`);
        assert.equal(queued.length, files.length * 3, 'each file queued once per target');
        await receiver.waitFor((accepted) => succeeded(accepted).length >= files.length * 3, 30_000);
        const events = succeeded(receiver.accepted());
        for (const kind of ['sftp', 's3', 'azure'] as const) {
          for (const file of files) {
            const event = events.find((e) => e.data.targetKind === kind && e.data.file === file);
            assert.ok(event, `no signed delivery.succeeded webhook for ${file} on ${kind}`);
            const local = await sha256File(join(dir.path, 'archives', archive.id, file));
            const remote =
              kind === 'sftp'
                ? await sha256File(join(sshd.root, event.data.remotePath))
                : kind === 's3'
                  ? await s3Sha256(swift, 'spool', `takes/${event.data.remotePath}`)
                  : await blobSha256(azurite, 'spool', event.data.remotePath);
            assert.equal(remote, local, `${file} on ${kind} differs from the recorded file`);
          }
        }
        // The archive's own status webhooks came from the core too, signed with the same secret.
        const types = receiver
          .accepted()
          .map((r) => verifier.verify(r.body, headersOf(r)) as Envelope)
          .filter((e) => e.archiveId === archive.id)
          .map((e) => e.type);
        for (const type of ['archive.started', 'archive.stopped', 'archive.available', 'archive.uploaded'])
          assert.ok(types.includes(type), `no ${type} webhook: ${types.join(', ')}`);
      } finally {
        await publisher?.close();
        await (core as HeadlessCore | null)?.stop();
        const started = await servers.catch(() => []);
        await Promise.all([...started.map((server) => server.close()), receiver.close()]);
        dir.remove();
      }
    },
  );
});
