/** Delivery targets and deliveries: schemas of target configs and the shapes the API returns. */
import { z } from 'zod';

export const TARGET_KINDS = ['local', 'ftp', 'sftp', 's3', 'azure'] as const;
export type TargetKind = (typeof TARGET_KINDS)[number];

/** Where each file goes under the target's folder, bucket or container. */
export const DEFAULT_PATH_TEMPLATE = '{room}/{archiveId}/{file}';

/**
 * Placeholders of a path template. `{file}` is the file's path inside the archive folder
 * (`<streamId>.webm`, `split/<streamId>_0001.webm`, `manifest.json`, `archive.mp4`).
 */
export const PATH_PLACEHOLDERS = [
  'room',
  'roomName',
  'archiveId',
  'archiveName',
  'sessionId',
  'file',
  'kind',
  'streamId',
  'date',
  'time',
  'year',
  'month',
  'day',
] as const;
export type PathPlaceholder = (typeof PATH_PLACEHOLDERS)[number];

/** Shown instead of a stored credential: the API never returns one. */
export const SECRET_MASK = '••••';

/** Fields of each kind that hold credentials: encrypted at rest, masked by the API, never logged. */
export const SECRET_FIELDS = {
  local: [],
  ftp: ['password'],
  sftp: ['password', 'privateKey', 'passphrase'],
  s3: ['secretAccessKey'],
  azure: ['connectionString', 'sasToken'],
} as const satisfies Record<TargetKind, readonly string[]>;

const host = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(253, 'must be at most 253 characters')
  .regex(/^[A-Za-z0-9.:[\]_-]+$/, 'must be a host name or IP address');
const port = (fallback: number) =>
  z
    .number({ error: 'must be a port number' })
    .int('must be a whole number')
    .min(1, 'must be between 1 and 65535')
    .max(65535, 'must be between 1 and 65535')
    .default(fallback);
const secret = (max: number) =>
  z.string().min(1, 'must not be empty').max(max, `must be at most ${max} characters`);
/** A folder on the server; empty means the login folder. */
const remoteFolder = z.string().trim().max(1000, 'must be at most 1000 characters').default('');
const prefix = z
  .string()
  .trim()
  .max(512, 'must be at most 512 characters')
  .regex(/^[^\\]*$/, 'must use "/" between folders')
  .default('');

const pathTemplate = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(500, 'must be at most 500 characters')
  .superRefine((value, ctx) => {
    for (const match of value.matchAll(/\{([^}]*)\}/g)) {
      if (!(PATH_PLACEHOLDERS as readonly string[]).includes(match[1]!)) {
        ctx.addIssue({
          code: 'custom',
          message: `unknown placeholder {${match[1]}}; use ${PATH_PLACEHOLDERS.map((p) => `{${p}}`).join(', ')}`,
        });
        return;
      }
    }
    // Without {file} every file of an archive would land on the same path.
    if (!value.includes('{file}')) ctx.addIssue({ code: 'custom', message: 'must contain {file}' });
    if (value.split('/').includes('..')) ctx.addIssue({ code: 'custom', message: 'must not contain ".."' });
  })
  .default(DEFAULT_PATH_TEMPLATE);

const common = {
  name: z.string().trim().min(1, 'must not be empty').max(100, 'must be at most 100 characters'),
  /** Disabled targets get no new deliveries; deliveries already queued still run. */
  enabled: z.boolean().default(true),
  pathTemplate,
  /** The server is on this machine or the LAN: loopback and private addresses are refused otherwise. */
  allowPrivateNetwork: z.boolean().optional(),
};

/** System folders a local target may never write into. */
const SYSTEM_FOLDERS = [
  '/',
  '/bin',
  '/boot',
  '/dev',
  '/etc',
  '/lib',
  '/proc',
  '/root',
  '/sbin',
  '/sys',
  '/usr',
  '/var/lib',
  '/system',
  '/library',
  'c:/windows',
  'c:/program files',
  'c:/program files (x86)',
  'c:/programdata',
];

function isSystemFolder(path: string): boolean {
  const p = path.replace(/\\/g, '/').replace(/\/+$/, '').toLowerCase() || '/';
  return SYSTEM_FOLDERS.some((folder) => p === folder || (folder !== '/' && p.startsWith(`${folder}/`)));
}

/** A folder on this machine or a mounted share. */
export const localTargetSchema = z.strictObject({
  kind: z.literal('local'),
  ...common,
  /** Absolute path of an existing folder (it is never created, so an unmounted share is noticed). */
  path: z
    .string()
    .trim()
    .min(1, 'must not be empty')
    .max(1000, 'must be at most 1000 characters')
    .regex(/^(\/|[A-Za-z]:[\\/]|\\\\)/, 'must be an absolute path')
    // A UNC path makes Windows authenticate to whatever host it names (NTLM hashes leave).
    .refine(
      (p) => !/^[\\/]{2}/.test(p),
      'must not be a UNC network path; map the share to a drive or mount it',
    )
    .refine((p) => !isSystemFolder(p), 'must not be a system folder'),
});

/** FTP, plain or with explicit TLS (FTPS, `AUTH TLS`). */
export const ftpTargetSchema = z.strictObject({
  kind: z.literal('ftp'),
  ...common,
  host,
  port: port(21),
  user: z.string().min(1, 'must not be empty').max(200, 'must be at most 200 characters'),
  password: secret(1000).optional(),
  /** Explicit FTPS: upgrade the control and data connections with AUTH TLS. */
  secure: z.boolean().default(false),
  /**
   * SHA-256 fingerprint (`AA:BB:…`) of the server's certificate: trusts exactly that certificate
   * (self-signed servers). Without it the certificate must be valid for the host.
   */
  certificateFingerprint: z
    .string()
    .trim()
    .regex(/^([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$/, 'must be a SHA-256 fingerprint like AB:CD:…')
    .transform((v) => v.toUpperCase())
    .optional(),
  /** Folder on the server (relative to the login folder unless absolute). */
  path: remoteFolder,
});

/** SFTP (SSH) with a password or a private key; the host key can be pinned. */
export const sftpTargetSchema = z.strictObject({
  kind: z.literal('sftp'),
  ...common,
  host,
  port: port(22),
  user: z.string().min(1, 'must not be empty').max(200, 'must be at most 200 characters'),
  password: secret(1000).optional(),
  /** Private key in OpenSSH or PEM format. */
  privateKey: secret(20_000).optional(),
  passphrase: secret(1000).optional(),
  /** The server's host key as OpenSSH shows it (`SHA256:…`); other keys are refused. */
  hostKeyFingerprint: z
    .string()
    .trim()
    .regex(/^SHA256:[A-Za-z0-9+/]{43}=?$/, 'must look like SHA256:<43 base64 characters> (ssh-keygen -lf)')
    .transform((v) => v.replace(/=$/, ''))
    .optional(),
  /** Folder on the server (relative to the login folder unless absolute). */
  path: remoteFolder,
});

/** Amazon S3 or an S3-compatible store. */
export const s3TargetSchema = z.strictObject({
  kind: z.literal('s3'),
  ...common,
  /** S3-compatible endpoint, e.g. `https://storage.example.com`; empty for AWS. */
  endpoint: z
    .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
    .max(500, 'must be at most 500 characters')
    .optional(),
  region: z
    .string()
    .trim()
    .regex(/^[a-z0-9-]{1,50}$/, 'must be a region name like us-east-1')
    .default('us-east-1'),
  bucket: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{1,254}$/, 'must be a bucket name (letters, digits, ".", "-", "_")'),
  /** Key prefix ("folder") every object goes under. */
  prefix,
  /** Path-style URLs (`endpoint/bucket/key`), which most S3-compatible stores need. */
  forcePathStyle: z.boolean().default(false),
  accessKeyId: z.string().trim().min(1, 'must not be empty').max(256, 'must be at most 256 characters'),
  secretAccessKey: secret(1000).optional(),
  storageClass: z
    .string()
    .regex(/^[A-Z_]{2,40}$/, 'must be an S3 storage class like STANDARD or STANDARD_IA')
    .optional(),
  serverSideEncryption: z.enum(['AES256', 'aws:kms', 'aws:kms:dsse']).optional(),
  /** KMS key for `aws:kms` encryption. */
  sseKmsKeyId: z.string().trim().min(1).max(2048).optional(),
});

/** Azure Blob Storage: a connection string, or an account (name or URL) with a SAS token. */
export const azureTargetSchema = z.strictObject({
  kind: z.literal('azure'),
  ...common,
  connectionString: secret(4000).optional(),
  accountName: z
    .string()
    .trim()
    .regex(/^[a-z0-9]{3,24}$/, 'must be 3 to 24 lowercase letters or digits')
    .optional(),
  /** Blob service URL, e.g. `https://<account>.blob.core.windows.net` (or an emulator's). */
  accountUrl: z
    .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
    .max(500, 'must be at most 500 characters')
    .optional(),
  /** Shared access signature (the query string, with or without the leading "?"). */
  sasToken: secret(4000).optional(),
  container: z
    .string()
    .trim()
    .regex(
      /^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/,
      'must be 3 to 63 lowercase letters, digits or single "-"',
    ),
  /** Blob name prefix ("folder") every blob goes under. */
  prefix,
  accessTier: z.enum(['Hot', 'Cool', 'Cold', 'Archive']).optional(),
});

/** A target's config as sent to `POST /api/targets` (defaults applied by parsing). */
export const targetConfigSchema = z.discriminatedUnion(
  'kind',
  [localTargetSchema, ftpTargetSchema, sftpTargetSchema, s3TargetSchema, azureTargetSchema],
  { error: `must be one of ${TARGET_KINDS.join(', ')}` },
);

export type LocalTargetConfig = z.output<typeof localTargetSchema>;
export type FtpTargetConfig = z.output<typeof ftpTargetSchema>;
export type SftpTargetConfig = z.output<typeof sftpTargetSchema>;
export type S3TargetConfig = z.output<typeof s3TargetSchema>;
export type AzureTargetConfig = z.output<typeof azureTargetSchema>;
/** A complete target config, credentials included (only the core holds one). */
export type TargetConfig = z.output<typeof targetConfigSchema>;
export type TargetConfigInput = z.input<typeof targetConfigSchema>;

/** What a stored target needs beyond its shape: credentials the kind cannot work without. */
export function missingCredential(config: TargetConfig): { field: string; message: string } | null {
  switch (config.kind) {
    case 'sftp':
      return config.password === undefined && config.privateKey === undefined
        ? { field: 'password', message: 'a password or a privateKey is required' }
        : null;
    case 's3':
      return config.secretAccessKey === undefined
        ? { field: 'secretAccessKey', message: 'is required' }
        : null;
    case 'azure':
      if (config.connectionString !== undefined) return null;
      if (config.accountName === undefined && config.accountUrl === undefined)
        return {
          field: 'connectionString',
          message: 'a connectionString, or an accountName or accountUrl with a sasToken, is required',
        };
      return config.sasToken === undefined
        ? { field: 'sasToken', message: 'is required with accountName or accountUrl' }
        : null;
    default:
      return null;
  }
}

/** A target as the API shows it: its config with every stored credential replaced by SECRET_MASK. */
export type TargetJson = TargetConfig & {
  id: string;
  /** Names of the credential fields that are stored (shown masked). */
  secrets: string[];
  /** Set when the stored credentials cannot be decrypted: they must be entered again. */
  credentialsError?: string;
  createdAt: number;
  updatedAt: number;
};

/** Steps of a target test, in order. */
export const TEST_STAGES = ['resolve', 'connect', 'authenticate', 'write', 'read', 'delete'] as const;
export type TestStage = (typeof TEST_STAGES)[number];

/**
 * What went wrong with a destination. `permanent` reasons need the user to act (a retry will not
 * help); the rest are transient.
 */
export const DESTINATION_REASONS = {
  dns: { permanent: true, text: 'host name does not resolve' },
  refused: { permanent: true, text: 'connection refused' },
  tls: { permanent: true, text: 'TLS certificate not trusted' },
  'host-key': { permanent: true, text: 'host key does not match' },
  auth: { permanent: true, text: 'authentication failed' },
  permission: { permanent: true, text: 'permission denied' },
  bucket: { permanent: true, text: 'bucket or container does not exist' },
  'not-found': { permanent: true, text: 'folder does not exist' },
  'no-space': { permanent: true, text: 'no space left' },
  config: { permanent: true, text: 'target settings are invalid' },
  source: { permanent: true, text: 'local file is missing' },
  timeout: { permanent: false, text: 'timed out' },
  reset: { permanent: false, text: 'connection lost' },
  unreachable: { permanent: false, text: 'network unreachable' },
  server: { permanent: false, text: 'server error' },
  checksum: { permanent: false, text: 'upload did not verify' },
  unknown: { permanent: false, text: 'unexpected error' },
} as const;
export type DestinationReason = keyof typeof DESTINATION_REASONS;

/** A destination error as the API and events show it. */
export interface DestinationFailure {
  stage: TestStage | 'upload' | 'verify';
  reason: DestinationReason;
  /** Needs the user to act; retried on the slow schedule only. */
  permanent: boolean;
  message: string;
}

/** `POST /api/targets/{id}/test`: write, read back and delete a probe file. */
export interface TargetTestResult {
  ok: boolean;
  steps: Array<{ stage: TestStage; ok: boolean; ms: number; message?: string }>;
  /** Set when a step failed: which one, why, and what the server said. */
  error?: DestinationFailure;
  /** What the server showed, to pin it in the target (SFTP host key, FTPS certificate). */
  details?: { hostKeyFingerprint?: string; certificateFingerprint?: string; url?: string };
}

export const DELIVERY_STATUSES = [
  'queued',
  'uploading',
  'retrying',
  'succeeded',
  'failed',
  'canceled',
] as const;
/** `retrying`: waiting for the next attempt; `failed`: gave up (retry window over) until retried by hand. */
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/** One file's upload to one target (`GET /api/deliveries`). */
export interface DeliveryJson {
  id: string;
  archiveId: string;
  targetId: string;
  targetName: string;
  targetKind: TargetKind;
  /** The file's path inside the archive folder. */
  file: string;
  fileKind: string;
  /** Where it goes: the rendered path template under the target's folder, bucket or container. */
  remotePath: string;
  /** Where it landed (no credentials), once succeeded. */
  url: string | null;
  size: number;
  /** Bytes stored at the target so far. */
  bytes: number;
  status: DeliveryStatus;
  attempts: number;
  /** When the next attempt runs (queued, retrying). */
  nextAttemptAt: number | null;
  /** Retries stop at this time (then `failed`). */
  deadlineAt: number;
  lastError: DestinationFailure | null;
  /** Multipart / block uploads: parts stored at the target and part uploads sent in all attempts. */
  parts: { total: number; stored: number; sent: number } | null;
  createdAt: number;
  updatedAt: number;
  finishedAt: number | null;
}

/** `GET /api/deliveries` query. */
export const deliveryQuerySchema = z.strictObject({
  archiveId: z.string().min(1).max(200).optional(),
  targetId: z.string().min(1).max(200).optional(),
  status: z.enum(DELIVERY_STATUSES).optional(),
  limit: z.coerce
    .number()
    .int('must be a whole number')
    .min(1, 'must be at least 1')
    .max(1000, 'must be at most 1000')
    .default(200),
});
export type DeliveryQuery = z.output<typeof deliveryQuerySchema>;
