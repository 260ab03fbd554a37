import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import {
  AccountSASPermissions,
  AccountSASResourceTypes,
  AccountSASServices,
  BlobServiceClient,
  generateAccountSASQueryParameters,
  StorageSharedKeyCredential,
} from '@azure/storage-blob';
import type { AzuriteServer } from './azurite';
import type { SwiftServer } from './swift';

/** A plain S3 client of the Swift server (the test's own view of the bucket). */
export function s3ClientOf(swift: SwiftServer): S3Client {
  return new S3Client({
    endpoint: swift.endpoint,
    region: swift.region,
    forcePathStyle: true,
    credentials: { accessKeyId: swift.accessKeyId, secretAccessKey: swift.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** Creates a bucket, retrying while a Swift that just started answers 503 (busy machines). */
export async function createBucket(swift: SwiftServer, bucket: string): Promise<void> {
  const client = s3ClientOf(swift);
  for (let attempt = 1; ; attempt++) {
    try {
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
      return;
    } catch (error) {
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status !== 503 || attempt >= 20) throw error;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

async function hashStream(stream: Readable | AsyncIterable<Uint8Array>): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of stream) hash.update(chunk);
  return hash.digest('hex');
}

/** sha256 of an object as the store serves it. */
export async function s3Sha256(swift: SwiftServer, bucket: string, key: string): Promise<string> {
  const answer = await s3ClientOf(swift).send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return hashStream(answer.Body as Readable);
}

/** Every key in a bucket (under a prefix). */
export async function s3Keys(swift: SwiftServer, bucket: string, prefix = ''): Promise<string[]> {
  const answer = await s3ClientOf(swift).send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  return (answer.Contents ?? []).map((o) => o.Key!).sort();
}

/** Multipart uploads still open in a bucket (stale parts a crash could leave). */
export async function s3OpenUploads(swift: SwiftServer, bucket: string): Promise<string[]> {
  const answer = await s3ClientOf(swift).send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  return (answer.Uploads ?? []).map((u) => u.Key!);
}

export function containerOf(azurite: AzuriteServer, container: string) {
  return BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(container);
}

/** sha256 of a blob as the service serves it. */
export async function blobSha256(azurite: AzuriteServer, container: string, name: string): Promise<string> {
  const answer = await containerOf(azurite, container).getBlobClient(name).download();
  return hashStream(answer.readableStreamBody as unknown as Readable);
}

/** Every blob name in a container. */
export async function blobNames(azurite: AzuriteServer, container: string): Promise<string[]> {
  const names: string[] = [];
  for await (const blob of containerOf(azurite, container).listBlobsFlat()) names.push(blob.name);
  return names.sort();
}

/** An account SAS token (read, write, delete, list, add, create on blobs) valid for an hour. */
export function azuriteSas(azurite: AzuriteServer): string {
  return generateAccountSASQueryParameters(
    {
      expiresOn: new Date(Date.now() + 3600_000),
      permissions: AccountSASPermissions.parse('rwdlac'),
      resourceTypes: AccountSASResourceTypes.parse('sco').toString(),
      services: AccountSASServices.parse('b').toString(),
    },
    new StorageSharedKeyCredential(azurite.accountName, azurite.accountKey),
  ).toString();
}
