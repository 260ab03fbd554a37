import type { ArchiveSummary } from '../../../shared/archive';

/** Where an archive's files stand with the delivery targets, in a few words. */
export function DeliveryState({ deliveries }: { deliveries: ArchiveSummary['deliveries'] | undefined }) {
  if (deliveries === undefined) return <span className="muted">—</span>;
  const { total, succeeded, failed, pending } = deliveries;
  if (total === 0) return <span className="muted">not sent</span>;
  if (failed > 0)
    return (
      <span className="badge badge-failed">
        {failed} of {total} failed
      </span>
    );
  if (pending > 0)
    return (
      <span className="badge badge-uploading">
        sending {succeeded}/{total}
      </span>
    );
  return <span className="badge badge-succeeded">delivered</span>;
}
