/**
 * Delivery throughput: a 1 GB file to each local server (SFTP, FTP, FTPS, S3 on Swift, Azure on
 * Azurite, and a local folder) through the DeliveryService, against the same server's plain
 * client (OpenSSH sftp, curl, the SDK alone, cp). Prints one JSON line: MB/s, the ratio to the
 * plain client and the peak RSS while the service uploads. Targets: ratio ≥ 0.8, RSS ≤ 200 MB.
 *
 *   node --import tsx bench/deliver.ts [--size-mb 1024] [--only sftp,s3]
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, createReadStream, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Upload } from '@aws-sdk/lib-storage';
import { startAzurite } from '../test/helpers/servers/azurite';
import { DeliveryHarness, writeTestFile } from '../test/helpers/servers/deliveryHarness';
import { containerOf, createBucket, s3ClientOf } from '../test/helpers/servers/remote';
import { startSshd } from '../test/helpers/servers/sshd';
import { startSwift } from '../test/helpers/servers/swift';
import { startVsftpd } from '../test/helpers/servers/vsftpd';
import { tempDir } from '../test/helpers/tmp';

const { values } = parseArgs({
  options: { 'size-mb': { type: 'string', default: '1024' }, only: { type: 'string' } },
});
const SIZE = Number(values['size-mb']) * 1024 * 1024;
const only = values.only?.split(',');
const MB = 1024 * 1024;

interface Result {
  /** Through the DeliveryService. */
  mbps: number;
  /** The plain client to the same server. */
  plainMbps: number;
  ratio: number;
  plain: string;
  /** Peak RSS of this process while the service uploaded. */
  peakRssMB: number;
}

/** Empties a folder, keeping it. */
function empty(dir: string): void {
  for (const name of readdirSync(dir)) rmSync(join(dir, name), { recursive: true, force: true });
}

async function timed(run: () => Promise<unknown> | unknown): Promise<number> {
  const started = process.hrtime.bigint();
  await run();
  return Number(process.hrtime.bigint() - started) / 1e9;
}

function sh(command: string, args: string[], input?: string): void {
  const result = spawnSync(command, args, { encoding: 'utf8', ...(input !== undefined ? { input } : {}) });
  if (result.status !== 0) throw new Error(`${command} failed: ${result.stderr}`);
}

async function main(): Promise<void> {
  const work = tempDir('spool-bench-');
  const [sshd, ftpd, swift, azurite] = await Promise.all([
    startSshd(),
    startVsftpd(),
    startSwift(),
    startAzurite(),
  ]);
  let peakRss = 0;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 25);
  sampler.unref();
  const results: Record<string, Result> = {};
  const harness = await DeliveryHarness.start({
    dataDir: join(work.path, 'data'),
    settings: { logLevel: 'warn' },
  });
  try {
    await createBucket(swift, 'bench');
    await containerOf(azurite, 'bench').create();
    const archive = await harness.createArchive([{ filename: 'big.webm', size: SIZE }]);
    const source = archive.files[0]!.path;
    const nas = join(work.path, 'nas');
    mkdirSync(nas, { recursive: true });
    const keyFile = join(work.path, 'client_key');
    writeFileSync(keyFile, sshd.privateKey);
    chmodSync(keyFile, 0o600);

    const kinds: Array<{
      name: string;
      target: Record<string, unknown>;
      plain: string;
      runPlain: () => Promise<unknown> | unknown;
      clean: () => Promise<unknown> | unknown;
    }> = [
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
        runPlain: () =>
          sh('curl', [
            '-sS',
            '-T',
            source,
            '--user',
            `${ftpd.user.name}:${ftpd.user.password}`,
            `ftp://127.0.0.1:${ftpd.port}${ftpd.root}/plain.bin`,
          ]),
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
          pathTemplate: 'tls/{file}',
        },
        plain: 'curl --ssl-reqd -T',
        runPlain: () =>
          sh('curl', [
            '-sS',
            '--ssl-reqd',
            '-k',
            '-T',
            source,
            '--user',
            `${ftpd.user.name}:${ftpd.user.password}`,
            `ftp://127.0.0.1:${ftpd.port}${ftpd.root}/plain-tls.bin`,
          ]),
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
        plain: '@aws-sdk/lib-storage Upload',
        runPlain: () =>
          new Upload({
            client: s3ClientOf(swift),
            params: { Bucket: 'bench', Key: 'plain.bin', Body: createReadStream(source) },
            partSize: 8 * MB,
            queueSize: 4,
          }).done(),
        clean: () => {},
      },
      {
        name: 'azure',
        target: { kind: 'azure', connectionString: azurite.connectionString, container: 'bench' },
        plain: '@azure/storage-blob uploadFile',
        runPlain: () =>
          containerOf(azurite, 'bench')
            .getBlockBlobClient('plain.bin')
            .uploadFile(source, { blockSize: 8 * MB, concurrency: 4 }),
        clean: () => {},
      },
      {
        name: 'local',
        target: { kind: 'local', path: nas },
        plain: 'cp',
        runPlain: () => sh('cp', [source, join(nas, 'plain.bin')]),
        clean: () => empty(nas),
      },
    ];

    for (const kind of kinds) {
      if (only !== undefined && !only.includes(kind.name)) continue;
      const target = harness.delivery.createTarget({ name: kind.name, ...kind.target });
      peakRss = process.memoryUsage().rss;
      const seconds = await timed(async () => {
        const done = harness.nextEvent(
          (e) => e.type === 'delivery.succeeded' || (e.type === 'delivery.failed' && e.data.retryAt === null),
          600_000,
        );
        harness.delivery.enqueueArchive(archive.id);
        const event = await done;
        if (event.type !== 'delivery.succeeded')
          throw new Error(`${kind.name}: ${JSON.stringify(event.data)}`);
      });
      const peakRssMB = Math.round(peakRss / MB);
      harness.delivery.deleteTarget(target.id);
      const plainSeconds = await timed(kind.runPlain);
      results[kind.name] = {
        mbps: Math.round(SIZE / MB / seconds),
        plainMbps: Math.round(SIZE / MB / plainSeconds),
        ratio: Math.round((plainSeconds / seconds) * 100) / 100,
        plain: kind.plain,
        peakRssMB,
      };
      await kind.clean();
    }
  } finally {
    clearInterval(sampler);
    await harness.close();
    await Promise.all([sshd.close(), ftpd.close(), swift.close(), azurite.close()]);
    work.remove();
  }
  const peakRssMB = Math.max(...Object.values(results).map((r) => r.peakRssMB));
  const ok = Object.values(results).every((r) => r.ratio >= 0.8) && peakRssMB <= 200;
  process.stdout.write(
    `${JSON.stringify({ bench: 'deliver', sizeMB: SIZE / MB, targets: results, peakRssMB, ok })}\n`,
  );
}

await main();
