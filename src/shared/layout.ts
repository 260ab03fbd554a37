/**
 * The layout model of compositions, shared by the composer (main) and the layout editor
 * (renderer): OpenTok's predefined layouts, Twilio-style regions, source patterns, validation,
 * and `computeTiles`, the one function that says where each source goes on the canvas.
 * No Node imports: this file runs in the renderer too.
 */
import { z } from 'zod';
import type { VideoType } from './archive';
import { parseWith } from './validation';

/** A width and a height in pixels. */
export interface Size {
  width: number;
  height: number;
}

/** A rectangle on the canvas, in pixels from the top-left corner. */
export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export const LAYOUT_PRESETS = [
  'bestFit',
  'pip',
  'verticalPresentation',
  'horizontalPresentation',
  'focus',
] as const;
/** Predefined layouts: OpenTok's four, plus `focus` (the focused sources fill the canvas). */
export type LayoutPreset = (typeof LAYOUT_PRESETS)[number];

export const REUSE_MODES = ['none', 'show_oldest', 'show_newest'] as const;
/**
 * What a region does when more sources match than it has cells (Twilio's `reuse`): `none` gives
 * each source the cell of its arrival rank and never hands a cell to another source, so late
 * sources are not shown and a leaving source leaves its cell empty; `show_oldest` shows the
 * oldest sources present; `show_newest` the newest.
 */
export type ReuseMode = (typeof REUSE_MODES)[number];

/** One Twilio-style region: a rectangle holding a grid of cells, filled by matching sources. */
export interface LayoutRegion {
  x_pos: number;
  y_pos: number;
  /** Default: to the right edge of the canvas. */
  width?: number;
  /** Default: to the bottom edge of the canvas. */
  height?: number;
  /** Stacking order: higher regions are drawn over lower ones. */
  z_pos: number;
  /** With `max_rows`, a fixed grid; alone, an upper bound of the best-fit grid. */
  max_columns?: number;
  max_rows?: number;
  /** Cells of the fixed grid left empty, numbered left to right, top to bottom, from 0. */
  cells_excluded: number[];
  reuse: ReuseMode;
  /** Source patterns (see `parseSourcePattern`) of the sources this region shows. */
  video_sources: string[];
  /** Source patterns of sources this region never shows. */
  video_sources_excluded: string[];
}

/** A predefined layout. */
export interface PresetLayout {
  type: LayoutPreset;
  /**
   * Which sources take the large area of pip, presentation and focus layouts (patterns). Default:
   * sources with the OpenTok layout class `focus` (or `full`), else screen shares, else the
   * oldest source.
   */
  focus?: string[];
  /** OpenTok: with `bestFit`, the layout used while a screen share is shown. */
  screenshareType?: Exclude<LayoutPreset, 'focus'>;
}

/**
 * Regions keyed by name, drawn by `z_pos` (Twilio's `video_layout`), or an OpenTok custom
 * stylesheet, whose percentages become regions for the canvas at hand. Exactly one is set.
 */
export interface CustomLayout {
  type: 'custom';
  regions?: Record<string, LayoutRegion>;
  stylesheet?: string;
}

export type Layout = PresetLayout | CustomLayout;

/** The layout of an archive nobody chose a layout for (OpenTok's default). */
export const DEFAULT_LAYOUT: Layout = { type: 'bestFit' };

/** A video source a layout places: one recording file (or a live stream in the preview). */
export interface LayoutSource {
  /** Unique key of the source (the file name in compositions, the stream id in the preview). */
  id: string;
  streamId: string;
  connectionData?: string;
  videoType?: VideoType | null;
  /** OpenTok layout classes (`layoutClassList`), e.g. `focus`. */
  classes?: readonly string[];
  /** When the source arrived (ms on the archive timeline): the order of the grid and of `reuse`. */
  since: number;
  /** Breaks ties between sources that arrived at the same time (e.g. the manifest's order). */
  order?: number;
  /**
   * The source has left. Pass sources that left only so that `reuse: none` keeps their cells
   * empty; they never get a tile.
   */
  left?: boolean;
}

/** Where one source is drawn. The source is scaled to fit inside, letterboxed. */
export interface Tile extends Rect {
  sourceId: string;
  /** The region (custom layouts) or the part of a preset (`grid`, `large`, `small`). */
  region: string;
  /** Stacking order: higher tiles are drawn over lower ones. */
  z: number;
}

// ---- source patterns ------------------------------------------------------------------------

const VIDEO_TYPES = ['camera', 'screen', 'custom'] as const;

/**
 * A parsed source pattern. Patterns: `*` (every source); `stream:<glob>` (stream id);
 * `data:<glob>` (connection data); `type:camera|screen|custom`; `class:<name>` (OpenTok layout
 * class); a bare `<glob>` matches the stream id. Globs use `*` (any run) and `?` (one character).
 */
export type SourcePattern =
  | { kind: 'all' }
  | { kind: 'stream' | 'data'; glob: string }
  | { kind: 'type'; videoType: VideoType }
  | { kind: 'class'; name: string };

/**
 * Whether `text` matches a glob of `*` (any run, also empty) and `?` (one character), in
 * O(glob × text) time at worst: never a regular expression built from user input, whose
 * backtracking grows exponentially with the number of stars. On a mismatch after a star, the
 * star absorbs one more character and matching resumes there; earlier stars never need to be
 * revisited, because a later star can absorb anything an earlier one could.
 */
export function wildcardMatch(glob: string, text: string): boolean {
  let g = 0;
  let t = 0;
  let star = -1;
  let resume = 0;
  while (t < text.length) {
    const c = glob[g];
    if (c === '*') {
      star = g++;
      resume = t;
    } else if (g < glob.length && (c === '?' || c === text[t])) {
      g++;
      t++;
    } else if (star >= 0) {
      g = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (glob[g] === '*') g++;
  return g === glob.length;
}

const PATTERN_HELP = 'use *, stream:<glob>, data:<glob>, type:camera|screen|custom or class:<name>';

/** Parses a source pattern, or returns why it is not one. */
export function parseSourcePattern(pattern: string): SourcePattern | { error: string } {
  if (pattern === '*') return { kind: 'all' };
  if (pattern.trim() === '') return { error: `a source pattern must not be empty (${PATTERN_HELP})` };
  const colon = pattern.indexOf(':');
  if (colon < 0) return { kind: 'stream', glob: pattern };
  const prefix = pattern.slice(0, colon);
  const rest = pattern.slice(colon + 1);
  switch (prefix) {
    case 'stream':
    case 'data':
      if (rest === '') return { error: `source pattern "${pattern}" has nothing after "${prefix}:"` };
      return { kind: prefix, glob: rest };
    case 'type':
      if (!(VIDEO_TYPES as readonly string[]).includes(rest)) {
        return {
          error: `unknown video type in source pattern "${pattern}" (use type:camera, type:screen or type:custom)`,
        };
      }
      return { kind: 'type', videoType: rest as VideoType };
    case 'class':
      if (!/^[A-Za-z0-9_-]+$/.test(rest)) {
        return { error: `source pattern "${pattern}" needs a class name of letters, digits, "-" or "_"` };
      }
      return { kind: 'class', name: rest };
    default:
      return { error: `unknown source pattern "${pattern}" (${PATTERN_HELP})` };
  }
}

const patternCache = new Map<string, SourcePattern | null>();

function compiled(pattern: string): SourcePattern | null {
  let parsed = patternCache.get(pattern);
  if (parsed === undefined) {
    const result = parseSourcePattern(pattern);
    parsed = 'error' in result ? null : result;
    if (patternCache.size > 1000) patternCache.clear();
    patternCache.set(pattern, parsed);
  }
  return parsed;
}

/** Whether a source matches a pattern (an invalid pattern matches nothing). */
export function matchesPattern(pattern: string, source: Omit<LayoutSource, 'since' | 'id'>): boolean {
  const parsed = compiled(pattern);
  if (parsed === null) return false;
  switch (parsed.kind) {
    case 'all':
      return true;
    case 'stream':
      return wildcardMatch(parsed.glob, source.streamId);
    case 'data':
      return wildcardMatch(parsed.glob, source.connectionData ?? '');
    case 'type':
      return (source.videoType ?? 'camera') === parsed.videoType;
    case 'class':
      return source.classes?.includes(parsed.name) ?? false;
  }
}

/** Whether a source matches any of the patterns. */
export function matchesAny(patterns: readonly string[], source: Omit<LayoutSource, 'since' | 'id'>): boolean {
  return patterns.some((p) => matchesPattern(p, source));
}

/** A zod schema of one source pattern, with an error that names what is wrong with it. */
export const sourcePatternSchema = z
  .string({ error: 'must be a source pattern string' })
  .max(200, 'must be at most 200 characters')
  .superRefine((value, ctx) => {
    const parsed = parseSourcePattern(value);
    if ('error' in parsed) ctx.addIssue({ code: 'custom', message: parsed.error });
  });

// ---- parsing and validation -----------------------------------------------------------------

/** A problem with a layout value: where (path inside the value) and what. */
export interface LayoutIssue {
  path: Array<string | number>;
  message: string;
}

const int = (what: string) => z.number({ error: `must be ${what}` }).int(`must be a whole number (${what})`);

const regionSchema = z
  .strictObject({
    x_pos: int('pixels from the left edge').min(0, 'must be at least 0').default(0),
    y_pos: int('pixels from the top edge').min(0, 'must be at least 0').default(0),
    width: int('a width in pixels').min(2, 'must be at least 2').optional(),
    height: int('a height in pixels').min(2, 'must be at least 2').optional(),
    z_pos: int('a stacking order').min(-99, 'must be at least -99').max(99, 'must be at most 99').default(0),
    max_columns: int('a number of columns')
      .min(1, 'must be at least 1')
      .max(16, 'must be at most 16')
      .optional(),
    max_rows: int('a number of rows').min(1, 'must be at least 1').max(16, 'must be at most 16').optional(),
    cells_excluded: z.array(int('a cell index').min(0, 'must be at least 0')).max(256).default([]),
    reuse: z.enum(REUSE_MODES, { error: 'must be none, show_oldest or show_newest' }).default('show_oldest'),
    video_sources: z
      .array(sourcePatternSchema, { error: 'must be a list of source patterns' })
      .min(1, 'must list at least one source pattern (e.g. "*")')
      .max(50, 'must list at most 50 patterns'),
    video_sources_excluded: z
      .array(sourcePatternSchema, { error: 'must be a list of source patterns' })
      .max(50, 'must list at most 50 patterns')
      .default([]),
  })
  .superRefine((region, ctx) => {
    for (const key of ['width', 'height'] as const) {
      const value = region[key];
      if (value !== undefined && value % 2 !== 0) {
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: `must be even (got ${value}): video is stored in 2×2 chroma blocks`,
        });
      }
    }
    if (
      region.cells_excluded.length > 0 &&
      (region.max_columns === undefined || region.max_rows === undefined)
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['cells_excluded'],
        message: 'needs max_columns and max_rows: cells are numbered in a fixed grid',
      });
    }
  });

const regionName = /^[A-Za-z0-9_-]{1,64}$/;

const presetSchema = z.strictObject({
  type: z.enum(LAYOUT_PRESETS),
  focus: z
    .array(sourcePatternSchema, { error: 'must be a list of source patterns' })
    .min(1, 'must list at least one source pattern')
    .max(50)
    .optional(),
  screenshareType: z
    .enum(['bestFit', 'pip', 'verticalPresentation', 'horizontalPresentation'], {
      error: 'must be bestFit, pip, verticalPresentation or horizontalPresentation',
    })
    .optional(),
  // OpenTok SDKs send an empty stylesheet with predefined layouts.
  stylesheet: z.literal('', { error: 'is only allowed with type "custom"' }).optional(),
});

function zodIssues(error: z.ZodError, prefix: Array<string | number>): LayoutIssue[] {
  return error.issues.map((issue) => {
    const path = [...prefix, ...issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))];
    // Name the unknown field itself, as parseWith does for request bodies.
    if (issue.code === 'unrecognized_keys')
      return { path: [...path, issue.keys[0]!], message: 'is not a known field' };
    return { path, message: issue.message };
  });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseRegions(
  value: unknown,
  prefix: Array<string | number>,
): Record<string, LayoutRegion> | LayoutIssue[] {
  if (!isRecord(value)) {
    return [{ path: prefix, message: 'must be an object of regions keyed by name, e.g. {"main": {…}}' }];
  }
  const names = Object.keys(value);
  if (names.length === 0) return [{ path: prefix, message: 'must define at least one region' }];
  if (names.length > 32) return [{ path: prefix, message: 'must define at most 32 regions' }];
  const regions: Record<string, LayoutRegion> = {};
  const issues: LayoutIssue[] = [];
  for (const name of names) {
    if (!regionName.test(name)) {
      issues.push({
        path: [...prefix, name],
        message: 'region names are 1 to 64 letters, digits, "-" or "_"',
      });
      continue;
    }
    const parsed = regionSchema.safeParse(value[name]);
    if (!parsed.success) issues.push(...zodIssues(parsed.error, [...prefix, name]));
    else regions[name] = parsed.data;
  }
  return issues.length > 0 ? issues : regions;
}

function checkRegionsFit(
  regions: Record<string, LayoutRegion>,
  canvas: Size,
  prefix: Array<string | number>,
): LayoutIssue[] {
  const issues: LayoutIssue[] = [];
  for (const [name, region] of Object.entries(regions)) {
    const at = [...prefix, name];
    const where = `the ${canvas.width}x${canvas.height} canvas`;
    if (region.x_pos >= canvas.width) {
      issues.push({
        path: [...at, 'x_pos'],
        message: `region "${name}" starts outside ${where} (x_pos ${region.x_pos})`,
      });
      continue;
    }
    if (region.y_pos >= canvas.height) {
      issues.push({
        path: [...at, 'y_pos'],
        message: `region "${name}" starts outside ${where} (y_pos ${region.y_pos})`,
      });
      continue;
    }
    if (region.width !== undefined && region.x_pos + region.width > canvas.width) {
      issues.push({
        path: [...at, 'width'],
        message: `region "${name}" reaches outside ${where}: x_pos ${region.x_pos} + width ${region.width} > ${canvas.width}`,
      });
    }
    if (region.height !== undefined && region.y_pos + region.height > canvas.height) {
      issues.push({
        path: [...at, 'height'],
        message: `region "${name}" reaches outside ${where}: y_pos ${region.y_pos} + height ${region.height} > ${canvas.height}`,
      });
    }
  }
  return issues;
}

/**
 * Checks a layout value and turns it into the model. Accepted: a preset name (`"pip"`); a preset
 * object (`{ "type": "pip", "focus": ["type:screen"] }`); OpenTok's layout JSON
 * (`{ "type": "custom", "stylesheet": "stream.focus { … }" }`, `screenshareType`); a custom
 * layout (`{ "type": "custom", "regions": { "main": { … } } }`); or Twilio's `video_layout`
 * (the regions object itself). With a canvas, regions are also checked to lie inside it.
 */
export function normalizeLayout(
  value: unknown,
  canvas?: Size,
): { layout: Layout } | { issues: LayoutIssue[] } {
  if (typeof value === 'string') {
    if ((LAYOUT_PRESETS as readonly string[]).includes(value))
      return { layout: { type: value as LayoutPreset } };
    return {
      issues: [
        { path: [], message: `unknown layout "${value}" (use ${LAYOUT_PRESETS.join(', ')} or regions)` },
      ],
    };
  }
  if (!isRecord(value)) {
    return { issues: [{ path: [], message: 'must be a layout name or a layout object' }] };
  }
  if (!('type' in value)) {
    const regions = parseRegions(value, []);
    if (Array.isArray(regions)) return { issues: regions };
    const fit = canvas === undefined ? [] : checkRegionsFit(regions, canvas, []);
    return fit.length > 0 ? { issues: fit } : { layout: { type: 'custom', regions } };
  }
  if (value.type === 'custom') {
    if (value.screenshareType !== undefined) {
      return { issues: [{ path: ['screenshareType'], message: 'is only allowed with type "bestFit"' }] };
    }
    const extra = Object.keys(value).find((k) => !['type', 'regions', 'stylesheet'].includes(k));
    if (extra !== undefined)
      return { issues: [{ path: [extra], message: `unknown field "${extra}" of a custom layout` }] };
    let regions: Record<string, LayoutRegion> | LayoutIssue[];
    let prefix: Array<string | number>;
    if (value.regions !== undefined) {
      if (typeof value.stylesheet === 'string' && value.stylesheet.trim() !== '') {
        return {
          issues: [{ path: ['stylesheet'], message: 'give either regions or a stylesheet, not both' }],
        };
      }
      prefix = ['regions'];
      regions = parseRegions(value.regions, prefix);
    } else if (typeof value.stylesheet === 'string' && value.stylesheet.trim() !== '') {
      if (value.stylesheet.length > 10_000) {
        return { issues: [{ path: ['stylesheet'], message: 'must be at most 10000 characters' }] };
      }
      // Boxes are relative to the canvas, so they always fit it; only the syntax is checked here.
      const checked = regionsFromStylesheet(value.stylesheet, canvas ?? { width: 640, height: 480 });
      if (Array.isArray(checked)) {
        return { issues: checked.map((issue) => ({ ...issue, path: ['stylesheet', ...issue.path] })) };
      }
      return { layout: { type: 'custom', stylesheet: value.stylesheet } };
    } else {
      return { issues: [{ path: ['stylesheet'], message: 'a custom layout needs regions or a stylesheet' }] };
    }
    if (Array.isArray(regions)) return { issues: regions };
    const fit = canvas === undefined ? [] : checkRegionsFit(regions, canvas, prefix);
    return fit.length > 0 ? { issues: fit } : { layout: { type: 'custom', regions } };
  }
  const parsed = presetSchema.safeParse(value);
  if (!parsed.success) {
    const issues = zodIssues(parsed.error, []);
    if (issues[0]!.path[0] === 'type') {
      issues[0]!.message = `must be ${LAYOUT_PRESETS.join(', ')} or custom`;
    }
    return { issues };
  }
  const { type, focus, screenshareType } = parsed.data;
  if (screenshareType !== undefined && type !== 'bestFit') {
    return {
      issues: [{ path: ['screenshareType'], message: 'is only allowed with type "bestFit" (OpenTok)' }],
    };
  }
  const layout: PresetLayout = { type };
  if (focus !== undefined) layout.focus = focus;
  if (screenshareType !== undefined) layout.screenshareType = screenshareType;
  return { layout };
}

/**
 * A zod schema of a layout value (see `normalizeLayout`); its output is the model. Pass the
 * canvas to check that regions lie inside it.
 */
export function layoutSchema(canvas?: Size) {
  return z.unknown().transform((value, ctx): Layout => {
    const result = normalizeLayout(value, canvas);
    if ('layout' in result) return result.layout;
    for (const issue of result.issues)
      ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
    return z.NEVER;
  });
}

/** Parses a layout value or throws an InvalidArgument StudioError naming the field. */
export function parseLayout(value: unknown, what = 'layout', canvas?: Size): Layout {
  return parseWith(layoutSchema(canvas), value, what);
}

// ---- OpenTok stylesheets ----------------------------------------------------------------------

function cssLength(value: string, total: number): number | null {
  const v = value.trim();
  const percent = /^(-?\d+(?:\.\d+)?)%$/.exec(v);
  if (percent) return (Number(percent[1]) / 100) * total;
  const px = /^(-?\d+(?:\.\d+)?)(px)?$/.exec(v);
  if (px) return Number(px[1]);
  return null;
}

const even = (n: number): number => Math.max(0, Math.floor(n / 2) * 2);

/**
 * Maps an OpenTok custom stylesheet onto regions. Supported: selectors `stream` and
 * `stream.<class>` (comma lists too); absolutely positioned boxes (`left`, `top`, `right`,
 * `bottom`, `width`, `height` in px or %, `z-index`); `display: none`; floated boxes
 * (`float: left; width: 50%; height: 50%`), which become a grid over the canvas. Other
 * declarations (margins, borders, object-fit) are ignored. A class rule wins over `stream`,
 * as CSS specificity has it.
 */
export function regionsFromStylesheet(
  css: string,
  canvas: Size,
): Record<string, LayoutRegion> | LayoutIssue[] {
  const text = css.replace(/\/\*[\s\S]*?\*\//g, '');
  const rules: Array<{ selector: string; decls: Map<string, string> }> = [];
  const rulePattern = /([^{}]+)\{([^{}]*)\}/g;
  let match: RegExpExecArray | null;
  while ((match = rulePattern.exec(text)) !== null) {
    const decls = new Map<string, string>();
    for (const decl of match[2]!.split(';')) {
      const colon = decl.indexOf(':');
      if (colon < 0) continue;
      decls.set(
        decl.slice(0, colon).trim().toLowerCase(),
        decl
          .slice(colon + 1)
          .trim()
          .toLowerCase(),
      );
    }
    for (const selector of match[1]!.split(',')) rules.push({ selector: selector.trim(), decls });
  }
  if (rules.length === 0 || text.replace(rulePattern, '').trim() !== '') {
    return [
      { path: [], message: 'is not a stylesheet of rules like "stream.focus { width: 100%; height: 100% }"' },
    ];
  }
  const issues: LayoutIssue[] = [];
  const classRules: string[] = [];
  const boxes: Array<{
    name: string;
    sources: string[];
    region: Omit<LayoutRegion, 'video_sources' | 'video_sources_excluded'>;
    hidden: boolean;
    generic: boolean;
  }> = [];
  rules.forEach(({ selector, decls }, index) => {
    const sel = /^stream(?:\.([A-Za-z0-9_-]+))?$/.exec(selector);
    if (sel === null) {
      issues.push({ path: [], message: `unsupported selector "${selector}" (use stream or stream.<class>)` });
      return;
    }
    const cls = sel[1];
    if (cls !== undefined) classRules.push(`class:${cls}`);
    const hidden = decls.get('display') === 'none';
    const lengths: Record<string, number | null> = {};
    for (const key of ['left', 'top', 'right', 'bottom', 'width', 'height']) {
      const raw = decls.get(key);
      if (raw === undefined || raw === 'auto') continue;
      const total = key === 'left' || key === 'right' || key === 'width' ? canvas.width : canvas.height;
      const length = cssLength(raw, total);
      if (length === null) {
        issues.push({ path: [], message: `"${selector} { ${key}: ${raw} }" must be a length in px or %` });
        return;
      }
      lengths[key] = length;
    }
    const zIndex = decls.get('z-index');
    const z_pos =
      zIndex !== undefined && /^-?\d+$/.test(zIndex) ? Math.max(-99, Math.min(99, Number(zIndex))) : 0;
    const name = `${cls ?? 'stream'}${index === 0 ? '' : `_${index}`}`;
    if (decls.get('float') !== undefined && decls.get('position') !== 'absolute') {
      const w = lengths.width ?? canvas.width;
      const h = lengths.height ?? canvas.height;
      boxes.push({
        name,
        sources: [cls === undefined ? '*' : `class:${cls}`],
        hidden,
        generic: cls === undefined,
        region: {
          x_pos: 0,
          y_pos: 0,
          width: even(canvas.width),
          height: even(canvas.height),
          z_pos,
          max_columns: Math.max(1, Math.min(16, Math.round(canvas.width / Math.max(1, w)))),
          max_rows: Math.max(1, Math.min(16, Math.round(canvas.height / Math.max(1, h)))),
          cells_excluded: [],
          reuse: 'show_oldest',
        },
      });
      return;
    }
    const span = (start?: number | null, end?: number | null, size?: number | null, total = 0) => {
      const s = start ?? (end != null && size != null ? total - end - size : 0);
      const len = size ?? total - s - (end ?? 0);
      const from = Math.max(0, Math.min(total, s));
      return { from, len: Math.max(0, Math.min(total - from, len)) };
    };
    const x = span(lengths.left, lengths.right, lengths.width, canvas.width);
    const y = span(lengths.top, lengths.bottom, lengths.height, canvas.height);
    const width = even(x.len);
    const height = even(y.len);
    if (width < 2 || height < 2) return; // a 1px box hides the stream, as in OpenTok
    boxes.push({
      name,
      sources: [cls === undefined ? '*' : `class:${cls}`],
      hidden,
      generic: cls === undefined,
      region: {
        x_pos: Math.min(even(x.from), canvas.width - width),
        y_pos: Math.min(even(y.from), canvas.height - height),
        width,
        height,
        z_pos,
        max_columns: 1,
        max_rows: 1,
        cells_excluded: [],
        reuse: 'show_oldest',
      },
    });
  });
  if (issues.length > 0) return issues;
  const regions: Record<string, LayoutRegion> = {};
  for (const box of boxes) {
    if (box.hidden) continue;
    regions[box.name] = {
      ...box.region,
      video_sources: box.sources,
      // Sources with a class rule of their own (or hidden by one) are not placed by `stream`.
      video_sources_excluded: box.generic ? [...new Set(classRules)] : [],
    };
  }
  if (Object.keys(regions).length === 0) {
    return [{ path: [], message: 'shows no stream: every rule is hidden or has no size' }];
  }
  return regions;
}

// ---- geometry ---------------------------------------------------------------------------------

/** Columns and rows of a best-fit grid of `count` cells in `area` (4:3 sources assumed). */
export function bestGrid(
  count: number,
  area: Size,
  limits: { maxColumns?: number; maxRows?: number } = {},
): { columns: number; rows: number } {
  if (count <= 0) return { columns: 1, rows: 1 };
  let best = { columns: 1, rows: count, score: -1, empty: Infinity };
  const maxColumns = Math.min(count, limits.maxColumns ?? count);
  for (let columns = 1; columns <= maxColumns; columns++) {
    const rows = Math.ceil(count / columns);
    if (limits.maxRows !== undefined && rows > limits.maxRows) continue;
    const cellW = area.width / columns;
    const cellH = area.height / rows;
    const scale = Math.min(cellW / 4, cellH / 3);
    const score = Math.round(scale * scale * 12);
    const empty = columns * rows - count;
    const landscape = area.width >= area.height;
    const better =
      score > best.score ||
      (score === best.score && empty < best.empty) ||
      (score === best.score && empty === best.empty && landscape && columns > best.columns);
    if (better) best = { columns, rows, score, empty };
  }
  if (best.score < 0) {
    // More cells than the limits allow: the caller caps the count; fill the allowed grid.
    return { columns: limits.maxColumns ?? count, rows: limits.maxRows ?? 1 };
  }
  return { columns: best.columns, rows: best.rows };
}

/**
 * Cell rectangles of a grid in `area`, in order (left to right, top to bottom). Sizes and
 * positions are even; the grid is centred in the area, and an incomplete last row is centred
 * when `centerLastRow` is set.
 */
export function gridCells(
  area: Rect,
  columns: number,
  rows: number,
  count = columns * rows,
  centerLastRow = true,
): Rect[] {
  const cellW = even(area.width / columns);
  const cellH = even(area.height / rows);
  const offsetX = area.x + even((area.width - cellW * columns) / 2);
  const offsetY = area.y + even((area.height - cellH * rows) / 2);
  const cells: Rect[] = [];
  for (let i = 0; i < count; i++) {
    const row = Math.floor(i / columns);
    const col = i % columns;
    const inRow = row === rows - 1 && centerLastRow ? count - row * columns : columns;
    const shift = even(((columns - Math.min(columns, inRow)) * cellW) / 2);
    cells.push({ x: offsetX + shift + col * cellW, y: offsetY + row * cellH, width: cellW, height: cellH });
  }
  return cells;
}

const stylesheetCache = new Map<string, Record<string, LayoutRegion>>();

/** Regions of a stylesheet for a canvas (memoized: the composer asks for every timeline stretch). */
function stylesheetRegions(css: string, canvas: Size): Record<string, LayoutRegion> {
  const key = `${canvas.width}x${canvas.height}\n${css}`;
  let regions = stylesheetCache.get(key);
  if (regions === undefined) {
    const result = regionsFromStylesheet(css, canvas);
    regions = Array.isArray(result) ? {} : result;
    if (stylesheetCache.size > 100) stylesheetCache.clear();
    stylesheetCache.set(key, regions);
  }
  return regions;
}

function bySince(a: LayoutSource, b: LayoutSource): number {
  return a.since - b.since || (a.order ?? 0) - (b.order ?? 0) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

function tilesOfGrid(area: Rect, sources: LayoutSource[], region: string, z: number): Tile[] {
  if (sources.length === 0 || area.width < 2 || area.height < 2) return [];
  const { columns, rows } = bestGrid(sources.length, area);
  return gridCells(area, columns, rows, sources.length).map((cell, i) => ({
    ...cell,
    sourceId: sources[i]!.id,
    region,
    z,
  }));
}

/** Sources that take the large area: the layout's focus patterns, else focus classes, else screens. */
function focusOf(layout: PresetLayout, active: LayoutSource[], classes: string[]): LayoutSource[] {
  if (layout.focus !== undefined) {
    const chosen = active.filter((s) => matchesAny(layout.focus!, s));
    if (chosen.length > 0) return chosen;
  } else {
    const byClass = active.filter((s) => s.classes?.some((c) => classes.includes(c)));
    if (byClass.length > 0) return byClass;
    const screens = active.filter((s) => s.videoType === 'screen');
    if (screens.length > 0) return screens;
  }
  return active.slice(0, 1);
}

/** OpenTok shows at most 16 streams in a composed archive. */
const MAX_GRID = 16;

function presetTiles(canvas: Size, layout: PresetLayout, active: LayoutSource[]): Tile[] {
  const full: Rect = { x: 0, y: 0, width: even(canvas.width), height: even(canvas.height) };
  let type: LayoutPreset = layout.type;
  if (
    type === 'bestFit' &&
    layout.screenshareType !== undefined &&
    active.some((s) => s.videoType === 'screen')
  ) {
    type = layout.screenshareType;
  }
  if (active.length === 0) return [];
  if (type === 'bestFit') return tilesOfGrid(full, active.slice(0, MAX_GRID), 'grid', 0);
  if (type === 'pip') {
    const large = focusOf(layout, active, ['full', 'focus'])[0]!;
    const small = active.find((s) => s !== large);
    const tiles: Tile[] = [{ ...full, sourceId: large.id, region: 'large', z: 0 }];
    if (small !== undefined) {
      const width = even(canvas.width / 4);
      const height = even(canvas.height / 4);
      const margin = even(Math.min(canvas.width, canvas.height) / 30);
      tiles.push({
        x: even(canvas.width - width - margin),
        y: even(canvas.height - height - margin),
        width,
        height,
        sourceId: small.id,
        region: 'small',
        z: 1,
      });
    }
    return tiles;
  }
  const focused = focusOf(layout, active, ['focus', 'full']).slice(0, MAX_GRID);
  if (type === 'focus') return tilesOfGrid(full, focused, 'large', 0);
  const others = active.filter((s) => !focused.includes(s)).slice(0, MAX_GRID);
  if (others.length === 0) return tilesOfGrid(full, focused, 'large', 0);
  if (type === 'verticalPresentation') {
    // OpenTok: the large stream on the right, the others share the left edge.
    const strip = even(canvas.width / 5);
    const large: Rect = { x: strip, y: 0, width: even(canvas.width - strip), height: full.height };
    const cells = gridCells({ x: 0, y: 0, width: strip, height: full.height }, 1, others.length);
    return [
      ...tilesOfGrid(large, focused, 'large', 0),
      ...cells.map((cell, i) => ({ ...cell, sourceId: others[i]!.id, region: 'small', z: 0 })),
    ];
  }
  // horizontalPresentation: the large stream on top, the others share the bottom edge.
  const strip = even(canvas.height / 5);
  const large: Rect = { x: 0, y: 0, width: full.width, height: even(canvas.height - strip) };
  const cells = gridCells({ x: 0, y: large.height, width: full.width, height: strip }, others.length, 1);
  return [
    ...tilesOfGrid(large, focused, 'large', 0),
    ...cells.map((cell, i) => ({ ...cell, sourceId: others[i]!.id, region: 'small', z: 0 })),
  ];
}

function regionTiles(canvas: Size, name: string, region: LayoutRegion, ordered: LayoutSource[]): Tile[] {
  const area: Rect = {
    x: region.x_pos,
    y: region.y_pos,
    width: Math.min(region.width ?? canvas.width - region.x_pos, canvas.width - region.x_pos),
    height: Math.min(region.height ?? canvas.height - region.y_pos, canvas.height - region.y_pos),
  };
  if (area.width < 2 || area.height < 2) return [];
  const matching = ordered.filter(
    (s) => matchesAny(region.video_sources, s) && !matchesAny(region.video_sources_excluded, s),
  );
  const fixed = region.max_columns !== undefined && region.max_rows !== undefined;
  const excluded = new Set(region.cells_excluded);
  let fixedCells: Rect[] = [];
  let capacity = MAX_GRID;
  if (fixed) {
    fixedCells = gridCells(area, region.max_columns!, region.max_rows!, undefined, false).filter(
      (_, i) => !excluded.has(i),
    );
    capacity = fixedCells.length;
  } else if (region.max_columns !== undefined || region.max_rows !== undefined) {
    capacity = Math.min(MAX_GRID, (region.max_columns ?? MAX_GRID) * (region.max_rows ?? MAX_GRID));
  }
  const active = matching.filter((s) => !s.left);
  let slots: Array<LayoutSource | null>;
  if (region.reuse === 'none') {
    slots = matching.slice(0, capacity).map((s) => (s.left ? null : s));
    if (slots.every((s) => s === null)) return [];
  } else if (region.reuse === 'show_newest') {
    slots = active.slice(Math.max(0, active.length - capacity));
  } else {
    slots = active.slice(0, capacity);
  }
  if (slots.length === 0) return [];
  let cells: Rect[];
  if (fixed) {
    cells = fixedCells;
  } else {
    const limits: { maxColumns?: number; maxRows?: number } = {};
    if (region.max_columns !== undefined) limits.maxColumns = region.max_columns;
    if (region.max_rows !== undefined) limits.maxRows = region.max_rows;
    const { columns, rows } = bestGrid(slots.length, area, limits);
    cells = gridCells(area, columns, rows, slots.length);
  }
  const tiles: Tile[] = [];
  slots.forEach((source, i) => {
    if (source !== null && cells[i] !== undefined) {
      tiles.push({ ...cells[i]!, sourceId: source.id, region: name, z: region.z_pos });
    }
  });
  return tiles;
}

/**
 * Where each visible source goes, for a canvas, a layout and the sources present at one moment.
 * Pure: the composer calls it for every stretch of the archive timeline, the layout editor for
 * its live preview. Tiles come sorted by `z` (draw in order); sources not shown get no tile.
 */
export function computeTiles(canvas: Size, layout: Layout, sources: readonly LayoutSource[]): Tile[] {
  const ordered = [...sources].sort(bySince);
  let tiles: Tile[];
  if (layout.type === 'custom') {
    const regions = layout.regions ?? stylesheetRegions(layout.stylesheet ?? '', canvas);
    tiles = Object.entries(regions).flatMap(([name, region]) => regionTiles(canvas, name, region, ordered));
  } else {
    tiles = presetTiles(
      canvas,
      layout,
      ordered.filter((s) => !s.left),
    );
  }
  return tiles
    .map((tile, order) => ({ tile, order }))
    .sort((a, b) => a.tile.z - b.tile.z || a.order - b.order)
    .map(({ tile }) => tile);
}
