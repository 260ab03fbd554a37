/** Gives <video> elements the credentials of the file server through the player service worker. */

let ready: Promise<ServiceWorker | null> | null = null;

function worker(): Promise<ServiceWorker | null> {
  ready ??= (async () => {
    if (!('serviceWorker' in navigator)) return null;
    await navigator.serviceWorker.register('/sw.js', { scope: '/' });
    const registration = await navigator.serviceWorker.ready;
    // The page must be controlled for the worker to see its media requests.
    if (!navigator.serviceWorker.controller) {
      await new Promise<void>((resolve) => {
        navigator.serviceWorker.addEventListener('controllerchange', () => resolve(), { once: true });
        setTimeout(resolve, 3000);
      });
    }
    return registration.active;
  })().catch(() => null);
  return ready;
}

async function post(message: unknown): Promise<void> {
  const active = await worker();
  if (active === null) throw new Error('this browser cannot play protected files (no service workers)');
  await new Promise<void>((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => resolve();
    active.postMessage(message, [channel.port2]);
  });
}

/** Requests to URLs starting with `prefix` carry this Authorization header from now on. */
export async function authorizePrefix(prefix: string, authorization: string | null): Promise<void> {
  await post({ type: 'auth', prefix: new URL(prefix, location.href).toString(), authorization });
}

export function basicAuthorization(user: string, password: string): string {
  return `Basic ${btoa(unescape(encodeURIComponent(`${user}:${password}`)))}`;
}

/** Forgets every credential (log out). */
export async function clearPlayerCredentials(): Promise<void> {
  if (ready !== null) await post({ type: 'clear' }).catch(() => {});
}
