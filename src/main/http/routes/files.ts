import { existsSync, statSync } from 'node:fs';
import { isAbsolute, join, normalize, sep } from 'node:path';
import { ZipArchive } from 'archiver';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { StudioError } from '../../../shared/errors';
import type { RecordingService } from '../../recording/RecordingService';
import { constantTimeEqual } from '../../security/Auth';
import { SIGNED_LINK_PREFIX, type SignedLinks } from '../../security/SignedLinks';
import type { ArchiveRepository } from '../../store/ArchiveRepository';
import type { HttpContext } from '../context';
import type { RouteModule } from '../HttpServer';

const REALM = 'Basic realm="Spool Studio files", charset="UTF-8"';

function checkBasicAuth(
  request: FastifyRequest,
  reply: FastifyReply,
  user: string,
  password: string,
): boolean {
  const header = request.headers.authorization ?? '';
  const match = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header.trim());
  let ok = false;
  if (match !== null) {
    const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0) {
      // Both compared in full, in constant time, so the answer time says nothing about either.
      const userOk = constantTimeEqual(decoded.slice(0, colon), user);
      const passwordOk = constantTimeEqual(decoded.slice(colon + 1), password);
      ok = userOk && passwordOk;
    }
  }
  if (!ok) {
    void reply
      .status(401)
      .header('WWW-Authenticate', REALM)
      .send({
        code: 'Unauthenticated',
        message: match === null ? 'HTTP Basic credentials required' : 'wrong file-server user or password',
      });
  }
  return ok;
}

/** Sends one file of an archive (or `archive.zip`, streamed); NotFound for anything else. */
async function sendArchiveFile(
  recording: RecordingService,
  repo: ArchiveRepository,
  request: FastifyRequest,
  reply: FastifyReply,
  archiveId: string,
  file: string,
): Promise<FastifyReply> {
  const notFound = (what: string) => new StudioError('NotFound', `no file ${what}`);
  let dir: string;
  try {
    dir = recording.archiveDir(archiveId);
  } catch {
    throw notFound(`${archiveId}/${file}`);
  }
  const record = repo.get(archiveId);
  if (record === null || record.status === 'deleted' || record.status === 'expired')
    throw notFound(`${archiveId}/${file}`);

  if (file === 'archive.zip') {
    const entries = repo
      .files(archiveId)
      .filter(
        (f) => f.kind === 'media' || f.kind === 'manifest' || f.kind === 'split' || f.kind === 'metadata',
      );
    if (entries.length === 0) throw notFound(`${archiveId}/archive.zip (the archive has no files yet)`);
    // Media is already compressed: store it, so the ZIP streams at disk speed.
    const zip = new ZipArchive({ store: true });
    zip.on('warning', (error: Error) => request.log.warn({ err: error }, 'zip warning'));
    zip.on('error', (error: Error) => {
      request.log.error({ err: error }, 'zip failed');
      reply.raw.destroy(error);
    });
    for (const entry of entries) {
      const path = join(dir, entry.filename);
      if (existsSync(path)) zip.file(path, { name: entry.filename });
    }
    void zip.finalize();
    return reply
      .header('Content-Type', 'application/zip')
      .header('Content-Disposition', `attachment; filename="${archiveId}.zip"`)
      .send(zip);
  }

  // Only plain relative paths inside the archive folder.
  const relative = normalize(file);
  if (
    file === '' ||
    isAbsolute(file) ||
    relative.startsWith('..') ||
    relative.split(sep).includes('..') ||
    file.includes('\0')
  ) {
    throw notFound(`${archiveId}/${file}`);
  }
  const full = join(dir, relative);
  if (!full.startsWith(dir + sep) || !existsSync(full) || !statSync(full).isFile())
    throw notFound(`${archiveId}/${file}`);
  return reply.header('Cache-Control', 'private, no-cache').sendFile(relative, dir, { dotfiles: 'deny' });
}

/**
 * The protected file server: `GET /files/{archiveId}/{file}` behind HTTP Basic auth (the
 * file-server credentials of the settings), with Range requests, and `archive.zip`: the
 * manifest and media of an archive in one streamed ZIP, as OpenTok delivers individual archives.
 * `GET /links/{archiveId}/{file}?expires=…&signature=…` serves the same files to a signed,
 * expiring link (no credentials), as OpenTok's pre-signed archive URLs.
 */
export function fileRoutes(
  recording: RecordingService,
  repo: ArchiveRepository,
  links: SignedLinks | null = null,
): RouteModule {
  return (app: FastifyInstance, ctx: HttpContext) => {
    const { filesUser, filesPassword } = ctx.config.settings;

    app.get<{ Params: { archiveId: string; '*': string } }>(
      '/files/:archiveId/*',
      { config: { public: true } },
      async (request, reply) => {
        if (!checkBasicAuth(request, reply, filesUser, filesPassword)) return reply;
        return sendArchiveFile(
          recording,
          repo,
          request,
          reply,
          request.params.archiveId,
          request.params['*'],
        );
      },
    );

    if (links !== null) {
      // Access: a signed link (verified here, before anything is read), no other credentials.
      app.get<{
        Params: { archiveId: string; '*': string };
        Querystring: { expires?: string; signature?: string };
      }>(`${SIGNED_LINK_PREFIX}/:archiveId/*`, { config: { public: true } }, async (request, reply) => {
        const path = request.url.split('?')[0]!;
        links.verify(path, request.query.expires, request.query.signature);
        return sendArchiveFile(
          recording,
          repo,
          request,
          reply,
          request.params.archiveId,
          request.params['*'],
        );
      });
    }
  };
}
