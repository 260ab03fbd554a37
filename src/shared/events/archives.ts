import type { ArchiveJson, FramesDropped } from '../archive';

/** One finalized recording file (a stream segment or a split file), as per-file events carry it. */
export interface ArchiveFileEvent {
  archiveId: string;
  roomId: string;
  streamId: string | null;
  connectionId: string | null;
  /** Relative to the archive folder, e.g. `<streamId>.webm` or `split/<streamId>_0001.webm`. */
  filename: string;
  /** Its metadata JSON beside it (`<filename>.json`). */
  metadataFilename: string;
  kind: 'media' | 'split';
  /** Bytes. */
  size: number;
  /** ms from the archive's start call to the file's first media. */
  startTimeOffset: number;
  /** ms from the archive's start call to the file's end. */
  stopTimeOffset: number;
  /** Path on the protected file server (Basic auth), e.g. `/files/<archiveId>/<filename>`. */
  path: string;
  /** Split files: the index in the file name (1, 2, …). */
  splitIndex?: number;
}

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
  /** A stream segment's file is final (while the archive may still record). */
  'archive.file.available': ArchiveFileEvent;
  /** A split file is final (Sora's `split-archive-*`). */
  'split-archive.available': ArchiveFileEvent & { splitIndex: number };
  /** The last split file of a stream segment is final (Sora's `split-archive-end-*`). */
  'split-archive-end.available': Omit<ArchiveFileEvent, 'kind' | 'size' | 'splitIndex'> & {
    /** Index of the last split file. */
    splitLastIndex: number;
    /** The split files of the segment. */
    files: string[];
  };
  /** Recording statistics while recording (not persisted). */
  'archive.progress': {
    archiveId: string;
    durationSec: number;
    size: number;
    /** Frames this archive dropped so far, by reason (shown to the operator). */
    framesDropped?: FramesDropped;
    /** The streams being recorded now: frames each track of its current file dropped so far. */
    streams?: Array<{ streamId: string; framesDropped: Partial<Record<'audio' | 'video', FramesDropped>> }>;
  };
}
