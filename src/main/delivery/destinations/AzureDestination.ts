import { createHash, randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import { BlobServiceClient, type BlockBlobClient, type ContainerClient } from '@azure/storage-blob';
import type { AzureTargetConfig } from '../../../shared/targets';
import {
  DestinationError,
  messageOf,
  nodeReason,
  toDestinationError,
  type FailureStage,
} from '../DestinationError';
import {
  MIN_PART_SIZE,
  type Destination,
  type PartsResume,
  type UploadJob,
  type UploadResult,
} from './Destination';
import { planParts, uploadMissingParts } from './partUpload';

/** Resume state of a block upload: block ids are derived from a nonce and the block number. */
interface AzureResume extends PartsResume {
  blob: string;
  nonce: string;
}

const AUTH_CODES = new Set([
  'AuthenticationFailed',
  'AuthorizationFailure',
  'InvalidAuthenticationInfo',
  'NoAuthenticationInformation',
]);
const PERMISSION_CODES = new Set([
  'AuthorizationPermissionMismatch',
  'AuthorizationResourceTypeMismatch',
  'AuthorizationServiceMismatch',
  'AuthorizationSourceIPMismatch',
  'AuthorizationProtocolMismatch',
  'InsufficientAccountPermissions',
  'AccountIsDisabled',
]);
const CHECKSUM_CODES = new Set(['Md5Mismatch', 'InvalidMd5', 'ContentMD5Mismatch']);
const MAX_BLOCKS = 50_000;

/** Same-length block ids (Azure requires it within a blob): nonce and zero-padded number, base64. */
export function blockId(nonce: string, n: number): string {
  return Buffer.from(`${nonce}-${String(n).padStart(6, '0')}`).toString('base64');
}

/** Azure Blob Storage (or Azurite), by staged blocks committed at the end. */
export class AzureDestination implements Destination {
  readonly #config: AzureTargetConfig;
  readonly #container: ContainerClient;

  constructor(config: AzureTargetConfig) {
    this.#config = config;
    const retryOptions = { maxTries: 2, tryTimeoutInMs: 120_000 };
    let service: BlobServiceClient;
    if (config.connectionString !== undefined) {
      service = BlobServiceClient.fromConnectionString(config.connectionString, { retryOptions });
    } else {
      const base = config.accountUrl ?? `https://${config.accountName}.blob.core.windows.net`;
      const sas = (config.sasToken ?? '').replace(/^\?/, '');
      service = new BlobServiceClient(`${base.replace(/\/+$/, '')}?${sas}`, undefined, { retryOptions });
    }
    this.#container = service.getContainerClient(config.container);
  }

  #classify(error: unknown, stage: FailureStage, what: string): DestinationError {
    if (error instanceof DestinationError) return error;
    const code = String((error as { code?: unknown }).code ?? '');
    const status = (error as { statusCode?: number }).statusCode;
    const message = messageOf(error).split(' RequestId:')[0]!;
    const make = (reason: ConstructorParameters<typeof DestinationError>[1], text: string) =>
      new DestinationError(
        stage === 'connect' && reason === 'auth' ? 'authenticate' : stage,
        reason,
        `${what}: ${text}`,
        {
          cause: error,
        },
      );
    if (AUTH_CODES.has(code)) {
      return make(
        'auth',
        `credentials refused (${code}); check the ${this.#config.connectionString !== undefined ? 'connection string' : 'SAS token'}`,
      );
    }
    if (PERMISSION_CODES.has(code) || status === 403)
      return make('permission', `access denied (${code}: ${message})`);
    if (code === 'ContainerNotFound')
      return make('bucket', `container ${this.#config.container} does not exist`);
    if (CHECKSUM_CODES.has(code)) return make('checksum', `the store rejected the data's checksum (${code})`);
    if (
      code === 'InvalidResourceName' ||
      code === 'OutOfRangeInput' ||
      code === 'InvalidQueryParameterValue'
    ) {
      return make('config', `${code}: ${message}`);
    }
    if (status !== undefined && status >= 500) return make('server', `${code || status}: ${message}`);
    if (nodeReason(error) !== undefined) return toDestinationError(error, stage, what);
    if (/timeout/i.test(message)) return make('timeout', message);
    return make('unknown', `${code}: ${message}`);
  }

  async #call<T>(stage: FailureStage, what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw this.#classify(error, stage, what);
    }
  }

  #blob(remotePath: string): BlockBlobClient {
    return this.#container.getBlockBlobClient(
      posix.join(this.#config.prefix, remotePath).replace(/^\/+/, ''),
    );
  }

  async connect(signal?: AbortSignal): Promise<void> {
    try {
      await this.#container.getProperties({ abortSignal: signal });
    } catch (error) {
      const failure = this.#classify(error, 'connect', `opening container ${this.#config.container}`);
      // A SAS scoped to writing blobs may not read the container's properties: go on.
      if (failure.reason === 'permission') return;
      throw failure;
    }
  }

  async upload(job: UploadJob): Promise<UploadResult> {
    const blob = this.#blob(job.remotePath);
    const what = `uploading ${this.#config.container}/${blob.name}`;
    const signal = job.signal;
    const plan = planParts(job.size, MIN_PART_SIZE, MAX_BLOCKS);
    const { partSize, partsTotal } = plan;

    const previous = job.resume as Partial<AzureResume>;
    const resumable =
      previous.nonce !== undefined && previous.blob === blob.name && previous.partSize === partSize;
    const resume: AzureResume = {
      blob: blob.name,
      nonce: resumable ? previous.nonce! : randomBytes(6).toString('hex'),
      partSize,
      partsTotal,
      stored: {},
      partsSent: previous.partsSent ?? 0,
    };
    // Staged blocks outlive a failed attempt for a week; the ones of the right size are kept.
    if (resumable) {
      let list: Awaited<ReturnType<BlockBlobClient['getBlockList']>> | null = null;
      try {
        list = await blob.getBlockList('uncommitted', { abortSignal: signal });
      } catch (error) {
        // 404: nothing staged (and nothing committed) under this name yet.
        if ((error as { statusCode?: number }).statusCode !== 404)
          throw this.#classify(error, 'upload', what);
      }
      const staged = new Map((list?.uncommittedBlocks ?? []).map((b) => [b.name, b.size]));
      for (let n = 1; n <= partsTotal; n++) {
        const id = blockId(resume.nonce, n);
        if (staged.get(id) === plan.sizeOf(n)) resume.stored[String(n)] = id;
      }
    }
    await uploadMissingParts(job, plan, resume, async (n, body) => {
      const id = blockId(resume.nonce, n);
      await this.#call('upload', `${what} (block ${n} of ${partsTotal})`, () =>
        blob.stageBlock(id, body, body.length, {
          transactionalContentMD5: createHash('md5').update(body).digest(),
          abortSignal: signal,
        }),
      );
      return id;
    });
    // Committing makes the blob appear at once, whole: no partial blob is ever visible.
    await this.#call('upload', `${what} (committing)`, () =>
      blob.commitBlockList(
        Array.from({ length: partsTotal }, (_, i) => blockId(resume.nonce, i + 1)),
        {
          abortSignal: signal,
          ...(this.#config.accessTier !== undefined ? { tier: this.#config.accessTier } : {}),
        },
      ),
    );
    const properties = await this.#call('verify', `checking ${blob.name}`, () =>
      blob.getProperties({ abortSignal: signal }),
    );
    if (properties.contentLength !== job.size) {
      throw new DestinationError(
        'verify',
        'checksum',
        `${what}: the blob has ${properties.contentLength} bytes, expected ${job.size}`,
      );
    }
    return { url: this.urlOf(job.remotePath) };
  }

  async write(remotePath: string, data: Buffer): Promise<void> {
    const blob = this.#blob(remotePath);
    await this.#call('write', `writing ${blob.name}`, () =>
      blob.upload(data, data.length, {
        blobHTTPHeaders: { blobContentMD5: createHash('md5').update(data).digest() },
      }),
    );
  }

  async read(remotePath: string): Promise<Buffer> {
    const blob = this.#blob(remotePath);
    return this.#call('read', `reading ${blob.name}`, () => blob.downloadToBuffer());
  }

  async remove(remotePath: string): Promise<void> {
    const blob = this.#blob(remotePath);
    await this.#call('delete', `deleting ${blob.name}`, () => blob.delete());
  }

  /** Uncommitted blocks are dropped by the service after a week; nothing is visible meanwhile. */
  async discard(): Promise<void> {}

  urlOf(remotePath: string): string {
    // The client's URL carries the SAS token: keep only what is before the query.
    return this.#blob(remotePath).url.split('?')[0]!;
  }

  details(): { url: string } {
    return { url: this.#container.url.split('?')[0]! };
  }

  /** The SDK keeps no connection open beyond a request. */
  async close(): Promise<void> {}
}
