/** Request bodies of the OpenTok-compatible archive API (and the studio's extra options). */
import { z } from 'zod';

/** A composed archive's resolution (also `archiveResolution` of `POST /session/create`). */
export const archiveResolutionSchema = z
  .string()
  .regex(/^\d{2,4}x\d{2,4}$/, 'must look like 1280x720')
  .refine((v) => {
    const [w, h] = v.split('x').map(Number) as [number, number];
    return w % 2 === 0 && h % 2 === 0 && w >= 16 && h >= 16 && w <= 1920 && h <= 1920;
  }, 'must be even sizes of at most 1920 per side (e.g. 640x480, 1280x720, 1920x1080, 720x1280)');

/** `POST /v2/project/{apiKey}/archive`. */
export const startArchiveSchema = z.strictObject({
  /** The OpenTok session id: the room id. */
  sessionId: z.string().min(1, 'is required').max(64),
  name: z.string().max(200, 'must be at most 200 characters').nullable().optional(),
  hasAudio: z.boolean().optional(),
  hasVideo: z.boolean().optional(),
  outputMode: z.enum(['composed', 'individual']).optional(),
  streamMode: z.enum(['auto', 'manual']).optional(),
  resolution: archiveResolutionSchema.optional(),
  /** OpenTok's layout object or the studio's regions (checked against the resolution). */
  layout: z.unknown().optional(),
  multiArchiveTag: z.string().min(1).max(100).optional(),
  maxBitrate: z
    .number()
    .int('must be whole bits per second')
    .min(100_000, 'must be at least 100000')
    .max(6_000_000, 'must be at most 6000000')
    .optional(),
  /** Studio: container of the individual files. */
  format: z.enum(['webm', 'mp4']).optional(),
  /** Studio: split output every N seconds, cut at keyframes. */
  splitDuration: z
    .number()
    .int('must be whole seconds')
    .min(5, 'must be at least 5 seconds')
    .max(86_400)
    .optional(),
  /** Studio: write only the split files. */
  splitOnly: z.boolean().optional(),
  /** Studio: when the local files are removed (ms since the epoch, or an ISO date). */
  expireTime: z.union([z.number().int().positive(), z.iso.datetime({ offset: true })]).optional(),
  /** Studio: free metadata copied into the manifest (as Sora's recording metadata). */
  recordingMetadata: z.unknown().optional(),
  /** Accepted for compatibility and ignored: the studio records at source quality. */
  quantizationParameter: z.number().optional(),
});
export type StartArchive = z.output<typeof startArchiveSchema>;

/** `PATCH /v2/project/{apiKey}/archive/{id}/streams`. */
export const patchArchiveStreamsSchema = z
  .strictObject({
    addStream: z.string().min(1).max(64).optional(),
    removeStream: z.string().min(1).max(64).optional(),
    hasAudio: z.boolean().optional(),
    hasVideo: z.boolean().optional(),
  })
  .refine((b) => (b.addStream === undefined) !== (b.removeStream === undefined), {
    message: 'give exactly one of addStream or removeStream',
    path: ['addStream'],
  });

const STATUSES = ['started', 'paused', 'stopped', 'available', 'uploaded', 'failed', 'expired'] as const;
const time = z.union([
  z.coerce.number().int().nonnegative(),
  z.iso.datetime({ offset: true }).transform((v) => Date.parse(v)),
]);

/** `GET /api/archives`: the studio's archive list with filters. */
export const archiveSearchSchema = z.strictObject({
  offset: z.coerce.number().int('must be a whole number').min(0).max(1_000_000).default(0),
  count: z.coerce.number().int('must be a whole number').min(1).max(1000).default(50),
  /** One status or several, comma-separated: `available,uploaded`. */
  status: z
    .string()
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== ''),
    )
    .pipe(z.array(z.enum(STATUSES, { error: `must be statuses among ${STATUSES.join(', ')}` })))
    .optional(),
  /** The room (OpenTok session id). */
  roomId: z.string().min(1).max(64).optional(),
  /** Created at or after: ms since the epoch or an ISO date. */
  createdFrom: time.optional(),
  /** Created before: ms since the epoch or an ISO date. */
  createdTo: time.optional(),
});

/** `POST /api/archives/delete`: bulk delete. */
export const deleteArchivesSchema = z.strictObject({
  ids: z.array(z.string().min(1).max(64)).min(1, 'must list at least one archive').max(1000),
});

/** One archive's answer in a bulk delete. */
export interface BulkDeleteResult {
  id: string;
  deleted: boolean;
  /** Why not, when not (e.g. still recording). */
  error?: string;
}
