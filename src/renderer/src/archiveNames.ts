import type { ArchiveJson } from '../../shared/archive';

/**
 * The name the UI shows for an archive: its own name, or "<room name> — <local date and time>"
 * for one started without a name. Display only: the archive's `name` stays as the client set it.
 */
export function archiveDisplayName(
  archive: Pick<ArchiveJson, 'name' | 'createdAt'>,
  roomName: string | null,
): string {
  if (archive.name !== null && archive.name.trim() !== '') return archive.name;
  const when = new Date(archive.createdAt).toLocaleString(undefined, {
    dateStyle: 'medium',
    timeStyle: 'short',
  });
  return `${roomName ?? 'Recording'} — ${when}`;
}
