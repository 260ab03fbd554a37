/** Composition events (Twilio-style composition callbacks). Owned by the composition part. */
export interface CompositionEventPayloads {
  'composition.enqueued': { compositionId: string; archiveId: string };
  'composition.started': { compositionId: string; archiveId: string };
  'composition.progress': { compositionId: string; archiveId: string; percent: number };
  'composition.available': {
    compositionId: string;
    archiveId: string;
    filename: string;
    size: number;
    duration: number;
  };
  'composition.failed': { compositionId: string; archiveId: string; error: string };
}
