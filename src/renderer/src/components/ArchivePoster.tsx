import { useEffect, useState } from 'react';
import { useStudio } from '../store';

/**
 * An object URL of an archive's poster frame. The poster sits behind the operator's bearer token,
 * which an <img> cannot send, so it is fetched here; the URL is revoked when no longer shown.
 */
export function usePosterUrl(archiveId: string, enabled: boolean): string | null {
  const api = useStudio((s) => s.api);
  const [url, setUrl] = useState<string | null>(null);
  useEffect(() => {
    if (!enabled || api.token === null) return undefined;
    let objectUrl: string | null = null;
    let cancelled = false;
    void fetch(`${api.base}/api/archives/${archiveId}/poster`, {
      headers: { authorization: `Bearer ${api.token}` },
    })
      .then(async (response) => {
        if (!response.ok || cancelled) return;
        objectUrl = URL.createObjectURL(await response.blob());
        if (cancelled) URL.revokeObjectURL(objectUrl);
        else setUrl(objectUrl);
      })
      .catch(() => undefined);
    return () => {
      cancelled = true;
      if (objectUrl !== null) URL.revokeObjectURL(objectUrl);
    };
  }, [api, archiveId, enabled]);
  return url;
}

/** A small picture of the archive (its poster frame), or a plain tile while there is none. */
export function ArchivePoster({
  archiveId,
  enabled,
  alt,
}: {
  archiveId: string;
  enabled: boolean;
  alt: string;
}) {
  const url = usePosterUrl(archiveId, enabled);
  if (url === null)
    return <div className="poster poster-empty" role="img" aria-label={`${alt} (no picture yet)`} />;
  return <img className="poster" src={url} alt={alt} data-testid="archive-poster" />;
}
