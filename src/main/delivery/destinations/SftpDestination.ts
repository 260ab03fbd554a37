import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { open } from 'node:fs/promises';
import type { SFTPWrapper } from 'ssh2';
import SftpClient from 'ssh2-sftp-client';
import { StudioError } from '../../../shared/errors';
import type { SftpTargetConfig } from '../../../shared/targets';
import { pinnedAddress } from '../../security/outboundGuard';
import type { Logger } from '../../logger';
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
import { readChunk, serverUrl } from './io';

/** Bytes per write request (ssh2 splits it into packets the server accepts). */
const WRITE_CHUNK = 1 << 20;
/** Write requests in flight at once: sftp's own client keeps a window open the same way. */
const WRITE_WINDOW = 4;

/** SFTP status codes (draft-ietf-secsh-filexfer): what a failed file operation means. */
const NO_SUCH_FILE = 2;
const PERMISSION_DENIED = 3;

/** OpenSSH's fingerprint of a host key: `SHA256:` and unpadded base64. */
export function sshFingerprint(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

/** Options of an SFTP destination. */
export interface SftpDestinationOptions {
  /**
   * Trust on first use: called once after the first successful login to a server whose host
   * key is not pinned yet, with the key's fingerprint to store as `hostKeyFingerprint`; answers
   * the key trusted for the server now (a connection at the same time may have pinned another
   * one first: this one is then refused), or null.
   */
  trustHostKey?: (fingerprint: string) => string | null;
}

/** An SFTP server (OpenSSH or any SSH server with the sftp subsystem). */
export class SftpDestination implements Destination {
  readonly #config: SftpTargetConfig;
  readonly #logger: Logger;
  readonly #trustHostKey: ((fingerprint: string) => string | null) | undefined;
  #client: SftpClient | null = null;
  #wrapper: SFTPWrapper | null = null;
  #base = '';
  #seenFingerprint: string | undefined;
  #hostKeyRejected = false;
  #closed = false;

  constructor(config: SftpTargetConfig, logger: Logger, options: SftpDestinationOptions = {}) {
    this.#config = config;
    this.#logger = logger;
    this.#trustHostKey = options.trustHostKey;
  }

  #classify(error: unknown, stage: FailureStage, what: string): DestinationError {
    if (error instanceof DestinationError) return error;
    const code = (error as { code?: unknown }).code;
    const message = messageOf(error);
    if (code === PERMISSION_DENIED)
      return new DestinationError(stage, 'permission', `${what}: permission denied`, { cause: error });
    if (code === NO_SUCH_FILE)
      return new DestinationError(stage, 'not-found', `${what}: no such file or folder`, { cause: error });
    const reason = nodeReason(error);
    if (reason !== undefined) return toDestinationError(error, stage, what);
    // ssh2 reports a closed connection in many words; all of them are the connection lost.
    if (
      /no response from server|not connected|connection (lost|closed)|channel.*(closed|open failure)|socket|write after end|premature close/i.test(
        message,
      )
    ) {
      return new DestinationError(stage, 'reset', `${what}: connection lost (${message})`, { cause: error });
    }
    return new DestinationError(stage, 'unknown', `${what}: ${message}`, { cause: error });
  }

  async connect(): Promise<void> {
    if (this.#client !== null) return;
    if (this.#closed) throw new DestinationError('connect', 'reset', 'the SFTP connection was closed');
    const config = this.#config;
    // ssh2-sftp-client prints connection events to the console unless given callbacks.
    const quiet = (event: string) => () => this.#logger.debug({ event }, 'sftp connection event');
    const client = new SftpClient('spool', {
      error: quiet('error'),
      end: quiet('end'),
      close: quiet('close'),
    });
    let address: string;
    try {
      // The checked address, not the name: ssh2 would resolve it again (DNS rebinding). The host
      // key, not the name, identifies the server.
      address = await pinnedAddress(config.host, { allowPrivateNetwork: config.allowPrivateNetwork });
    } catch (error) {
      if (!(error instanceof StudioError)) throw error;
      throw new DestinationError(
        'connect',
        error.code === 'PermissionDenied' ? 'config' : 'dns',
        error.message,
      );
    }
    try {
      this.#wrapper = await client.connect({
        host: address,
        port: config.port,
        username: config.user,
        ...(config.password !== undefined ? { password: config.password } : {}),
        ...(config.privateKey !== undefined ? { privateKey: config.privateKey } : {}),
        ...(config.passphrase !== undefined ? { passphrase: config.passphrase } : {}),
        readyTimeout: 20_000,
        keepaliveInterval: 10_000,
        keepaliveCountMax: 3,
        hostVerifier: (key: Buffer) => {
          this.#seenFingerprint = sshFingerprint(key);
          const pinned = config.hostKeyFingerprint;
          this.#hostKeyRejected = pinned !== undefined && pinned !== this.#seenFingerprint;
          return !this.#hostKeyRejected;
        },
      });
    } catch (error) {
      await client.end().catch(() => {});
      const message = messageOf(error);
      if (this.#hostKeyRejected) {
        // As OpenSSH says it: a changed key may be someone in the middle; never connect anyway.
        throw new DestinationError(
          'connect',
          'host-key',
          `the host key of ${config.host}:${config.port} has changed: the server offers ${this.#seenFingerprint}, ` +
            `not the pinned ${config.hostKeyFingerprint} (trusted before). Someone could be intercepting the ` +
            `connection; if the server's key was changed on purpose, clear the target's hostKeyFingerprint ` +
            `(PATCH /api/targets/{id} {"hostKeyFingerprint": null}) to trust the new key at the next connection`,
        );
      }
      if (/authentication methods failed|authentication failed|permission denied/i.test(message)) {
        throw new DestinationError(
          'authenticate',
          'auth',
          `${config.user}@${config.host} was refused: wrong ${config.privateKey !== undefined ? 'private key' : 'password'} or user`,
        );
      }
      throw this.#classify(error, 'connect', `connecting to ${config.host}:${config.port}`);
    }
    if (config.hostKeyFingerprint === undefined && this.#seenFingerprint !== undefined) {
      // Logged in: the key this server offered is the one trusted from now on.
      const trusted = this.#trustHostKey?.(this.#seenFingerprint) ?? null;
      if (trusted !== null && trusted !== this.#seenFingerprint) {
        await client.end().catch(() => {});
        throw new DestinationError(
          'connect',
          'host-key',
          `the host key of ${config.host}:${config.port} is ${this.#seenFingerprint}, not ${trusted}, ` +
            `which another connection trusted first; clear the target's hostKeyFingerprint ` +
            `(PATCH /api/targets/{id} {"hostKeyFingerprint": null}) if the server's key changed on purpose`,
        );
      }
    }
    this.#client = client;
    const home = await client.cwd().catch(() => '/');
    this.#base = posix.resolve(home, config.path || '.');
    try {
      const info = await client.stat(this.#base);
      if (!info.isDirectory)
        throw new DestinationError('connect', 'not-found', `${this.#base} on ${config.host} is not a folder`);
    } catch (error) {
      if ((error as { code?: unknown }).code === 'ENOENT') {
        throw new DestinationError(
          'connect',
          'not-found',
          `folder ${this.#base} does not exist on ${config.host}`,
        );
      }
      throw this.#classify(error, 'connect', `opening folder ${this.#base}`);
    }
  }

  #path(remotePath: string): string {
    return posix.join(this.#base, remotePath);
  }

  get #sftp(): SftpClient {
    if (this.#client === null) throw new Error('SFTP destination used before connect()');
    return this.#client;
  }

  async #size(path: string): Promise<number | null> {
    try {
      return (await this.#sftp.stat(path)).size;
    } catch (error) {
      if ((error as { code?: unknown }).code === 'ENOENT') return null;
      throw error;
    }
  }

  async upload(job: UploadJob): Promise<UploadResult> {
    const onAbort = () => void this.close();
    job.signal.addEventListener('abort', onAbort, { once: true });
    try {
      await this.connect();
      const final = this.#path(job.remotePath);
      const temp = final + PART_SUFFIX;
      const client = this.#sftp;
      await client.mkdir(posix.dirname(final), true).catch((error: unknown) => {
        throw this.#classify(error, 'upload', `creating folder ${posix.dirname(final)}`);
      });
      // Writes in flight when a connection drops may land out of order on some servers: the
      // last window of a temp file cut short is written again.
      const existing = (job.resume as TempFileResume).partial === true ? ((await this.#size(temp)) ?? 0) : 0;
      const rewound =
        Math.floor(Math.max(0, existing - WRITE_WINDOW * WRITE_CHUNK) / WRITE_CHUNK) * WRITE_CHUNK;
      const start = existing <= job.size ? rewound : 0;
      job.saveResume({ partial: true } satisfies TempFileResume);
      job.onProgress(start);
      await this.#writeFile(job, temp, start);
      const written = await this.#size(temp);
      if (written !== job.size) {
        throw new DestinationError(
          'verify',
          'checksum',
          `${temp} has ${written ?? 0} bytes on the server, expected ${job.size}`,
        );
      }
      await this.#rename(temp, final);
      return { url: this.urlOf(job.remotePath) };
    } catch (error) {
      if (job.signal.aborted) throw job.signal.reason ?? error;
      throw this.#classify(error, 'upload', `uploading to ${this.#config.host}`);
    } finally {
      job.signal.removeEventListener('abort', onAbort);
    }
  }

  /**
   * Writes the local file from `start` into `remote` with WRITE_WINDOW requests in flight:
   * ssh2's write stream waits for each write's answer, which is several times slower.
   */
  async #writeFile(job: UploadJob, remote: string, start: number): Promise<void> {
    const sftp = this.#wrapper!;
    const client = this.#sftp;
    // ssh2 never answers requests pending when the connection drops: watch the connection too.
    const lost = new AbortController();
    const onLost = () =>
      lost.abort(
        new DestinationError(
          'upload',
          'reset',
          `connection to ${this.#config.host} lost while writing ${remote}`,
        ),
      );
    client.on('close', onLost);
    client.on('end', onLost);
    const signal = AbortSignal.any([job.signal, lost.signal]);
    const call = <T>(run: (done: (error: Error | null | undefined, value?: T) => void) => void) =>
      new Promise<T>((resolve, reject) => {
        const onAbort = () => reject(signal.reason as Error);
        signal.addEventListener('abort', onAbort, { once: true });
        run((error, value) => {
          signal.removeEventListener('abort', onAbort);
          if (error) reject(error);
          else resolve(value as T);
        });
      });
    const file = await open(job.localPath, 'r');
    let handle: Buffer | null = null;
    try {
      handle = await call<Buffer>((done) => sftp.open(remote, start > 0 ? 'r+' : 'w', done));
      const remoteHandle = handle;
      let next = start;
      let stored = start;
      const inflight = new Set<Promise<void>>();
      while (next < job.size || inflight.size > 0) {
        while (next < job.size && inflight.size < WRITE_WINDOW) {
          signal.throwIfAborted();
          const length = Math.min(WRITE_CHUNK, job.size - next);
          const chunk = await readChunk(file, next, length);
          const position = next;
          next += length;
          const write = call<void>((done) => sftp.write(remoteHandle, chunk, 0, length, position, done)).then(
            () => {
              stored += length;
              job.onProgress(stored);
            },
          );
          inflight.add(write);
          write.then(
            () => inflight.delete(write),
            () => {},
          );
        }
        if (inflight.size > 0) await Promise.race(inflight);
      }
    } catch (error) {
      if (lost.signal.aborted && !job.signal.aborted) throw lost.signal.reason;
      throw this.#classify(error, 'upload', `writing ${remote}`);
    } finally {
      client.removeListener('close', onLost);
      client.removeListener('end', onLost);
      await file.close();
      const remoteHandle = handle;
      if (remoteHandle !== null && !lost.signal.aborted) {
        await new Promise<void>((resolve) => sftp.close(remoteHandle, () => resolve()));
      }
    }
  }

  /** Replaces the final file atomically where the server offers posix-rename, else removes it first. */
  async #rename(from: string, to: string): Promise<void> {
    try {
      await this.#sftp.posixRename(from, to);
    } catch {
      await this.#sftp.delete(to, true).catch(() => {});
      await this.#sftp.rename(from, to).catch((error: unknown) => {
        throw this.#classify(error, 'upload', `renaming ${from} to ${to}`);
      });
    }
  }

  async write(remotePath: string, data: Buffer): Promise<void> {
    const path = this.#path(remotePath);
    await this.#sftp.put(data, path).catch((error: unknown) => {
      throw this.#classify(error, 'write', `writing ${path}`);
    });
  }

  async read(remotePath: string): Promise<Buffer> {
    const path = this.#path(remotePath);
    try {
      return (await this.#sftp.get(path)) as Buffer;
    } catch (error) {
      throw this.#classify(error, 'read', `reading ${path}`);
    }
  }

  async remove(remotePath: string): Promise<void> {
    const path = this.#path(remotePath);
    await this.#sftp.delete(path).catch((error: unknown) => {
      throw this.#classify(error, 'delete', `deleting ${path}`);
    });
  }

  async discard(remotePath: string): Promise<void> {
    await this.connect();
    await this.#sftp.delete(this.#path(remotePath) + PART_SUFFIX, true);
  }

  urlOf(remotePath: string): string {
    const path = posix.join(this.#base || posix.resolve('/', this.#config.path), remotePath);
    return serverUrl('sftp', this.#config, 22, path);
  }

  details(): { hostKeyFingerprint?: string } {
    return this.#seenFingerprint === undefined ? {} : { hostKeyFingerprint: this.#seenFingerprint };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const client = this.#client;
    this.#client = null;
    this.#wrapper = null;
    await client?.end().catch(() => {});
  }
}
