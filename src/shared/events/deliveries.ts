/** Delivery events: a file's upload to a target. Owned by the delivery part. */
export interface DeliveryEventPayloads {
  'delivery.queued': { deliveryId: string; archiveId: string; targetId: string; file: string };
  'delivery.progress': {
    deliveryId: string;
    archiveId: string;
    targetId: string;
    file: string;
    bytes: number;
    size: number;
    rate: number;
  };
  'delivery.succeeded': {
    deliveryId: string;
    archiveId: string;
    targetId: string;
    targetName: string;
    targetKind: string;
    file: string;
    remotePath: string;
    url: string | null;
    size: number;
  };
  'delivery.failed': {
    deliveryId: string;
    archiveId: string;
    targetId: string;
    targetName: string;
    targetKind: string;
    file: string;
    error: string;
    retryAt: number | null;
  };
}
