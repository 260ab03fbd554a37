/**
 * Delivery throughput: a 1 GB file to each local server (SFTP, FTP, FTPS, S3 on Swift, Azure on
 * Azurite, and a local folder) through the DeliveryService, against the same server's plain
 * client (OpenSSH sftp, curl, the SDK alone, cp + fsync). The service runs in its own process
 * (as the core would), so its peak RSS is its own. Each side runs `--rounds` times, alternating,
 * after a `sync` (write-back of the previous run must not slow the next); the best run counts.
 * Prints one JSON line. Targets: ratio ≥ 0.8, peak RSS ≤ 200 MB.
 *
 *   node --import tsx bench/deliver.ts [--size-mb 1024] [--rounds 3] [--only sftp,s3]
 */
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  createReadStream,
  linkSync,
  mkdirSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DeleteObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { startAzurite } from '../test/helpers/servers/azurite';
import { DeliveryHarness, writeTestFile } from '../test/helpers/servers/deliveryHarness';
import { DeliveryWorker } from '../test/helpers/servers/DeliveryWorker';
import { containerOf, createBucket, s3ClientOf } from '../test/helpers/servers/remote';
import { startSshd } from '../test/helpers/servers/sshd';
import { startSwift } from '../test/helpers/servers/swift';
import { startVsftpd } from '../test/helpers/servers/vsftpd';
import { tempDir } from '../test/helpers/tmp';
import type { AnyStudioEvent } from '../src/shared/events';

const { values } = parseArgs({
  options: {
    'size-mb': { type: 'string', default: '1024' },
    rounds: { type: 'string', default: '3' },
    only: { type: 'string' },
  },
});
const MB = 1024 * 1024;
const SIZE = Number(values['size-mb']) * MB;
const ROUNDS = Number(values.rounds);
const only = values.only?.split(',');

interface Result {
  /** Through the DeliveryService (best round). */
  mbps: number;
  /** The plain client to the same server (best round). */
  plainMbps: number;
  ratio: number;
  plain: string;
  /** Peak RSS of the service's process. */
  peakRssMB: number;
}

interface Kind {
  name: string;
  target: Record<string, unknown>;
  plain: string;
  runPlain(): Promise<unknown> | unknown;
  /** Removes what the runs stored at the target. */
  clean(): Promise<unknown> | unknown;
}

function sh(command: string, args: string[], input?: string): void {
  const result = spawnSync(command, args, { encoding: 'utf8', ...(input !== undefined ? { input } : {}) });
  if (result.status !== 0) throw new Error(`${command} failed: ${result.stderr}`);
}

async function timed(run: () => Promise<unknown> | unknown): Promise<number> {
  const started = process.hrtime.bigint();
  await run();
  return Number(process.hrtime.bigint() - started) / 1e9;
}

function empty(dir: string): void {
  for (const name of readdirSync(dir)) rmSync(join(dir, name), { recursive: true, force: true });
}

async function main(): Promise<void> {
  const work = tempDir('spool-bench-');
  const dataDir = join(work.path, 'data');
  mkdirSync(dataDir);
  const [sshd, ftpd, swift, azurite] = await Promise.all([
    startSshd(),
    startVsftpd(),
    startSwift(),
    startAzurite(),
  ]);
  // The bench's own view of the store: targets and archives; the worker delivers.
  const results: Record<string, Result> = {};
  let harness: DeliveryHarness | null = null;
  try {
    harness = await DeliveryHarness.start({ dataDir, start: false });
    await createBucket(swift, 'bench');
    const container = containerOf(azurite, 'bench');
    await container.create();
    const s3 = s3ClientOf(swift);
    const source = join(work.path, 'source.bin');
    await writeTestFile(source, SIZE);
    const nas = join(work.path, 'nas');
    mkdirSync(nas);
    const keyFile = join(work.path, 'client_key');
    writeFileSync(keyFile, sshd.privateKey);
    chmodSync(keyFile, 0o600);
    const ftpUrl = (name: string) => `ftp://127.0.0.1:${ftpd.port}/%2F${ftpd.root.slice(1)}/${name}`;
    const ftpUser = `${ftpd.user.name}:${ftpd.user.password}`;

    const kinds: Kind[] = [
      {
        name: 'sftp',
        target: {
          kind: 'sftp',
          host: sshd.host,
          port: sshd.port,
          user: sshd.user.name,
          privateKey: sshd.privateKey,
          path: sshd.root,
        },
        plain: 'OpenSSH sftp put',
        runPlain: () =>
          sh(
            'sftp',
            [
              '-q',
              '-b',
              '-',
              '-i',
              keyFile,
              '-P',
              String(sshd.port),
              '-o',
              'StrictHostKeyChecking=no',
              '-o',
              'UserKnownHostsFile=/dev/null',
              `${sshd.user.name}@127.0.0.1`,
            ],
            `put ${source} ${sshd.root}/plain.bin\n`,
          ),
        clean: () => empty(sshd.root),
      },
      {
        name: 'ftp',
        target: {
          kind: 'ftp',
          host: ftpd.host,
          port: ftpd.port,
          user: ftpd.user.name,
          password: ftpd.user.password,
          path: ftpd.root,
        },
        plain: 'curl -T',
        runPlain: () => sh('curl', ['-sS', '-T', source, '--user', ftpUser, ftpUrl('plain.bin')]),
        clean: () => empty(ftpd.root),
      },
      {
        name: 'ftps',
        target: {
          kind: 'ftp',
          host: ftpd.host,
          port: ftpd.port,
          user: ftpd.user.name,
          password: ftpd.user.password,
          path: ftpd.root,
          secure: true,
          certificateFingerprint: ftpd.certificateFingerprint,
        },
        plain: 'curl --ssl-reqd -T',
        runPlain: () =>
          sh('curl', ['-sS', '--ssl-reqd', '-k', '-T', source, '--user', ftpUser, ftpUrl('plain.bin')]),
        clean: () => empty(ftpd.root),
      },
      {
        name: 's3',
        target: {
          kind: 's3',
          endpoint: swift.endpoint,
          forcePathStyle: true,
          bucket: 'bench',
          accessKeyId: swift.accessKeyId,
          secretAccessKey: swift.secretAccessKey,
        },
        plain: '@aws-sdk/lib-storage Upload (8 MiB parts, 4 at once)',
        runPlain: () =>
          new Upload({
            client: s3,
            params: { Bucket: 'bench', Key: 'plain.bin', Body: createReadStream(source) },
            partSize: 8 * MB,
            queueSize: 4,
          }).done(),
        clean: async () => {
          const listed = await s3.send(new ListObjectsV2Command({ Bucket: 'bench' }));
          for (const object of listed.Contents ?? [])
            await s3.send(new DeleteObjectCommand({ Bucket: 'bench', Key: object.Key! }));
        },
      },
      {
        name: 'azure',
        target: { kind: 'azure', connectionString: azurite.connectionString, container: 'bench' },
        plain: '@azure/storage-blob uploadFile (8 MiB blocks, 4 at once)',
        runPlain: () =>
          container.getBlockBlobClient('plain.bin').uploadFile(source, { blockSize: 8 * MB, concurrency: 4 }),
        clean: async () => {
          for await (const blob of container.listBlobsFlat()) await container.deleteBlob(blob.name);
        },
      },
      {
        name: 'local',
        target: { kind: 'local', path: nas },
        plain: 'cp + fsync',
        runPlain: () => {
          sh('cp', [source, join(nas, 'plain.bin')]);
          sh('sync', [join(nas, 'plain.bin')]);
        },
        clean: () => empty(nas),
      },
    ];

    for (const kind of kinds) {
      if (only !== undefined && !only.includes(kind.name)) continue;
      const target = harness.delivery.createTarget({ name: kind.name, ...kind.target });
      let peakRss = 0;
      let best = 0;
      let bestPlain = 0;
      // One service process per target, as in the app: later rounds run with its modules loaded.
      const worker = new DeliveryWorker(dataDir, { logLevel: 'warn' });
      try {
        for (let round = 0; round < ROUNDS; round++) {
          sh('sync', []);
          bestPlain = Math.max(bestPlain, SIZE / MB / (await timed(kind.runPlain)));
          sh('sync', []);
          // A new archive whose file is the source (a hard link, not a copy).
          const archive = await harness.createArchive([{ filename: 'big.webm', size: 0 }]);
          rmSync(archive.files[0]!.path);
          linkSync(source, archive.files[0]!.path);
          worker.enqueue(archive.id);
          const mine = (e: AnyStudioEvent) => e.archiveId === archive.id;
          const done = await worker.waitFor(
            (e) =>
              mine(e) &&
              (e.type === 'delivery.succeeded' || (e.type === 'delivery.failed' && e.data.retryAt === null)),
            900_000,
          );
          if (done.type !== 'delivery.succeeded')
            throw new Error(`${kind.name}: ${JSON.stringify(done.data)}`);
          // From queueing (the attempt starts in the same tick) to the verified, renamed file.
          const queued = worker.events.find((e) => mine(e) && e.type === 'delivery.queued')!;
          best = Math.max(best, SIZE / MB / ((done.createdAt - queued.createdAt) / 1000));
          await kind.clean();
        }
      } finally {
        peakRss = worker.peakRss();
        await worker.kill('SIGTERM');
      }
      harness.delivery.deleteTarget(target.id);
      results[kind.name] = {
        mbps: Math.round(best),
        plainMbps: Math.round(bestPlain),
        ratio: Math.round((best / bestPlain) * 100) / 100,
        plain: kind.plain,
        peakRssMB: Math.round(peakRss / MB),
      };
    }
  } finally {
    await harness?.close();
    await Promise.all([sshd.close(), ftpd.close(), swift.close(), azurite.close()]);
    work.remove();
  }
  const peakRssMB = Math.max(...Object.values(results).map((r) => r.peakRssMB));
  const ok = Object.values(results).every((r) => r.ratio >= 0.8) && peakRssMB <= 200;
  process.stdout.write(
    `${JSON.stringify({ bench: 'deliver', sizeMB: SIZE / MB, rounds: ROUNDS, targets: results, peakRssMB, ok })}\n`,
  );
}

await main();
