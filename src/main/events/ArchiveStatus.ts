import type { ArchiveJson, ArchiveReason, ArchiveStatus as Status } from '../../shared/archive';
import { notFound } from '../../shared/errors';
import {
  toArchiveJson,
  type ArchiveJsonContext,
  type ArchiveRecord,
  type ArchiveRepository,
} from '../store/ArchiveRepository';
import { faultPoint } from '../util/fault';
import type { EventBus } from './EventBus';

/**
 * Changes an archive's status and announces it: one row update and one `archive.<status>` event
 * carrying OpenTok's callback fields. Recording, composition and delivery all change statuses
 * through this one place.
 */
export class ArchiveStatus {
  readonly #repo: ArchiveRepository;
  readonly #bus: EventBus;
  readonly #ctx: ArchiveJsonContext;

  constructor(repo: ArchiveRepository, bus: EventBus, ctx: ArchiveJsonContext) {
    this.#repo = repo;
    this.#bus = bus;
    this.#ctx = { ...ctx };
  }

  /** Base URL of the file server in archive URLs (known once the HTTP listener is up). */
  set baseUrl(url: string) {
    this.#ctx.baseUrl = url;
  }

  get repo(): ArchiveRepository {
    return this.#repo;
  }

  /** The archive as the API shows it. */
  json(id: string): ArchiveJson {
    const record = this.#repo.get(id);
    if (record === null || record.status === 'deleted')
      throw notFound(`archive ${id} does not exist`, 'archiveId');
    return this.toJson(record);
  }

  toJson(record: ArchiveRecord): ArchiveJson {
    return toArchiveJson(record, this.#repo.streams(record.id), this.#ctx);
  }

  /**
   * Sets the status (with a reason and other fields) and publishes `archive.<status>`: the row
   * and the event commit in one transaction, so a crash never leaves one without the other.
   * `detail` says more about a `failure` ("disk full").
   */
  set(
    id: string,
    status: Status,
    patch: Partial<Pick<ArchiveRecord, 'size' | 'duration' | 'stoppedAt' | 'expireAt'>> & {
      reason?: ArchiveReason;
      detail?: string;
    } = {},
  ): ArchiveRecord {
    const { detail, ...fields } = patch;
    return this.#bus.commit(
      () => {
        const options =
          detail === undefined
            ? undefined
            : { ...(this.#repo.get(id)?.options ?? {}), failureDetail: detail };
        return this.#repo.update(id, { ...fields, status, ...(options ? { options } : {}) });
      },
      (record) => ({
        type: `archive.${status}`,
        data: this.toJson(record),
        options: { roomId: record.roomId, archiveId: record.id },
      }),
      () => faultPoint('archive.afterStatus', status),
    );
  }
}
