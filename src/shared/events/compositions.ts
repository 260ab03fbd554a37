import type { CompositionFormat, CompositionKind } from '../compositions';

/**
 * What every composition event carries. The composition service always sets every field; the
 * ones after `archiveId` are optional so that events published by older code still type-check.
 */
export interface CompositionEventBase {
  compositionId: string;
  archiveId: string;
  roomId?: string;
  /** `archive`: the composed archive's `archive.mp4`; `composition`: API or hook. */
  kind?: CompositionKind;
  /** The hook that created the composition, if one did. */
  hookId?: string | null;
}

/** Composition events (Twilio-style composition callbacks). Owned by the composition part. */
export interface CompositionEventPayloads {
  /** Created and waiting for its turn. */
  'composition.enqueued': CompositionEventBase;
  /** Taken from the queue: ffmpeg runs. */
  'composition.started': CompositionEventBase;
  /**
   * Percent done. Published about once a second without persisting; every 10 % step is
   * persisted (so webhooks get Twilio's composition-progress callbacks, not a flood).
   */
  'composition.progress': CompositionEventBase & { percent: number };
  /** The file is ready and registered as an archive file of kind `composition`. */
  'composition.available': CompositionEventBase & {
    /** Relative to the archive's folder, e.g. `compositions/<id>.mp4` or `archive.mp4`. */
    filename: string;
    /** Bytes. */
    size: number;
    /** Seconds of media. */
    duration: number;
    format?: CompositionFormat;
    resolution?: string;
  };
  'composition.failed': CompositionEventBase & { error: string };
  /** Deleted through the API (its file is removed). */
  'composition.deleted': CompositionEventBase;
}
