import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { DEFAULT_LAYOUT, normalizeLayout, parseLayout } from '../../../shared/layout';
import { StudioError } from '../../../shared/errors';
import { parseWith } from '../../../shared/validation';
import { ConfigError, updateSettings } from '../../config/loadConfig';
import { envNameOf, FILE_ONLY_FIELDS, SECRET_FIELDS, settingsSchema } from '../../config/schema';
import type { RecordingService } from '../../recording/RecordingService';
import type { SignedLinks } from '../../security/SignedLinks';
import type { ArchiveRepository } from '../../store/ArchiveRepository';
import type { LayoutRepository } from '../../store/LayoutRepository';
import { guardedFetch } from '../../security/outboundGuard';
import { principalOf, type HttpContext } from '../context';
import type { RouteModule } from '../HttpServer';
import { allow } from '../access';

const resolution = z.string().regex(/^\d{2,4}x\d{2,4}$/, 'must look like 1280x720');
const layoutBody = z.strictObject({
  name: z.string().trim().min(1, 'must not be empty').max(100, 'must be at most 100 characters'),
  resolution: resolution.default('1280x720'),
  layout: z.unknown(),
});
const linkBody = z.strictObject({
  /** A file of the archive (`manifest.json`, `split/x.webm`…) or `archive.zip`. */
  file: z
    .string()
    .min(1, 'must not be empty')
    .max(500, 'must be at most 500 characters')
    .default('archive.zip'),
});
const playbackBody = z.strictObject({
  url: z.url({ protocol: /^https?$/, error: 'must be an http or https URL' }),
  user: z.string().max(256).optional(),
  password: z.string().max(1024).optional(),
  /** The file server is on this machine or the LAN (loopback and private addresses are refused otherwise). */
  allowPrivateNetwork: z.boolean().optional(),
});

/** The type a remote file is served as: audio and video only, never a page the browser renders. */
function mediaTypeOf(upstreamType: string | null, url: string): string | null {
  const type = (upstreamType ?? '').split(';')[0]!.trim().toLowerCase();
  if (/^(video|audio)\/[a-z0-9.+-]+$/.test(type)) return type;
  if (type === 'application/octet-stream' || type === '') {
    const path = new URL(url).pathname.toLowerCase();
    if (path.endsWith('.webm')) return 'video/webm';
    if (path.endsWith('.mkv')) return 'video/x-matroska';
    if (path.endsWith('.m4a')) return 'audio/mp4';
    return 'video/mp4';
  }
  return null;
}

function operatorOnly(request: Parameters<typeof principalOf>[0]): void {
  if (principalOf(request).kind !== 'operator') {
    throw new StudioError('PermissionDenied', 'only the operator (logged-in UI) can do this');
  }
}

/**
 * What the operator UI needs beyond the public API: archive files, saved layouts, settings,
 * the file-server credentials for the player, and playback of remote files behind Basic auth.
 */
export function studioRoutes(deps: {
  archives: ArchiveRepository;
  layouts: LayoutRepository;
  /** Mints the files' signed links (absent: files have only their Basic-auth URL). */
  links?: SignedLinks;
  recording?: RecordingService;
  /** Base URL signed links start with. */
  baseUrl?: () => string;
}): RouteModule {
  return (app: FastifyInstance, ctx: HttpContext) => {
    app.get<{ Params: { id: string } }>(
      '/api/archives/:id/files',
      allow('operatorOrProject'),
      async (request) => {
        const record = deps.archives.get(request.params.id);
        if (record === null || record.status === 'deleted') {
          throw new StudioError('NotFound', `archive ${request.params.id} does not exist`, 'archiveId');
        }
        const links = deps.links;
        const base = deps.baseUrl?.() ?? '';
        const filesHere = record.status !== 'expired';
        return {
          items: deps.archives.files(record.id).map((f) => {
            // A link minted at each call, expiring after signedLinkTtlSec (no credentials needed).
            const link = links !== undefined && filesHere ? links.mint(base, record.id, f.filename) : null;
            return {
              ...f,
              url: `/files/${record.id}/${f.filename}`,
              signedUrl: link?.url ?? null,
              signedUrlExpiresAt: link?.expiresAt ?? null,
            };
          }),
        };
      },
    );

    // A signed, expiring download link minted on demand: the UI downloads the ZIP through it (a
    // navigation carries no credentials; the player worker only adds them to media requests).
    app.post<{ Params: { id: string } }>(
      '/api/archives/:id/links',
      allow('operatorOrProject'),
      async (request) => {
        const record = deps.archives.get(request.params.id);
        if (record === null || record.status === 'deleted') {
          throw new StudioError('NotFound', `archive ${request.params.id} does not exist`, 'archiveId');
        }
        const { file } = parseWith(linkBody, request.body ?? {}, 'link');
        const links = deps.links;
        if (links === undefined) throw new StudioError('Unavailable', 'signed links are not enabled here');
        if (record.status === 'expired') {
          throw new StudioError('NotFound', `archive ${record.id} expired: its files are gone`, 'archiveId');
        }
        const files = deps.archives.files(record.id);
        if (file !== 'archive.zip' && !files.some((f) => f.filename === file)) {
          throw new StudioError('NotFound', `archive ${record.id} has no file ${file}`, 'file');
        }
        const base = deps.baseUrl?.() ?? '';
        const link = links.mint(base, record.id, file);
        // `path`: the same link relative to the studio, for a page on the LAN address too.
        return { url: link.url, path: link.url.slice(base.length), expiresAt: link.expiresAt };
      },
    );

    // The layout a composed archive records with now (the program view draws it).
    app.get<{ Params: { id: string } }>(
      '/api/archives/:id/layout',
      allow('operatorOrProject'),
      async (request) => {
        const record = deps.archives.get(request.params.id);
        if (record === null || record.status === 'deleted') {
          throw new StudioError('NotFound', `archive ${request.params.id} does not exist`, 'archiveId');
        }
        const resolution = record.resolution ?? '640x480';
        const [width, height] = resolution.split('x').map(Number) as [number, number];
        const canvas = { width, height };
        const last = deps.archives.lastLayoutChange(record.id);
        const normalized = normalizeLayout(last?.layout ?? record.options.layout ?? DEFAULT_LAYOUT, canvas);
        return {
          resolution,
          atMs: last?.atMs ?? 0,
          layout: 'layout' in normalized ? normalized.layout : DEFAULT_LAYOUT,
        };
      },
    );

    if (deps.recording !== undefined) {
      const recording = deps.recording;
      // Archive list with filters (status, created range, room) and bulk delete, for the UI.
      app.get('/api/archives', allow('operatorOrProject'), async (request) =>
        recording.search(request.query),
      );
      app.post('/api/archives/delete', allow('operator'), async (request) =>
        recording.deleteMany(request.body),
      );
      // The operator stops any archive, an automatic one too (automatic recording turns off).
      app.post<{ Params: { id: string } }>('/api/archives/:id/stop', allow('operator'), async (request) => {
        operatorOnly(request);
        return recording.stopByOperator(request.params.id);
      });
    }

    // Saved layouts.
    app.get('/api/layouts', allow('operatorOrProject'), async () => ({ items: deps.layouts.list() }));
    const validLayout = (body: z.output<typeof layoutBody>) => {
      const [width, height] = body.resolution.split('x').map(Number) as [number, number];
      return parseLayout(body.layout, 'layout', { width, height });
    };
    app.post('/api/layouts', allow('operatorOrProject'), async (request, reply) => {
      const body = parseWith(layoutBody, request.body, 'layout');
      if (deps.layouts.byName(body.name) !== null) {
        throw new StudioError(
          'Conflict',
          `a layout named "${body.name}" exists; choose another name`,
          'name',
        );
      }
      const now = Date.now();
      const saved = {
        id: randomUUID(),
        name: body.name,
        resolution: body.resolution,
        layout: validLayout(body),
        createdAt: now,
        updatedAt: now,
      };
      deps.layouts.save(saved);
      return reply.status(201).send(saved);
    });
    app.put<{ Params: { id: string } }>('/api/layouts/:id', allow('operatorOrProject'), async (request) => {
      const existing = deps.layouts.get(request.params.id);
      if (existing === null)
        throw new StudioError('NotFound', `layout ${request.params.id} does not exist`, 'layoutId');
      const body = parseWith(layoutBody, request.body, 'layout');
      const clash = deps.layouts.byName(body.name);
      if (clash !== null && clash.id !== existing.id) {
        throw new StudioError(
          'Conflict',
          `a layout named "${body.name}" exists; choose another name`,
          'name',
        );
      }
      const saved = {
        ...existing,
        name: body.name,
        resolution: body.resolution,
        layout: validLayout(body),
        updatedAt: Date.now(),
      };
      deps.layouts.save(saved);
      return saved;
    });
    app.delete<{ Params: { id: string } }>(
      '/api/layouts/:id',
      allow('operatorOrProject'),
      async (request, reply) => {
        if (!deps.layouts.delete(request.params.id))
          throw new StudioError('NotFound', `layout ${request.params.id} does not exist`, 'layoutId');
        return reply.status(204).send();
      },
    );

    // Settings: every field but the secrets, which can only be set.
    app.get('/api/settings', allow('operator'), async (request) => {
      operatorOnly(request);
      const values = Object.fromEntries(
        Object.entries(ctx.config.settings).filter(
          ([key]) => !SECRET_FIELDS.has(key as keyof typeof ctx.config.settings),
        ),
      );
      const fromEnv = Object.keys(settingsSchema.shape).filter((k) => process.env[envNameOf(k)]);
      return {
        values,
        fromEnvironment: fromEnv,
        dataDir: ctx.config.dataDir,
        settingsPath: ctx.config.settingsPath,
      };
    });
    app.patch('/api/settings', allow('operator'), async (request) => {
      operatorOnly(request);
      const body = request.body;
      if (body === null || typeof body !== 'object' || Array.isArray(body)) {
        throw new StudioError('InvalidArgument', 'send a JSON object of settings to change');
      }
      for (const key of Object.keys(body)) {
        if (FILE_ONLY_FIELDS.has(key as keyof typeof ctx.config.settings)) {
          throw new StudioError(
            'PermissionDenied',
            `setting ${key} can only be changed in the settings file or by ${envNameOf(key)}`,
            key,
          );
        }
      }
      try {
        return updateSettings(ctx.config, body as Record<string, unknown>);
      } catch (error) {
        if (error instanceof ConfigError)
          throw new StudioError('InvalidArgument', error.message, error.field);
        throw error;
      }
    });
    app.get('/api/settings/files-credentials', allow('operator'), async (request) => {
      operatorOnly(request);
      return { user: ctx.config.settings.filesUser, password: ctx.config.settings.filesPassword };
    });
    app.get('/api/settings/api-credentials', allow('operator'), async (request) => {
      operatorOnly(request);
      return { apiKey: ctx.config.settings.apiKey, apiSecret: ctx.config.settings.apiSecret };
    });

    // Remote files behind Basic auth (EnableX-style storage): the player asks the studio to fetch
    // them, so the credentials stay in memory here and never appear in a URL.
    const sources = new Map<
      string,
      { url: string; authorization: string | null; allowPrivateNetwork: boolean; createdAt: number }
    >();
    app.post('/api/playback-sources', allow('operator'), async (request, reply) => {
      operatorOnly(request);
      const body = parseWith(playbackBody, request.body, 'source');
      const id = randomUUID();
      const authorization =
        body.user !== undefined
          ? `Basic ${Buffer.from(`${body.user}:${body.password ?? ''}`).toString('base64')}`
          : null;
      sources.set(id, {
        url: body.url,
        authorization,
        allowPrivateNetwork: body.allowPrivateNetwork === true,
        createdAt: Date.now(),
      });
      for (const [key, s] of sources) if (Date.now() - s.createdAt > 12 * 3600_000) sources.delete(key);
      return reply.status(201).send({ id, mediaUrl: `/api/playback-sources/${id}/media` });
    });
    app.get<{ Params: { id: string } }>(
      '/api/playback-sources/:id/media',
      allow('operator'),
      async (request, reply) => {
        operatorOnly(request);
        const source = sources.get(request.params.id);
        if (source === undefined)
          throw new StudioError('NotFound', 'this playback source is gone; open the file again');
        const headers: Record<string, string> = {};
        if (source.authorization !== null) headers.authorization = source.authorization;
        if (request.headers.range) headers.range = request.headers.range;
        let upstream: Response;
        try {
          upstream = await guardedFetch(
            source.url,
            { headers },
            { allowPrivateNetwork: source.allowPrivateNetwork, timeoutMs: 30_000 },
          );
        } catch (error) {
          if (error instanceof StudioError) throw error;
          throw new StudioError(
            'Unavailable',
            `cannot reach ${new URL(source.url).host}: ${(error as Error).message}`,
          );
        }
        if (upstream.status === 401 || upstream.status === 403) {
          throw new StudioError(
            'PermissionDenied',
            `the file server refused the credentials (${upstream.status})`,
          );
        }
        if (!upstream.ok) throw new StudioError('Unavailable', `the file server answered ${upstream.status}`);
        const type = mediaTypeOf(upstream.headers.get('content-type'), source.url);
        if (type === null) {
          await upstream.body?.cancel();
          throw new StudioError(
            'InvalidArgument',
            `the remote file is not audio or video (${upstream.headers.get('content-type')}); only media is played`,
            'url',
          );
        }
        reply.status(upstream.status);
        reply.header('content-type', type);
        reply.header('x-content-type-options', 'nosniff');
        for (const name of ['content-length', 'content-range', 'accept-ranges', 'last-modified', 'etag']) {
          const value = upstream.headers.get(name);
          if (value !== null) reply.header(name, value);
        }
        return reply.send(upstream.body ? Readable.fromWeb(upstream.body as WebReadableStream) : '');
      },
    );
  };
}
