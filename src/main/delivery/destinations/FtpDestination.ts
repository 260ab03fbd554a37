import { createReadStream } from 'node:fs';
import { isIP } from 'node:net';
import { posix } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { Client, FTPError } from 'basic-ftp';
import { StudioError } from '../../../shared/errors';
import type { FtpTargetConfig } from '../../../shared/targets';
import {
  DestinationError,
  messageOf,
  nodeReason,
  toDestinationError,
  type FailureStage,
} from '../DestinationError';
import {
  PART_SUFFIX,
  type Destination,
  type TempFileResume,
  type UploadJob,
  type UploadResult,
} from './Destination';
import { pinnedAddress } from '../../security/outboundGuard';
import { progressTap, serverUrl, STREAM_CHUNK } from './io';

/** An FTP server, plain or with explicit TLS (FTPS). */
export class FtpDestination implements Destination {
  readonly #config: FtpTargetConfig;
  readonly #client = new Client(30_000);
  #connected = false;
  #base = '';
  #certificateFingerprint: string | undefined;
  #closed = false;

  constructor(config: FtpTargetConfig) {
    this.#config = config;
  }

  #classify(error: unknown, stage: FailureStage, what: string): DestinationError {
    if (error instanceof DestinationError) return error;
    const message = messageOf(error);
    if (error instanceof FTPError) {
      const code = error.code;
      if (code === 530)
        return new DestinationError('authenticate', 'auth', `${what}: login refused (${message})`, {
          cause: error,
        });
      if (code === 452 || code === 552)
        return new DestinationError(stage, 'no-space', `${what}: no space left on the server (${message})`, {
          cause: error,
        });
      if (code === 550 && /no such|not found|not exist|failed to (open|change)/i.test(message)) {
        return new DestinationError(stage, 'not-found', `${what}: ${message}`, { cause: error });
      }
      if (code === 550 || code === 553 || code === 532) {
        return new DestinationError(stage, 'permission', `${what}: permission denied (${message})`, {
          cause: error,
        });
      }
      // 4xx replies are transient by definition (RFC 959); other 5xx mean the command cannot work.
      return new DestinationError(
        stage,
        code >= 400 && code < 500 ? 'server' : 'unknown',
        `${what}: ${message}`,
        { cause: error },
      );
    }
    if (nodeReason(error) !== undefined) return toDestinationError(error, stage, what);
    if (/^timeout/i.test(message))
      return new DestinationError(stage, 'timeout', `${what}: timed out (${message})`, { cause: error });
    if (/closed|FIN packet|ended|socket/i.test(message)) {
      return new DestinationError(stage, 'reset', `${what}: connection lost (${message})`, { cause: error });
    }
    return new DestinationError(stage, 'unknown', `${what}: ${message}`, { cause: error });
  }

  async connect(): Promise<void> {
    if (this.#connected) return;
    if (this.#closed) throw new DestinationError('connect', 'reset', 'the FTP connection was closed');
    const { host, port, user, password, secure, certificateFingerprint } = this.#config;
    try {
      // The checked address, not the name: basic-ftp would resolve it again (DNS rebinding).
      // TLS below still verifies the certificate against the name.
      const address = await pinnedAddress(host, { allowPrivateNetwork: this.#config.allowPrivateNetwork });
      await this.#client.connect(address, port);
    } catch (error) {
      if (error instanceof StudioError && !(error instanceof DestinationError))
        throw new DestinationError(
          'connect',
          error.code === 'PermissionDenied' ? 'config' : 'dns',
          error.message,
        );
      throw this.#classify(error, 'connect', `connecting to ${host}:${port}`);
    }
    if (secure) {
      try {
        // A pinned certificate is checked below, before the password is sent.
        await this.#client.useTLS({
          host,
          ...(isIP(host) === 0 ? { servername: host } : {}),
          rejectUnauthorized: certificateFingerprint === undefined,
        });
      } catch (error) {
        const reason = nodeReason(error);
        throw new DestinationError(
          'connect',
          reason === 'tls' ? 'tls' : (reason ?? 'tls'),
          `TLS with ${host}:${port} failed: ${messageOf(error)}${reason === 'tls' ? ' (pin its certificateFingerprint to trust a self-signed server)' : ''}`,
          { cause: error },
        );
      }
      const socket = this.#client.ftp.socket as TLSSocket;
      this.#certificateFingerprint = socket.getPeerCertificate().fingerprint256;
      if (certificateFingerprint !== undefined && this.#certificateFingerprint !== certificateFingerprint) {
        this.#client.close();
        throw new DestinationError(
          'connect',
          'tls',
          `certificate of ${host} is ${this.#certificateFingerprint}, not the pinned ${certificateFingerprint}`,
        );
      }
    }
    try {
      await this.#client.login(user, password ?? '');
      await this.#client.useDefaultSettings();
    } catch (error) {
      throw this.#classify(error, 'authenticate', `logging in to ${host} as ${user}`);
    }
    this.#connected = true;
    try {
      const home = await this.#client.pwd();
      this.#base = posix.resolve(home, this.#config.path || '.');
      await this.#client.cd(this.#base);
    } catch (error) {
      const failure = this.#classify(error, 'connect', `opening folder ${this.#base}`);
      throw failure.reason === 'permission' || failure.reason === 'unknown'
        ? new DestinationError('connect', 'not-found', `folder ${this.#base} does not exist on ${host}`, {
            cause: error,
          })
        : failure;
    }
  }

  #path(remotePath: string): string {
    return posix.join(this.#base, remotePath);
  }

  async #size(path: string): Promise<number | null> {
    try {
      return await this.#client.size(path);
    } catch (error) {
      if (error instanceof FTPError && error.code === 550) return null;
      throw error;
    }
  }

  async upload(job: UploadJob): Promise<UploadResult> {
    // basic-ftp has no abort signal: closing the client fails the running command.
    const onAbort = () => void this.close();
    job.signal.addEventListener('abort', onAbort, { once: true });
    try {
      await this.connect();
      const final = this.#path(job.remotePath);
      const temp = final + PART_SUFFIX;
      await this.#client.ensureDir(posix.dirname(final)).catch((error: unknown) => {
        throw this.#classify(error, 'upload', `creating folder ${posix.dirname(final)}`);
      });
      // APPE continues a temp file an earlier attempt left; servers write it in order.
      const existing = (job.resume as TempFileResume).partial === true ? ((await this.#size(temp)) ?? 0) : 0;
      const start = existing > 0 && existing <= job.size ? existing : 0;
      job.saveResume({ partial: true } satisfies TempFileResume);
      job.onProgress(start);
      try {
        await this.#send(job, temp, start);
      } catch (error) {
        // A server that refuses APPE (not implemented, or not allowed) gets the whole file again.
        if (start === 0 || !(error instanceof FTPError) || error.code < 500 || error.code === 530)
          throw error;
        job.onProgress(0);
        await this.#send(job, temp, 0);
      }
      const written = await this.#size(temp);
      if (written !== job.size) {
        throw new DestinationError(
          'verify',
          'checksum',
          `${temp} has ${written ?? 0} bytes on the server, expected ${job.size}`,
        );
      }
      // RNTO replaces an existing file on common servers (vsftpd, ProFTPD, Pure-FTPd).
      await this.#client.rename(temp, final).catch((error: unknown) => {
        throw this.#classify(error, 'upload', `renaming ${temp} to ${final}`);
      });
      return { url: this.urlOf(job.remotePath) };
    } catch (error) {
      if (job.signal.aborted) throw job.signal.reason ?? error;
      throw this.#classify(error, 'upload', `uploading to ${this.#config.host}`);
    } finally {
      job.signal.removeEventListener('abort', onAbort);
    }
  }

  /** Streams the file from `start` into `temp`: APPE to continue it, STOR to write it anew. */
  async #send(job: UploadJob, temp: string, start: number): Promise<void> {
    const source = createReadStream(job.localPath, { start, highWaterMark: STREAM_CHUNK }).pipe(
      progressTap(start, job.onProgress),
    );
    try {
      if (start > 0) await this.#client.appendFrom(source, temp);
      else await this.#client.uploadFrom(source, temp);
    } catch (error) {
      if (error instanceof FTPError) throw error;
      throw this.#classify(error, 'upload', `writing ${temp}`);
    } finally {
      source.destroy();
    }
  }

  async write(remotePath: string, data: Buffer): Promise<void> {
    const path = this.#path(remotePath);
    const source = new PassThrough();
    source.end(data);
    await this.#client.uploadFrom(source, path).catch((error: unknown) => {
      throw this.#classify(error, 'write', `writing ${path}`);
    });
  }

  async read(remotePath: string): Promise<Buffer> {
    const path = this.#path(remotePath);
    const chunks: Buffer[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        chunks.push(chunk);
        callback();
      },
    });
    await this.#client.downloadTo(sink, path).catch((error: unknown) => {
      throw this.#classify(error, 'read', `reading ${path}`);
    });
    return Buffer.concat(chunks);
  }

  async remove(remotePath: string): Promise<void> {
    const path = this.#path(remotePath);
    await this.#client.remove(path).catch((error: unknown) => {
      throw this.#classify(error, 'delete', `deleting ${path}`);
    });
  }

  async discard(remotePath: string): Promise<void> {
    await this.connect();
    await this.#client.remove(this.#path(remotePath) + PART_SUFFIX, true);
  }

  urlOf(remotePath: string): string {
    const path = posix.join(this.#base || posix.resolve('/', this.#config.path), remotePath);
    return serverUrl('ftp', this.#config, 21, path);
  }

  details(): { certificateFingerprint?: string } {
    return this.#certificateFingerprint === undefined
      ? {}
      : { certificateFingerprint: this.#certificateFingerprint };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#client.close();
  }
}
