import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { freePort } from './processes';

/** One POST the receiver answered. */
export interface ReceivedRequest {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** Status the receiver answered with. */
  status: number;
  at: number;
}

/** A webhook receiver (node:http on 127.0.0.1) that can be down, or answer errors, for a while. */
export interface WebhookReceiver {
  port: number;
  url(path?: string): string;
  /** Every request answered, in arrival order (failed ones included). */
  requests: ReceivedRequest[];
  /** Requests answered 2xx. */
  accepted(): ReceivedRequest[];
  /** Answers with this status (e.g. 503) instead of 204 until set back to null. */
  failWith: number | null;
  /** Starts listening (on the same port each time). */
  listen(): Promise<void>;
  /** Stops listening; connections are refused until `listen` again. */
  stop(): Promise<void>;
  /** Resolves when `predicate` holds for the accepted requests. */
  waitFor(
    predicate: (accepted: ReceivedRequest[]) => boolean,
    timeoutMs?: number,
  ): Promise<ReceivedRequest[]>;
  close(): Promise<void>;
}

/** Creates a receiver on a free port; it does not listen until `listen()` unless told. */
export async function createWebhookReceiver(options: { listen?: boolean } = {}): Promise<WebhookReceiver> {
  const port = await freePort();
  let server: Server | null = null;
  const waiters = new Set<() => void>();
  const receiver: WebhookReceiver = {
    port,
    url: (path = '/hook') => `http://127.0.0.1:${port}${path}`,
    requests: [],
    failWith: null,
    accepted: () => receiver.requests.filter((r) => r.status < 300),
    async listen() {
      if (server !== null) return;
      server = createServer((request, response) => {
        const chunks: Buffer[] = [];
        request.on('data', (chunk: Buffer) => chunks.push(chunk));
        request.on('end', () => {
          const status = receiver.failWith ?? 204;
          receiver.requests.push({
            path: request.url ?? '/',
            headers: request.headers,
            body: Buffer.concat(chunks).toString('utf8'),
            status,
            at: Date.now(),
          });
          response.writeHead(status).end();
          for (const wake of waiters) wake();
        });
      });
      server.listen(port, '127.0.0.1');
      await once(server, 'listening');
    },
    async stop() {
      const current = server;
      server = null;
      if (current === null) return;
      current.closeAllConnections();
      await new Promise<void>((resolve) => current.close(() => resolve()));
    },
    async waitFor(predicate, timeoutMs = 20_000) {
      if (predicate(receiver.accepted())) return receiver.accepted();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(
            new Error(
              `webhook receiver: condition not met within ${timeoutMs} ms; got ${receiver.requests.length} requests`,
            ),
          );
        }, timeoutMs);
        const check = () => {
          if (!predicate(receiver.accepted())) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(receiver.accepted());
        };
        waiters.add(check);
      });
    },
    close: () => receiver.stop(),
  };
  if (options.listen !== false) await receiver.listen();
  return receiver;
}
