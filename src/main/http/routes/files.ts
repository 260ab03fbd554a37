import { createReadStream, existsSync, statSync } from 'node:fs';
import { isAbsolute, join, normalize, sep } from 'node:path';
import { ZipArchive } from 'archiver';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { StudioError } from '../../../shared/errors';
import type { RecordingService } from '../../recording/RecordingService';
import { SIGNED_LINK_PREFIX, type SignedLinks } from '../../security/SignedLinks';
import type { ArchiveRepository } from '../../store/ArchiveRepository';
import type { RouteModule } from '../HttpServer';
import { allow } from '../access';

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
  // A file being recorded is served up to its last whole cluster, so what is downloaded decodes.
  const live = recording.readableBytes(archiveId, relative);
  if (live !== null) return sendGrowing(request, reply, full, live);
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
  return (app: FastifyInstance) => {
    app.get<{ Params: { archiveId: string; '*': string } }>(
      '/files/:archiveId/*',
      allow('files'),
      async (request, reply) => {
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
      // Access: a signed link (its verifier checks path, expiry and signature in the gate).
      app.get<{
        Params: { archiveId: string; '*': string };
        Querystring: { expires?: string; signature?: string };
      }>(`${SIGNED_LINK_PREFIX}/:archiveId/*`, allow('signedLink'), async (request, reply) => {
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

/** Serves the first `length` bytes of a file still being written, with single Range requests. */
function sendGrowing(
  request: FastifyRequest,
  reply: FastifyReply,
  path: string,
  length: number,
): FastifyReply {
  const type = path.endsWith('.webm') ? 'video/webm' : 'video/x-matroska';
  void reply
    .header('Cache-Control', 'no-store')
    .header('Accept-Ranges', 'bytes')
    .header('Content-Type', type);
  const range = /^bytes=(\d*)-(\d*)$/.exec(request.headers.range?.trim() ?? '');
  if (request.headers.range === undefined || range === null || (range[1] === '' && range[2] === '')) {
    if (length === 0) return reply.header('Content-Length', 0).send('');
    return reply.header('Content-Length', length).send(createReadStream(path, { start: 0, end: length - 1 }));
  }
  let start: number;
  let end: number;
  if (range[1] === '') {
    start = Math.max(0, length - Number(range[2]));
    end = length - 1;
  } else {
    start = Number(range[1]);
    end = range[2] === '' ? length - 1 : Math.min(Number(range[2]), length - 1);
  }
  if (start >= length || start > end) {
    return reply.status(416).header('Content-Range', `bytes */${length}`).send('');
  }
  return reply
    .status(206)
    .header('Content-Range', `bytes ${start}-${end}/${length}`)
    .header('Content-Length', end - start + 1)
    .send(createReadStream(path, { start, end }));
}
