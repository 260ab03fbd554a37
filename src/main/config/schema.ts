import { availableParallelism } from 'node:os';
import { z } from 'zod';

const port = z.coerce
  .number({ error: 'must be a port number' })
  .int('must be a whole number')
  .min(0, 'must be between 0 and 65535')
  .max(65535, 'must be between 0 and 65535');

/**
 * The longest a timer can wait (Node's timers hold 2^31 − 1 ms, ~24.8 days; a longer delay fires
 * at once): every duration the studio waits on with a timer is bounded by it.
 */
export const MAX_TIMER_SEC = Math.floor((2 ** 31 - 1) / 1000);
/** Durations the studio only compares with dates (retention, retry windows, limits): ten years. */
export const MAX_SPAN_SEC = 10 * 365 * 86_400;

const seconds = (min: number, max = MAX_TIMER_SEC) =>
  z.coerce
    .number({ error: 'must be a number of seconds' })
    .int('must be whole seconds')
    .min(min, `must be at least ${min}`)
    .max(max, `must be at most ${max}`);

const bytes = z.coerce
  .number({ error: 'must be a number of bytes' })
  .int('must be whole bytes')
  .min(0, 'must be at least 0');

/** `mediaWorkers: auto`: a worker per core but the main thread's, at least 1, at most 4. */
export function autoMediaWorkers(cores = availableParallelism()): number {
  return Math.min(4, Math.max(1, cores - 1));
}

const ipv4OrHost = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .regex(/^[A-Za-z0-9.:-]+$/, 'must be an IP address or host name');

const bool = z.preprocess(
  (v) => {
    if (typeof v !== 'string') return v;
    const s = v.trim().toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(s)) return true;
    if (['0', 'false', 'no', 'off'].includes(s)) return false;
    return v;
  },
  z.boolean({ error: 'must be true or false' }),
);

/** A list given as a JSON array (settings file) or comma-separated (environment variable). */
const list = <T extends z.ZodType>(item: T) =>
  z.preprocess(
    (v) =>
      typeof v === 'string'
        ? v
            .split(',')
            .map((s) => s.trim())
            .filter((s) => s !== '')
        : v,
    z.array(item),
  );

const nullableString = <T extends z.ZodString>(inner: T) =>
  z.preprocess((v) => (v === '' || v === 'null' ? null : v), inner.nullable());

/**
 * The studio's settings, as stored in `<data>/settings.json`. Each field can be overridden by
 * an environment variable `SPOOL_<FIELD>` (camelCase → SCREAMING_SNAKE, e.g. `SPOOL_API_KEY`).
 * Defaults are applied here and nowhere else.
 */
export const settingsSchema = z.strictObject({
  /** Version of this file's shape, for future migrations of settings. */
  schemaVersion: z.literal(1, { error: 'must be 1' }).default(1),
  /** Port of the plain HTTP listener (API, operator UI). 0 picks a free port. */
  httpPort: port.default(7480),
  /** Address the plain HTTP listener binds to. Loopback by default. */
  bindAddress: ipv4OrHost.default('127.0.0.1'),
  /** LAN address for guests: when set, an HTTPS listener with a self-signed certificate binds here. */
  lanAddress: nullableString(ipv4OrHost).default(null),
  /** Further host names the studio answers to (Host header), e.g. a DNS name of this machine. */
  allowedHosts: list(ipv4OrHost).default([]),
  /** Further origins allowed to call the API from a browser (e.g. a renderer dev server). */
  allowedOrigins: list(
    z.string().regex(/^https?:\/\/[^/\s]+$/, 'must be origins like http://host:port'),
  ).default([]),
  /** Failed operator logins (and partner-auth headers) per client and minute before 429. */
  loginFailuresPerMinute: seconds(1).default(5),
  /** Port of the HTTPS listener on `lanAddress`. 0 picks a free port. */
  httpsPort: port.default(7443),
  /** OpenTok-compatible API key (generated on first run). */
  apiKey: z.string().regex(/^[A-Za-z0-9_-]{4,64}$/, 'must be 4 to 64 letters, digits, "-" or "_"'),
  /** API secret that signs project JWTs (generated on first run). */
  apiSecret: z.string().min(16, 'must be at least 16 characters'),
  /** Password of the operator UI (generated on first run and printed by the headless command). */
  operatorPassword: z.string().min(8, 'must be at least 8 characters'),
  /** User name of the protected file server's HTTP Basic auth. */
  filesUser: z
    .string()
    .min(1, 'must not be empty')
    .max(64, 'must be at most 64 characters')
    .regex(/^[^:\s]+$/, 'must not contain ":" or spaces')
    .default('spool'),
  /** Password of the protected file server's HTTP Basic auth (generated on first run). */
  filesPassword: z.string().min(8, 'must be at least 8 characters'),
  /** ffmpeg binary to use before `ffmpeg-static`, `FFMPEG_PATH` and `PATH`. */
  ffmpegPath: nullableString(z.string()).default(null),
  /** Longest recorded time of one archive (OpenTok: 4 h). */
  maxDurationSec: seconds(1, MAX_SPAN_SEC).default(4 * 3600),
  /** Longest total time of one archive including pauses (OpenTok: 12 h). */
  maxTotalSec: seconds(1, MAX_SPAN_SEC).default(12 * 3600),
  /** An archive with nothing published for this long stops (OpenTok: 1 h). */
  idleTimeoutSec: seconds(1, MAX_SPAN_SEC).default(3600),
  /** A session ends this long after its last connection leaves. */
  sessionGraceSec: seconds(0).default(10),
  /** A WHIP offer whose peer has not connected after this long gives its slot back. */
  whipConnectTimeoutSec: seconds(1).default(30),
  /** An automatic archive stops this long after the last client leaves (OpenTok: 60 s). */
  autoArchiveStopSec: seconds(0).default(60),
  /** An archive with nothing published this long after its start stops (OpenTok: 60 s). */
  archiveNoStreamTimeoutSec: seconds(1).default(60),
  /** Lifetime of signed download links (archive `url`, file links), in seconds (OpenTok: 10 min). */
  signedLinkTtlSec: seconds(1, MAX_SPAN_SEC).default(600),
  /** Keyframe request (PLI) interval while recording, in seconds. */
  keyframeIntervalSec: seconds(1).default(10),
  /** Overlap of consecutive automatic archives when they roll over, in seconds. */
  autoArchiveOverlapSec: seconds(0).default(5),
  /** Composition jobs run at once (ffmpeg uses every core already). */
  compositionConcurrency: seconds(1).default(1),
  /**
   * Composed archives are rendered while they record, in chunks of this many seconds of output
   * (docs/composition.md); 0 renders them after stop instead.
   */
  liveCompositionChunkSec: seconds(0).default(6),
  /** Uploads run at once across all targets. */
  deliveryConcurrency: seconds(1).default(2),
  /** How long a failing delivery is retried before it gives up (OpenTok: 72 h). */
  deliveryRetryWindowSec: seconds(1, MAX_SPAN_SEC).default(72 * 3600),
  /** First retry delay of a failed delivery; doubles each attempt (with jitter). */
  deliveryBackoffBaseSec: seconds(0).default(10),
  /** Longest delay between two delivery attempts. */
  deliveryBackoffMaxSec: seconds(1).default(3600),
  /** When a delivery gives up: keep the archive `available` locally (true) or mark it `failed`. */
  storageFallback: bool.default(true),
  /** Remove local files of uploaded archives after `retentionSec` (then `expired`). */
  retentionEnabled: bool.default(false),
  /** Local retention of uploaded archives, in seconds (72 h). */
  retentionSec: seconds(0, MAX_SPAN_SEC).default(72 * 3600),
  /** Webhook receivers may be on loopback or private addresses (a receiver on this machine or the LAN). */
  webhooksAllowPrivateNetwork: bool.default(false),
  /** Also remove local archives never uploaded (no delivery) after `localRetentionSec` (then `expired`). */
  localRetentionEnabled: bool.default(false),
  /** Local retention of archives that were never uploaded, in seconds (30 days). */
  localRetentionSec: seconds(0, MAX_SPAN_SEC).default(30 * 86_400),
  /** First retry delay of a failed webhook POST; doubles each attempt (with jitter). */
  webhookBackoffBaseSec: seconds(0).default(5),
  /** Longest delay between two webhook attempts. */
  webhookBackoffMaxSec: seconds(1).default(3600),
  /** How long a webhook message is retried before it is marked failed. */
  webhookRetryWindowSec: seconds(1, MAX_SPAN_SEC).default(72 * 3600),
  /**
   * Events (the outbox of webhooks and deliveries) older than this are pruned, in seconds
   * (30 days); an event a webhook or the delivery queue has not handled yet is always kept.
   */
  eventRetentionSec: seconds(3600, MAX_SPAN_SEC).default(30 * 86_400),
  /** At most this many events are kept (the oldest handled ones go first). */
  eventRetentionMaxRows: z.coerce
    .number({ error: 'must be a number of events' })
    .int('must be a whole number')
    .min(1000, 'must be at least 1000')
    .default(1_000_000),
  /**
   * Warn (event + banner) when the data folder's disk has less free space than this, or than
   * 15 minutes of recording at the current write rate if that is more.
   */
  diskWarnBytes: bytes.default(2 * 1024 ** 3),
  /** Below this much free space archives stop (`failure`, "disk full") and new ones are refused. */
  diskFloorBytes: bytes.default(500 * 1024 ** 2),
  /** A file kept in the data folder and deleted when the disk fills, so the database can still write. */
  diskReserveBytes: bytes.default(16 * 1024 ** 2),
  /** How often the free space is checked, in milliseconds. */
  diskCheckIntervalMs: bytes
    .min(100, 'must be at least 100')
    .max(3_600_000, 'must be at most 3600000 (an hour)')
    .default(2000),
  /** Bytes of recorded media that may wait for a slow disk before frames are dropped (whole frames, up to the next keyframe). */
  recordingQueueBytes: bytes.min(1024 * 1024, 'must be at least 1 MB').default(64 * 1024 ** 2),
  /**
   * Media worker threads (docs/threads.md): `auto` (the default) is one per core but the main
   * thread's, at least 1 and at most 4 (each idle worker costs ~30 MB); N starts N; 0 keeps the
   * media plane on the main thread (the app's window and API then share a thread with the media).
   */
  mediaWorkers: z.preprocess(
    (v) => (typeof v === 'string' && v.trim().toLowerCase() === 'auto' ? autoMediaWorkers() : v),
    z.coerce
      .number({ error: 'must be auto or a number of worker threads' })
      .int('must be auto or a whole number')
      .min(0, 'must be auto or between 0 and 64')
      .max(64, 'must be auto or between 0 and 64')
      .default(autoMediaWorkers),
  ),
  /**
   * Where media workers host peers: `room` keeps a room on one worker; `spread` puts each
   * connection on the least-loaded worker (streams then cross workers: tests and benches).
   */
  mediaWorkerPlacement: z.enum(['room', 'spread'], { error: 'must be room or spread' }).default('room'),
  /**
   * With `room` placement, a room's worker hosting this many connections (of all rooms), or busy
   * 70 % of the time, is full: the room's new connections go to a less-loaded worker (spill).
   * 0: only the busy share counts.
   */
  mediaWorkerSpillPeers: z.coerce
    .number({ error: 'must be a number of connections' })
    .int('must be a whole number')
    .min(0, 'must be 0 or more')
    .default(50),
  /** Logging level: fatal, error, warn, info, debug, trace or silent. */
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type Settings = z.output<typeof settingsSchema>;
export type SettingsField = keyof Settings;

/** Fields generated on first run and saved to the settings file. */
export const GENERATED_FIELDS = ['apiKey', 'apiSecret', 'operatorPassword', 'filesPassword'] as const;

/** Fields never shown by the API or written to logs. */
export const SECRET_FIELDS: ReadonlySet<SettingsField> = new Set([
  'apiSecret',
  'operatorPassword',
  'filesPassword',
]);

/** Fields only the settings file or the environment may set, never the HTTP API (they run programs). */
export const FILE_ONLY_FIELDS: ReadonlySet<SettingsField> = new Set(['ffmpegPath']);

/** `apiKey` → `SPOOL_API_KEY`. */
export function envNameOf(field: string): string {
  return `SPOOL_${field.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()}`;
}
