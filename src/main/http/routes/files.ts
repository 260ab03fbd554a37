import { existsSync, statSync } from 'node:fs';
import { isAbsolute, join, normalize, sep } from 'node:path';
import { ZipArchive } from 'archiver';
import type { FastifyInstance } from 'fastify';
import { StudioError } from '../../../shared/errors';
import type { RecordingService } from '../../recording/RecordingService';
import type { ArchiveRepository } from '../../store/ArchiveRepository';
import type { RouteModule } from '../HttpServer';
import { allow } from '../access';

/**
 * The protected file server: `GET /files/{archiveId}/{file}` behind HTTP Basic auth (the
 * file-server credentials of the settings), with Range requests, and `archive.zip`: the
 * manifest and media of an archive in one streamed ZIP, as OpenTok delivers individual archives.
 */
export function fileRoutes(recording: RecordingService, repo: ArchiveRepository): RouteModule {
  return (app: FastifyInstance) => {
    const notFound = (what: string) => new StudioError('NotFound', `no file ${what}`);

    app.get<{ Params: { archiveId: string; '*': string } }>(
      '/files/:archiveId/*',
      allow('files'),
      async (request, reply) => {
        const { archiveId } = request.params;
        const file = request.params['*'];
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
            .filter((f) => f.kind === 'media' || f.kind === 'manifest' || f.kind === 'split');
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
        return reply
          .header('Cache-Control', 'private, no-cache')
          .sendFile(relative, dir, { dotfiles: 'deny' });
      },
    );
  };
}
