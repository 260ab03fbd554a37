import { createHash } from 'node:crypto';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { open } from 'node:fs/promises';
import { posix } from 'node:path';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type CompletedPart,
  type StorageClass,
} from '@aws-sdk/client-s3';
import type { S3TargetConfig } from '../../../shared/targets';
import { pinnedLookup } from '../../security/outboundGuard';
import type { ResumeState } from '../../store/DeliveryRepository';
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
import { readChunk } from './io';
import { planParts, uploadMissingParts } from './partUpload';

/** Resume state of a multipart upload. */
interface S3Resume extends PartsResume {
  uploadId: string;
  key: string;
}

const AUTH_CODES = new Set([
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'InvalidToken',
  'ExpiredToken',
  'InvalidSecurity',
  'TokenRefreshRequired',
  'CredentialsProviderError',
]);
const CONFIG_CODES = new Set([
  'InvalidBucketName',
  'InvalidStorageClass',
  'InvalidArgument',
  'InvalidRequest',
  'PermanentRedirect',
  'AuthorizationHeaderMalformed',
  'IllegalLocationConstraintException',
  'KMS.NotFoundException',
]);
const CHECKSUM_CODES = new Set(['BadDigest', 'InvalidDigest', 'InvalidPart', 'XAmzContentSHA256Mismatch']);
const SERVER_CODES = new Set([
  'SlowDown',
  'RequestTimeout',
  'ServiceUnavailable',
  'InternalError',
  'RequestTimeTooSkewed',
]);

const MAX_PARTS = 10_000;

/** `md5(concat(part md5s))-N`: the ETag S3 gives a multipart object (when not KMS-encrypted). */
export function multipartEtag(partEtags: string[]): string {
  const digests = partEtags.map((etag) => Buffer.from(etag.replace(/"/g, ''), 'hex'));
  return `${createHash('md5').update(Buffer.concat(digests)).digest('hex')}-${partEtags.length}`;
}

const unquote = (etag: string | undefined) => (etag ?? '').replace(/"/g, '');
const codeOf = (error: unknown) =>
  String((error as { name?: unknown; Code?: unknown }).Code ?? (error as Error).name ?? '');
const statusOf = (error: unknown) =>
  (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;

/** Amazon S3 or an S3-compatible store, by multipart upload that resumes from stored parts. */
export class S3Destination implements Destination {
  readonly #config: S3TargetConfig;
  readonly #client: S3Client;
  #closed = false;

  constructor(config: S3TargetConfig) {
    this.#config = config;
    const guard = { allowPrivateNetwork: config.allowPrivateNetwork };
    this.#client = new S3Client({
      region: config.region,
      ...(config.endpoint !== undefined ? { endpoint: config.endpoint } : {}),
      forcePathStyle: config.forcePathStyle,
      credentials: { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey ?? '' },
      // Content-MD5 verifies every part; the SDK's default CRC trailers are not understood by
      // many S3-compatible stores.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: 2,
      requestHandler: {
        connectionTimeout: 15_000,
        requestTimeout: 120_000,
        // Connections go only to addresses the outbound guard checked at connect time (the SDK
        // resolving the endpoint again could be answered 127.0.0.1: DNS rebinding).
        httpAgent: new HttpAgent({ keepAlive: true, lookup: pinnedLookup(guard) }),
        httpsAgent: new HttpsAgent({ keepAlive: true, lookup: pinnedLookup(guard) }),
      },
    });
  }

  #classify(error: unknown, stage: FailureStage, what: string): DestinationError {
    if (error instanceof DestinationError) return error;
    const code = codeOf(error);
    const status = statusOf(error);
    const message = messageOf(error);
    const make = (reason: ConstructorParameters<typeof DestinationError>[1], text: string) =>
      new DestinationError(
        stage === 'connect' && reason === 'auth' ? 'authenticate' : stage,
        reason,
        `${what}: ${text}`,
        {
          cause: error,
        },
      );
    if (AUTH_CODES.has(code))
      return make('auth', `credentials refused (${code}: ${message}); check accessKeyId and secretAccessKey`);
    if (code === 'NoSuchBucket' || (status === 404 && code === 'NotFound' && stage === 'connect')) {
      return make('bucket', `bucket ${this.#config.bucket} does not exist`);
    }
    if (code === 'AccessDenied' || code === 'AllAccessDisabled' || code === 'Forbidden' || status === 403) {
      return make('permission', `access denied (${code}: ${message})`);
    }
    if (CONFIG_CODES.has(code) || status === 301) return make('config', `${code}: ${message}`);
    if (CHECKSUM_CODES.has(code)) return make('checksum', `the store rejected the data's checksum (${code})`);
    if (code === 'TimeoutError') return make('timeout', message);
    if (SERVER_CODES.has(code) || (status !== undefined && status >= 500))
      return make('server', `${code || status}: ${message}`);
    if (nodeReason(error) !== undefined) return toDestinationError(error, stage, what);
    return make('unknown', `${code}: ${message}`);
  }

  #key(remotePath: string): string {
    return posix.join(this.#config.prefix, remotePath).replace(/^\/+/, '');
  }

  async #send<T>(stage: FailureStage, what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw this.#classify(error, stage, what);
    }
  }

  async connect(signal?: AbortSignal): Promise<void> {
    const { bucket, prefix } = this.#config;
    try {
      await this.#client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, MaxKeys: 1 }), {
        abortSignal: signal,
      });
    } catch (error) {
      const failure = this.#classify(error, 'connect', `opening bucket ${bucket}`);
      // Upload-only credentials may not list: the signature was accepted, so go on.
      if (failure.reason === 'permission') return;
      throw failure;
    }
  }

  async upload(job: UploadJob): Promise<UploadResult> {
    const key = this.#key(job.remotePath);
    const plan = planParts(job.size, MIN_PART_SIZE, MAX_PARTS);
    if (plan.partsTotal === 1) return this.#putSingle(job, key);
    const { partSize, partsTotal } = plan;
    const what = `uploading s3://${this.#config.bucket}/${key}`;
    const signal = job.signal;

    let state = job.resume as Partial<S3Resume>;
    const partsSent = state.partsSent ?? 0;
    let stored = new Map<number, string>();
    if (state.uploadId !== undefined && state.key === key && state.partSize === partSize) {
      try {
        stored = await this.#storedParts(key, state.uploadId, plan.sizeOf, signal);
      } catch (error) {
        if (codeOf(error) !== 'NoSuchUpload') throw this.#classify(error, 'upload', what);
        // Completed by an attempt that died before recording it, or aborted: check the object.
        const done = await this.#verifyObject(
          key,
          job.size,
          Object.values(state.stored ?? {}),
          partsTotal,
          signal,
        ).catch(() => false);
        if (done) return { url: this.urlOf(job.remotePath) };
        state = {};
      }
    } else {
      state = {};
    }
    if (state.uploadId === undefined) {
      await this.#abortStale(key, signal);
      const created = await this.#send('upload', what, () =>
        this.#client.send(
          new CreateMultipartUploadCommand({
            Bucket: this.#config.bucket,
            Key: key,
            ...this.#objectOptions(),
          }),
          { abortSignal: signal },
        ),
      );
      state = { uploadId: created.UploadId! };
    }
    const resume: S3Resume = {
      uploadId: state.uploadId!,
      key,
      partSize,
      partsTotal,
      stored: Object.fromEntries([...stored].map(([n, etag]) => [String(n), etag])),
      partsSent,
    };
    await uploadMissingParts(job, plan, resume, async (n, body) => {
      const md5 = createHash('md5').update(body).digest();
      const answer = await this.#send('upload', `${what} (part ${n} of ${partsTotal})`, () =>
        this.#client.send(
          new UploadPartCommand({
            Bucket: this.#config.bucket,
            Key: key,
            UploadId: resume.uploadId,
            PartNumber: n,
            Body: body,
            ContentLength: body.length,
            ContentMD5: md5.toString('base64'),
          }),
          { abortSignal: signal },
        ),
      );
      return unquote(answer.ETag) || md5.toString('hex');
    });

    const parts: CompletedPart[] = Array.from({ length: partsTotal }, (_, i) => ({
      PartNumber: i + 1,
      ETag: `"${resume.stored[String(i + 1)]}"`,
    }));
    await this.#send('upload', `${what} (completing)`, () =>
      this.#client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.#config.bucket,
          Key: key,
          UploadId: resume.uploadId,
          MultipartUpload: { Parts: parts },
        }),
        { abortSignal: signal },
      ),
    );
    const ok = await this.#verifyObject(
      key,
      job.size,
      parts.map((p) => p.ETag!),
      partsTotal,
      signal,
    );
    if (!ok)
      throw new DestinationError('verify', 'checksum', `${what}: the stored object does not match the file`);
    return { url: this.urlOf(job.remotePath) };
  }

  /** Parts the store holds for an upload, by number, keeping only those of the expected size. */
  async #storedParts(
    key: string,
    uploadId: string,
    sizeOf: (n: number) => number,
    signal: AbortSignal,
  ): Promise<Map<number, string>> {
    const stored = new Map<number, string>();
    let marker: string | undefined;
    do {
      const page = await this.#client.send(
        new ListPartsCommand({
          Bucket: this.#config.bucket,
          Key: key,
          UploadId: uploadId,
          PartNumberMarker: marker,
        }),
        { abortSignal: signal },
      );
      for (const part of page.Parts ?? []) {
        if (part.PartNumber !== undefined && part.Size === sizeOf(part.PartNumber)) {
          stored.set(part.PartNumber, unquote(part.ETag));
        }
      }
      marker = page.IsTruncated === true ? page.NextPartNumberMarker : undefined;
    } while (marker !== undefined);
    return stored;
  }

  /** Multipart uploads to this key that no attempt recorded (a crash right after creating one). */
  async #abortStale(key: string, signal: AbortSignal): Promise<void> {
    try {
      const page = await this.#client.send(
        new ListMultipartUploadsCommand({ Bucket: this.#config.bucket, Prefix: key }),
        { abortSignal: signal },
      );
      for (const upload of page.Uploads ?? []) {
        if (upload.Key !== key || upload.UploadId === undefined) continue;
        await this.#client.send(
          new AbortMultipartUploadCommand({
            Bucket: this.#config.bucket,
            Key: key,
            UploadId: upload.UploadId,
          }),
          { abortSignal: signal },
        );
      }
    } catch {
      // Listing uploads may not be allowed; stale parts then expire by the bucket's lifecycle rules.
    }
  }

  /** Size, and ETag where the store computes S3's MD5-based one, of the object as stored. */
  async #verifyObject(
    key: string,
    size: number,
    partEtags: string[],
    partsTotal: number,
    signal: AbortSignal,
  ): Promise<boolean> {
    const head = await this.#send('verify', `checking s3://${this.#config.bucket}/${key}`, () =>
      this.#client.send(new HeadObjectCommand({ Bucket: this.#config.bucket, Key: key }), {
        abortSignal: signal,
      }),
    );
    if (head.ContentLength !== size) return false;
    const etag = unquote(head.ETag);
    // KMS-encrypted objects and some stores have ETags that are not MD5-based: size must do.
    if (!/^[0-9a-f]{32}-\d+$/.test(etag) || partEtags.length !== partsTotal) return true;
    return etag === multipartEtag(partEtags);
  }

  async #putSingle(job: UploadJob, key: string): Promise<UploadResult> {
    const what = `uploading s3://${this.#config.bucket}/${key}`;
    const file = await open(job.localPath, 'r');
    let body: Buffer;
    try {
      body = job.size === 0 ? Buffer.alloc(0) : await readChunk(file, 0, job.size);
    } finally {
      await file.close();
    }
    const md5 = createHash('md5').update(body).digest();
    const answer = await this.#send('upload', what, () =>
      this.#client.send(
        new PutObjectCommand({
          Bucket: this.#config.bucket,
          Key: key,
          Body: body,
          ContentLength: body.length,
          ContentMD5: md5.toString('base64'),
          ...this.#objectOptions(),
        }),
        { abortSignal: job.signal },
      ),
    );
    job.onProgress(body.length);
    const etag = unquote(answer.ETag);
    if (
      /^[0-9a-f]{32}$/.test(etag) &&
      this.#config.serverSideEncryption === undefined &&
      etag !== md5.toString('hex')
    ) {
      throw new DestinationError(
        'verify',
        'checksum',
        `${what}: the store's ETag ${etag} is not the file's MD5`,
      );
    }
    return { url: this.urlOf(job.remotePath) };
  }

  #objectOptions() {
    const { storageClass, serverSideEncryption, sseKmsKeyId } = this.#config;
    return {
      ...(storageClass !== undefined ? { StorageClass: storageClass as StorageClass } : {}),
      ...(serverSideEncryption !== undefined ? { ServerSideEncryption: serverSideEncryption } : {}),
      ...(sseKmsKeyId !== undefined ? { SSEKMSKeyId: sseKmsKeyId } : {}),
    };
  }

  async write(remotePath: string, data: Buffer): Promise<void> {
    const key = this.#key(remotePath);
    await this.#send('write', `writing s3://${this.#config.bucket}/${key}`, () =>
      this.#client.send(
        new PutObjectCommand({
          Bucket: this.#config.bucket,
          Key: key,
          Body: data,
          ContentMD5: createHash('md5').update(data).digest('base64'),
          ...this.#objectOptions(),
        }),
      ),
    );
  }

  async read(remotePath: string): Promise<Buffer> {
    const key = this.#key(remotePath);
    return this.#send('read', `reading s3://${this.#config.bucket}/${key}`, async () => {
      const answer = await this.#client.send(new GetObjectCommand({ Bucket: this.#config.bucket, Key: key }));
      return Buffer.from(await answer.Body!.transformToByteArray());
    });
  }

  async remove(remotePath: string): Promise<void> {
    const key = this.#key(remotePath);
    await this.#send('delete', `deleting s3://${this.#config.bucket}/${key}`, () =>
      this.#client.send(new DeleteObjectCommand({ Bucket: this.#config.bucket, Key: key })),
    );
  }

  async discard(remotePath: string, resume: ResumeState): Promise<void> {
    const state = resume as Partial<S3Resume>;
    if (state.uploadId === undefined) return;
    try {
      await this.#client.send(
        new AbortMultipartUploadCommand({
          Bucket: this.#config.bucket,
          Key: this.#key(remotePath),
          UploadId: state.uploadId,
        }),
      );
    } catch (error) {
      if (codeOf(error) !== 'NoSuchUpload')
        throw this.#classify(error, 'delete', `aborting upload of ${remotePath}`);
    }
  }

  urlOf(remotePath: string): string {
    const { endpoint, bucket, region, forcePathStyle } = this.#config;
    const key = this.#key(remotePath).split('/').map(encodeURIComponent).join('/');
    if (endpoint === undefined) return `https://${bucket}.s3.${region}.amazonaws.com/${key}`;
    const url = new URL(endpoint);
    const base = url.pathname.replace(/\/+$/, '');
    return forcePathStyle
      ? `${url.origin}${base}/${bucket}/${key}`
      : `${url.protocol}//${bucket}.${url.host}${base}/${key}`;
  }

  details(): { url: string } {
    return { url: this.urlOf('') };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#client.destroy();
  }
}
