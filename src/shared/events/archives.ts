import type { ArchiveJson } from '../archive';

/** Archive status changes carry the archive as OpenTok's status callback does. */
export interface ArchiveEventPayloads {
  'archive.started': ArchiveJson;
  'archive.paused': ArchiveJson;
  'archive.stopped': ArchiveJson;
  'archive.available': ArchiveJson;
  'archive.uploaded': ArchiveJson;
  'archive.failed': ArchiveJson;
  'archive.expired': ArchiveJson;
  'archive.deleted': ArchiveJson;
  /** Recording statistics while recording (not persisted). */
  'archive.progress': {
    archiveId: string;
    durationSec: number;
    size: number;
    /** Frames dropped so far because the disk could not keep up (shown to the operator). */
    framesDropped?: { backpressure: number };
  };
}
