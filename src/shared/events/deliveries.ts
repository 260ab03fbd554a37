import type { DestinationReason, TargetKind, TestStage } from '../targets';

/** Who a delivery event is about: the file, the target and where the file goes. */
export interface DeliveryRef {
  deliveryId: string;
  archiveId: string;
  targetId: string;
  targetName: string;
  targetKind: TargetKind;
  /** The file's path inside the archive folder. */
  file: string;
  /** Where it goes under the target's folder, bucket or container. */
  remotePath: string;
}

/** Delivery events: a file's upload to a target. Owned by the delivery part. */
export interface DeliveryEventPayloads {
  'delivery.queued': DeliveryRef & { size: number };
  /** Bytes stored so far (not persisted; at most 2 per second per delivery). */
  'delivery.progress': DeliveryRef & {
    bytes: number;
    size: number;
    /** Bytes per second over this attempt. */
    rate: number;
  };
  /** The file landed, whole and verified: the "file delivered" notification. */
  'delivery.succeeded': DeliveryRef & {
    /** Where it landed (no credentials). */
    url: string;
    size: number;
    attempts: number;
  };
  /**
   * An attempt failed. Errors the user must fix (bad credentials, missing bucket) are reported on
   * the first attempt; transient ones from the third on. `retryAt` is null when the delivery gave up.
   */
  'delivery.failed': DeliveryRef & {
    error: string;
    reason: DestinationReason;
    stage: TestStage | 'upload' | 'verify';
    permanent: boolean;
    attempts: number;
    retryAt: number | null;
  };
  'delivery.canceled': DeliveryRef;
}
