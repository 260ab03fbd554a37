import { promises as dns, type LookupAddress } from 'node:dns';
import { request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { Readable } from 'node:stream';
import { StudioError } from '../../shared/errors';

/** Addresses a request to a user-given host must not reach unless the operator allowed it. */
const PRIVATE = new BlockList();
PRIVATE.addSubnet('0.0.0.0', 8, 'ipv4');
PRIVATE.addSubnet('127.0.0.0', 8, 'ipv4'); // loopback
PRIVATE.addSubnet('10.0.0.0', 8, 'ipv4');
PRIVATE.addSubnet('100.64.0.0', 10, 'ipv4'); // carrier-grade NAT
PRIVATE.addSubnet('169.254.0.0', 16, 'ipv4'); // link-local, cloud metadata
PRIVATE.addSubnet('172.16.0.0', 12, 'ipv4');
PRIVATE.addSubnet('192.168.0.0', 16, 'ipv4');
PRIVATE.addSubnet('224.0.0.0', 3, 'ipv4'); // multicast and reserved
PRIVATE.addAddress('::', 'ipv6');
PRIVATE.addAddress('::1', 'ipv6');
PRIVATE.addSubnet('fc00::', 7, 'ipv6'); // unique-local
PRIVATE.addSubnet('fe80::', 10, 'ipv6'); // link-local
PRIVATE.addSubnet('ff00::', 8, 'ipv6'); // multicast

/** Cloud metadata services: never a destination, even where private addresses are allowed. */
const METADATA = new Set(['169.254.169.254', 'fd00:ec2::254', '169.254.170.2']);

/** Whether an IP address is loopback, link-local, private or otherwise not on the internet. */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return PRIVATE.check(address, 'ipv4');
  if (family === 6) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    if (mapped !== null) return PRIVATE.check(mapped[1]!, 'ipv4');
    return PRIVATE.check(address, 'ipv6');
  }
  return true;
}

export interface OutboundOptions {
  /** The operator allowed loopback/LAN addresses for this destination (a NAS, MinIO on the LAN). */
  allowPrivateNetwork?: boolean;
}

/** Refuses a host whose addresses include a metadata or (unless allowed) a private one. */
function check(host: string, addresses: readonly string[], options: OutboundOptions): void {
  const metadata = addresses.find((a) => METADATA.has(a.toLowerCase()));
  if (metadata !== undefined) {
    throw new StudioError('PermissionDenied', `${host} is a cloud metadata address (${metadata})`, 'host');
  }
  if (options.allowPrivateNetwork === true) return;
  const blocked = addresses.find(isPrivateAddress);
  if (blocked !== undefined) {
    throw new StudioError(
      'PermissionDenied',
      `${host} is a loopback, link-local or private address (${blocked}); set allowPrivateNetwork on this destination to allow it`,
      'host',
    );
  }
}

/** Resolves a host (an IP literal is its own address) and checks every address it has. */
async function resolveChecked(host: string, options: OutboundOptions): Promise<LookupAddress[]> {
  const bare = host.replace(/^\[|\]$/g, '');
  let addresses: LookupAddress[];
  const family = isIP(bare);
  if (family !== 0) addresses = [{ address: bare, family }];
  else {
    try {
      // Read at call time (not imported by name): tests stand in for the resolver.
      addresses = await dns.lookup(bare, { all: true, order: 'verbatim' });
    } catch (error) {
      throw new StudioError('Unavailable', `${host} does not resolve (${(error as Error).message})`, 'host');
    }
  }
  check(
    host,
    addresses.map((a) => a.address),
    options,
  );
  return addresses;
}

/**
 * Resolves a host and refuses it when any of its addresses is private (unless allowed): the one
 * check every outbound request to a user-given host passes (webhooks, targets, remote playback).
 * It gives the clear error before connecting; what keeps a second DNS answer from going
 * elsewhere is `pinnedLookup`, which checks the addresses actually connected to.
 */
export async function guardHost(host: string, options: OutboundOptions = {}): Promise<void> {
  await resolveChecked(host, options);
}

/**
 * The address to connect to for a client that cannot take a `lookup` (basic-ftp, ssh2): one of
 * the checked addresses (IPv4 first: the one most networks reach), so the client is handed an
 * IP literal and does not resolve the name again.
 */
export async function pinnedAddress(host: string, options: OutboundOptions = {}): Promise<string> {
  const addresses = await resolveChecked(host, options);
  return (addresses.find((a) => a.family === 4) ?? addresses[0]!).address;
}

/**
 * A `lookup` for net/tls/http connections to a user-given host: resolves at connect time,
 * refuses metadata and (unless allowed) private addresses, and hands the socket only the
 * addresses it checked. Checking a name and then letting the client resolve it again would
 * let a rebinding DNS answer a public address to the check and 127.0.0.1 to the connection.
 * (Node skips `lookup` for IP literals: `guardHost` checks those.)
 */
export function pinnedLookup(options: OutboundOptions): LookupFunction {
  return (hostname, lookupOptions, callback) => {
    resolveChecked(hostname, options).then(
      (addresses) => {
        const wanted =
          lookupOptions.family === 'IPv4' ? 4 : lookupOptions.family === 'IPv6' ? 6 : lookupOptions.family;
        const usable =
          wanted === 4 || wanted === 6 ? addresses.filter((a) => a.family === wanted) : addresses;
        const first = usable[0];
        if (first === undefined) {
          const error = Object.assign(new Error(`${hostname} has no IPv${wanted} address`), {
            code: 'ENOTFOUND',
          });
          callback(error, '', 0);
        } else if (lookupOptions.all === true) callback(null, usable);
        else callback(null, first.address, first.family);
      },
      (error: Error) => callback(error as NodeJS.ErrnoException, '', 0),
    );
  };
}

export interface GuardedRequestInit {
  method?: string;
  headers?: OutgoingHttpHeaders;
  body?: string | Buffer;
  signal?: AbortSignal;
}

/**
 * One HTTP(S) request to a user-given URL through the guard: the host is checked up front (the
 * clear error, IP literals) and again at connect time by `pinnedLookup`, so the address
 * checked is the address connected to. No connection is kept for another request (a kept
 * socket would outlive the decision that allowed it). Redirects are not followed. Resolves
 * with the answer once its headers are in; the caller reads or destroys the body.
 */
export async function guardedRequest(
  url: URL,
  init: GuardedRequestInit,
  options: OutboundOptions = {},
): Promise<IncomingMessage> {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new StudioError(
      'InvalidArgument',
      `only http and https URLs are fetched, not ${url.protocol}`,
      'url',
    );
  }
  await guardHost(url.hostname, options);
  init.signal?.throwIfAborted();
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<IncomingMessage>((resolve, reject) => {
    const request = send(url, {
      method: init.method ?? 'GET',
      headers: init.headers,
      lookup: pinnedLookup(options),
      agent: false,
      ...(init.signal !== undefined ? { signal: init.signal } : {}),
    });
    request.once('response', resolve);
    request.once('error', (error) => {
      // An abort says why (the caller's deadline), not just "aborted".
      reject(init.signal?.aborted === true ? init.signal.reason : error);
    });
    request.end(init.body);
  });
}

export interface GuardedFetchOptions extends OutboundOptions {
  /** Whole request deadline, headers included (default 15 s). */
  timeoutMs?: number;
  /** Redirects followed, each checked again (default 5). */
  maxRedirects?: number;
}

/** The status codes whose answer has no body (a Response refuses one). */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/**
 * fetch through the guard: checks the host, and each redirect's host again, connects only to
 * checked addresses (`guardedRequest`), with a deadline.
 */
export async function guardedFetch(
  url: string,
  init: { method?: string; headers?: Record<string, string> } = {},
  options: GuardedFetchOptions = {},
): Promise<Response> {
  // The deadline covers connecting and the answer's headers, not a long media body after them.
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new DOMException('no answer in time', 'TimeoutError')),
    options.timeoutMs ?? 15_000,
  );
  try {
    return await follow(url, init, options, controller.signal);
  } finally {
    clearTimeout(timer);
  }
}

async function follow(
  url: string,
  init: { method?: string; headers?: Record<string, string> },
  options: GuardedFetchOptions,
  signal: AbortSignal,
): Promise<Response> {
  let current = new URL(url);
  let headers = { ...init.headers };
  for (let hop = 0; ; hop++) {
    const response = await guardedRequest(current, { method: init.method, headers, signal }, options);
    const status = response.statusCode ?? 0;
    const location = response.headers.location;
    if (status < 300 || status >= 400 || location === undefined) return toResponse(response, init.method);
    response.destroy();
    if (hop >= (options.maxRedirects ?? 5)) {
      throw new StudioError('Unavailable', `${url} redirects more than ${options.maxRedirects ?? 5} times`);
    }
    const next = new URL(location, current);
    // Credentials never follow a redirect to another origin.
    if (next.origin !== current.origin) {
      headers = Object.fromEntries(
        Object.entries(headers).filter(([name]) => name.toLowerCase() !== 'authorization'),
      );
    }
    current = next;
  }
}

/** A node:http answer as a fetch Response (its body streamed, not read). */
function toResponse(message: IncomingMessage, method = 'GET'): Response {
  const status = message.statusCode ?? 0;
  if (status < 200 || status > 599) {
    message.destroy();
    throw new StudioError('Unavailable', `the server answered an invalid status (${status})`);
  }
  const headers = new Headers();
  for (let i = 0; i + 1 < message.rawHeaders.length; i += 2) {
    try {
      headers.append(message.rawHeaders[i]!, message.rawHeaders[i + 1]!);
    } catch {
      // A header fetch would not accept either: left out.
    }
  }
  const empty = NULL_BODY.has(status) || method.toUpperCase() === 'HEAD';
  if (empty) message.resume();
  return new Response(empty ? null : (Readable.toWeb(message) as ReadableStream<Uint8Array>), {
    status,
    headers,
  });
}
