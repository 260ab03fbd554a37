import { createReadStream, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { ArchiveSummary } from '../../../shared/archive';
import { StudioError } from '../../../shared/errors';
import { POSTER_FILE, posterSource, type PosterMaker } from '../../media/PosterMaker';
import type { ArchiveRepository } from '../../store/ArchiveRepository';
import type { DeliveryRepository } from '../../store/DeliveryRepository';
import type { RouteModule } from '../HttpServer';
import { allow } from '../access';

/** At most this many archives are summarized in one request. */
const MAX_SUMMARIES = 500;
const ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface ArchiveSummaryDeps {
  archives: ArchiveRepository;
  deliveries: DeliveryRepository;
  posters: PosterMaker;
  archiveDir(archiveId: string): string;
}

/** One archive's participants, poster and delivery state. */
export function summarize(deps: ArchiveSummaryDeps, archiveId: string): ArchiveSummary {
  const files = deps.archives.files(archiveId);
  const participants: string[] = [];
  for (const file of [...files].sort((a, b) => a.startOffsetMs - b.startOffsetMs)) {
    const name = typeof file.info.connectionData === 'string' ? file.info.connectionData.trim() : '';
    if (name !== '' && !participants.includes(name)) participants.push(name);
  }
  const deliveries = { total: 0, succeeded: 0, failed: 0, pending: 0 };
  for (const d of deps.deliveries.forArchive(archiveId)) {
    if (d.status === 'canceled') continue;
    deliveries.total += 1;
    if (d.status === 'succeeded') deliveries.succeeded += 1;
    else if (d.status === 'failed') deliveries.failed += 1;
    else deliveries.pending += 1;
  }
  const poster = existsSync(join(deps.archiveDir(archiveId), POSTER_FILE)) || posterSource(files) !== null;
  return { id: archiveId, participants, poster, deliveries };
}

/**
 * What makes recordings findable in the operator UI: a summary per archive (participants,
 * poster, delivery state) and the poster frame itself, behind the same auth as every `/api` route.
 */
export function archiveSummaryRoutes(deps: ArchiveSummaryDeps): RouteModule {
  return (app: FastifyInstance) => {
    app.get<{ Querystring: { ids?: string } }>(
      '/api/archives/summaries',
      allow('operator'),
      async (request) => {
        const ids =
          typeof request.query.ids === 'string' && request.query.ids !== ''
            ? request.query.ids.split(',')
            : deps.archives.list({ count: MAX_SUMMARIES }).items.map((a) => a.id);
        if (ids.length > MAX_SUMMARIES)
          throw new StudioError('InvalidArgument', `at most ${MAX_SUMMARIES} ids at a time`, 'ids');
        const bad = ids.find((id) => !ID.test(id));
        if (bad !== undefined)
          throw new StudioError('InvalidArgument', `"${bad}" is not an archive id`, 'ids');
        return { items: ids.filter((id) => deps.archives.get(id) !== null).map((id) => summarize(deps, id)) };
      },
    );

    app.get<{ Params: { id: string } }>(
      '/api/archives/:id/poster',
      allow('operator'),
      async (request, reply) => {
        const { id } = request.params;
        const record = ID.test(id) ? deps.archives.get(id) : null;
        if (record === null || record.status === 'deleted' || record.status === 'expired')
          throw new StudioError('NotFound', `archive ${id} does not exist`, 'archiveId');
        if (record.status !== 'available' && record.status !== 'uploaded')
          throw new StudioError('NotFound', `archive ${id} has no poster until it is available`, 'archiveId');
        const path = await deps.posters.poster(id);
        if (path === null)
          throw new StudioError('NotFound', `archive ${id} has no video to take a poster from`);
        return reply
          .type('image/jpeg')
          .header('cache-control', 'private, max-age=3600')
          .send(createReadStream(path));
      },
    );
  };
}
