/**
 * Compositions API (studio resources beside the OpenTok API): a composition mixes an archive's
 * recording files into one playable file, as Twilio compositions do; composition hooks are
 * templates applied to every archive that stops.
 */
import { z } from 'zod';
import { DEFAULT_LAYOUT, normalizeLayout, sourcePatternSchema, type Layout, type Size } from './layout';

export const COMPOSITION_STATUSES = ['enqueued', 'processing', 'completed', 'failed', 'deleted'] as const;
export type CompositionStatus = (typeof COMPOSITION_STATUSES)[number];

export const COMPOSITION_FORMATS = ['mp4', 'webm'] as const;
export type CompositionFormat = (typeof COMPOSITION_FORMATS)[number];

export const COMPOSITION_VIDEO_CODECS = ['h264', 'vp8', 'vp9'] as const;
export type CompositionVideoCodec = (typeof COMPOSITION_VIDEO_CODECS)[number];

/** `archive`: the composed archive's `archive.mp4`; `composition`: one made through the API or a hook. */
export type CompositionKind = 'composition' | 'archive';

/** OpenTok's resolutions; custom even sizes up to 1920 per side are accepted too. */
export const resolutionSchema = z
  .string({ error: 'must be a resolution like 1280x720' })
  .regex(/^\d{2,4}x\d{2,4}$/, 'must look like 1280x720')
  .refine((value) => {
    const { width, height } = sizeOfResolution(value);
    return width % 2 === 0 && height % 2 === 0;
  }, 'must have even width and height (video is stored in 2×2 chroma blocks)')
  .refine((value) => {
    const { width, height } = sizeOfResolution(value);
    return width >= 16 && height >= 16 && width <= 1920 && height <= 1920;
  }, 'must be between 16 and 1920 pixels per side (e.g. 640x480, 1280x720, 1920x1080, 1080x1920)');

/** `"1280x720"` → `{ width: 1280, height: 720 }`. */
export function sizeOfResolution(resolution: string): Size {
  const [width, height] = resolution.split('x').map(Number) as [number, number];
  return { width, height };
}

const patterns = z
  .array(sourcePatternSchema, { error: 'must be a list of source patterns' })
  .max(50, 'must list at most 50 patterns');

/** The settings of a composition (and of the compositions a hook creates). */
const specShape = {
  /** Patterns of the sources whose audio is mixed (default: every source). */
  audioSources: patterns.default(['*']),
  /** Patterns of sources whose audio is left out. */
  audioSourcesExcluded: patterns.default([]),
  /** The video layout: a preset name, a layout object, OpenTok layout JSON or Twilio regions. */
  videoLayout: z.unknown().optional(),
  /** Output size (default 640x480, OpenTok's default). */
  resolution: resolutionSchema.default('640x480'),
  /** Container: mp4 (H.264 + AAC) or webm (VP8 or VP9 + Opus). */
  format: z.enum(COMPOSITION_FORMATS, { error: 'must be mp4 or webm' }).default('mp4'),
  /** Video codec; default h264 for mp4, vp8 for webm. */
  videoCodec: z.enum(COMPOSITION_VIDEO_CODECS, { error: 'must be h264, vp8 or vp9' }).optional(),
  /** Cut the leading and trailing stretches with no source (Twilio's `trim`, default true). */
  trim: z.boolean({ error: 'must be true or false' }).default(true),
  /** Video bitrate cap in bits per second (OpenTok's range). */
  maxBitrate: z
    .number({ error: 'must be a number of bits per second' })
    .int('must be whole bits per second')
    .min(100_000, 'must be at least 100000')
    .max(6_000_000, 'must be at most 6000000')
    .nullable()
    .optional(),
};

/** A composition's settings after validation: the layout is in the model's form. */
export interface CompositionSpec {
  audioSources: string[];
  audioSourcesExcluded: string[];
  videoLayout: Layout;
  resolution: string;
  format: CompositionFormat;
  videoCodec: CompositionVideoCodec;
  trim: boolean;
  maxBitrate: number | null;
}

interface RawSpec {
  audioSources: string[];
  audioSourcesExcluded: string[];
  videoLayout?: unknown;
  resolution: string;
  format: CompositionFormat;
  videoCodec?: CompositionVideoCodec | undefined;
  trim: boolean;
  maxBitrate?: number | null | undefined;
}

/** Checks what depends on several fields (layout against the canvas, codec against container). */
function finishSpec(raw: RawSpec, ctx: z.RefinementCtx): CompositionSpec {
  const canvas = sizeOfResolution(raw.resolution);
  const result = normalizeLayout(raw.videoLayout ?? DEFAULT_LAYOUT, canvas);
  if ('issues' in result) {
    for (const issue of result.issues) {
      ctx.addIssue({ code: 'custom', path: ['videoLayout', ...issue.path], message: issue.message });
    }
    return z.NEVER;
  }
  const videoCodec = raw.videoCodec ?? (raw.format === 'mp4' ? 'h264' : 'vp8');
  if (raw.format === 'mp4' && videoCodec !== 'h264') {
    ctx.addIssue({
      code: 'custom',
      path: ['videoCodec'],
      message: 'mp4 compositions are H.264 (use format webm for vp8/vp9)',
    });
    return z.NEVER;
  }
  if (raw.format === 'webm' && videoCodec === 'h264') {
    ctx.addIssue({
      code: 'custom',
      path: ['videoCodec'],
      message: 'webm compositions are vp8 or vp9 (use format mp4 for h264)',
    });
    return z.NEVER;
  }
  return {
    audioSources: raw.audioSources,
    audioSourcesExcluded: raw.audioSourcesExcluded,
    videoLayout: result.layout,
    resolution: raw.resolution,
    format: raw.format,
    videoCodec,
    trim: raw.trim,
    maxBitrate: raw.maxBitrate ?? null,
  };
}

/** `POST /api/compositions` body. */
export const createCompositionSchema = z
  .strictObject({
    archiveId: z.string({ error: 'is required: the archive to compose' }).min(1, 'is required').max(64),
    ...specShape,
  })
  .transform((body, ctx) => ({ archiveId: body.archiveId, spec: finishSpec(body, ctx) }));
export type CreateComposition = z.input<typeof createCompositionSchema>;

/** The settings of a composition as the composed-archive job and tests build them. */
export const compositionSpecSchema = z
  .strictObject(specShape)
  .transform((body, ctx) => finishSpec(body, ctx));

/** `GET /api/compositions` query. */
const listTime = z.union([
  z.coerce.number().int().nonnegative(),
  z.iso.datetime({ offset: true }).transform((v) => Date.parse(v)),
]);

export const listCompositionsSchema = z.strictObject({
  archiveId: z.string().min(1).max(64).optional(),
  /** The room of the composed archive. */
  roomId: z.string().min(1).max(64).optional(),
  /** Created at or after / before: ms since the epoch or an ISO date. */
  createdFrom: listTime.optional(),
  createdTo: listTime.optional(),
  status: z
    .enum(COMPOSITION_STATUSES, { error: `must be one of ${COMPOSITION_STATUSES.join(', ')}` })
    .optional(),
  offset: z.coerce.number().int().min(0).default(0),
  count: z.coerce.number().int().min(1).max(1000).default(100),
});

/** A composition as the API shows it. */
export interface CompositionJson extends CompositionSpec {
  id: string;
  archiveId: string;
  roomId: string;
  kind: CompositionKind;
  /** The hook that created it, if one did. */
  hookId: string | null;
  status: CompositionStatus;
  /** Percent done while processing (100 when completed). */
  progress: number;
  /** The media file, relative to the archive's folder, once completed. */
  filename: string | null;
  /** Bytes of the media file. */
  size: number;
  /** Seconds of media. */
  duration: number;
  /** Why it failed, when it did. */
  error: string | null;
  createdAt: number;
  startedAt: number | null;
  completedAt: number | null;
  updatedAt: number;
  /** Where to download the media (operator credentials). */
  mediaUrl: string;
}

/** `POST /api/composition-hooks` body. */
export const createCompositionHookSchema = z
  .strictObject({
    friendlyName: z
      .string({ error: 'is required' })
      .trim()
      .min(1, 'must not be empty')
      .max(100, 'must be at most 100 characters'),
    enabled: z.boolean({ error: 'must be true or false' }).default(true),
    /** Only archives of this room; null: every archive. */
    roomId: z.string().min(1).max(64).nullable().default(null),
    ...specShape,
  })
  .transform((body, ctx) => ({
    friendlyName: body.friendlyName,
    enabled: body.enabled,
    roomId: body.roomId,
    spec: finishSpec(body, ctx),
  }));
export type CreateCompositionHook = z.input<typeof createCompositionHookSchema>;

/** `PATCH /api/composition-hooks/{id}` body: any subset of the fields. */
export const updateCompositionHookSchema = z.strictObject({
  friendlyName: z
    .string()
    .trim()
    .min(1, 'must not be empty')
    .max(100, 'must be at most 100 characters')
    .optional(),
  enabled: z.boolean({ error: 'must be true or false' }).optional(),
  roomId: z.string().min(1).max(64).nullable().optional(),
  audioSources: patterns.optional(),
  audioSourcesExcluded: patterns.optional(),
  videoLayout: z.unknown().optional(),
  resolution: resolutionSchema.optional(),
  format: z.enum(COMPOSITION_FORMATS, { error: 'must be mp4 or webm' }).optional(),
  videoCodec: z.enum(COMPOSITION_VIDEO_CODECS, { error: 'must be h264, vp8 or vp9' }).optional(),
  trim: z.boolean({ error: 'must be true or false' }).optional(),
  maxBitrate: specShape.maxBitrate,
});

/** A composition hook as the API shows it. */
export interface CompositionHookJson extends CompositionSpec {
  id: string;
  friendlyName: string;
  enabled: boolean;
  roomId: string | null;
  createdAt: number;
  updatedAt: number;
}
