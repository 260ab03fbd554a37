import type { ArchiveJson, ArchiveReason, ArchiveStatus as Status } from '../../shared/archive';
import { notFound } from '../../shared/errors';
import {
  toArchiveJson,
  type ArchiveJsonContext,
  type ArchiveRecord,
  type ArchiveRepository,
} from '../store/ArchiveRepository';
import { faultPoint } from '../util/fault';
import type { SignedLinks } from '../security/SignedLinks';
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
  #links: SignedLinks | null = null;

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

  /** Mints signed download links for REST answers (set by the composition root). */
  set links(links: SignedLinks) {
    this.#links = links;
  }

  get links(): SignedLinks | null {
    return this.#links;
  }

  /** The archive as the API shows it. */
  json(id: string): ArchiveJson {
    const record = this.#repo.get(id);
    if (record === null || record.status === 'deleted')
      throw notFound(`archive ${id} does not exist`, 'archiveId');
    return this.restJson(record);
  }

  /** The archive as status callbacks and events carry it. */
  toJson(record: ArchiveRecord): ArchiveJson {
    return toArchiveJson(record, this.#repo.streams(record.id), this.#ctx);
  }

  /**
   * The archive as REST calls answer it: `createdAt` when recording began, `url` a signed link
   * minted now (OpenTok: download URLs come only from REST calls and expire after 10 minutes).
   */
  restJson(record: ArchiveRecord): ArchiveJson {
    const links = this.#links;
    return toArchiveJson(record, this.#repo.streams(record.id), {
      ...this.#ctx,
      rest: {
        url: (archiveId, file) =>
          links === null
            ? `${this.#ctx.baseUrl}/files/${archiveId}/${file}`
            : links.mint(this.#ctx.baseUrl, archiveId, file).url,
      },
    });
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
