import { promises as dns, type LookupAddress } from 'node:dns';
import { request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { Readable } from 'node:stream';
import { StudioError } from '../../shared/errors';

/**
 * Addresses a request to a user-given host must not reach unless the operator allowed it: the
 * IANA special-purpose ranges that are not globally reachable (RFC 6890 and its updates).
 */
const PRIVATE = new BlockList();
PRIVATE.addSubnet('0.0.0.0', 8, 'ipv4'); // "this network"
PRIVATE.addSubnet('127.0.0.0', 8, 'ipv4'); // loopback
PRIVATE.addSubnet('10.0.0.0', 8, 'ipv4');
PRIVATE.addSubnet('100.64.0.0', 10, 'ipv4'); // carrier-grade NAT
PRIVATE.addSubnet('169.254.0.0', 16, 'ipv4'); // link-local, cloud metadata
PRIVATE.addSubnet('172.16.0.0', 12, 'ipv4');
PRIVATE.addSubnet('192.0.0.0', 24, 'ipv4'); // IETF protocol assignments
PRIVATE.addSubnet('192.0.2.0', 24, 'ipv4'); // documentation (TEST-NET-1)
PRIVATE.addSubnet('192.168.0.0', 16, 'ipv4');
PRIVATE.addSubnet('198.18.0.0', 15, 'ipv4'); // benchmarking
PRIVATE.addSubnet('198.51.100.0', 24, 'ipv4'); // documentation (TEST-NET-2)
PRIVATE.addSubnet('203.0.113.0', 24, 'ipv4'); // documentation (TEST-NET-3)
PRIVATE.addSubnet('224.0.0.0', 3, 'ipv4'); // multicast, reserved, broadcast
PRIVATE.addSubnet('::', 96, 'ipv6'); // unspecified, loopback, IPv4-compatible (deprecated)
PRIVATE.addSubnet('::ffff:0:0:0', 96, 'ipv6'); // IPv4-translated (SIIT)
PRIVATE.addSubnet('64:ff9b:1::', 48, 'ipv6'); // local-use NAT64
PRIVATE.addSubnet('100::', 64, 'ipv6'); // discard-only
PRIVATE.addSubnet('2001:2::', 48, 'ipv6'); // benchmarking
PRIVATE.addSubnet('2001:db8::', 32, 'ipv6'); // documentation
PRIVATE.addSubnet('fc00::', 7, 'ipv6'); // unique-local
PRIVATE.addSubnet('fe80::', 10, 'ipv6'); // link-local
PRIVATE.addSubnet('fec0::', 10, 'ipv6'); // site-local (deprecated, still routed on some LANs)
PRIVATE.addSubnet('ff00::', 8, 'ipv6'); // multicast

/** Cloud metadata services: never a destination, even where private addresses are allowed. */
const METADATA = new Set(['169.254.169.254', 'fd00:ec2::254', '169.254.170.2']);

/** The 16 bytes of an IPv6 address (zone id dropped), or null when it is not one. */
function ipv6Bytes(address: string): Uint8Array | null {
  let text = address.replace(/%.*$/, '');
  if (isIP(text) !== 6) return null;
  const bytes = new Uint8Array(16);
  // A dotted IPv4 tail (`::ffff:1.2.3.4`) is the last two groups.
  const dotted = /^(.*:)(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted !== null) {
    const [a, b, c, d] = dotted.slice(2).map(Number) as [number, number, number, number];
    text = `${dotted[1]}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::') as [string, string | undefined];
  const groupsOf = (part: string) => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const left = groupsOf(head);
  const right = tail === undefined ? [] : groupsOf(tail);
  const groups = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  groups.forEach((group, i) => {
    bytes[2 * i] = group >> 8;
    bytes[2 * i + 1] = group & 0xff;
  });
  return bytes;
}

const ipv4Of = (bytes: Uint8Array, at: number, xor = 0): string =>
  Array.from(bytes.subarray(at, at + 4), (b) => b ^ xor).join('.');

/**
 * The IPv4 address an IPv6 address stands for or carries, which decides where it goes:
 * IPv4-mapped (`::ffff:a9fe:a9fe` is 169.254.169.254, however written), NAT64 (64:ff9b::/96),
 * 6to4 (2002::/16) and Teredo (2001::/32, the client address inverted). Null: none.
 */
export function embeddedIPv4(address: string): string | null {
  const bytes = ipv6Bytes(address);
  if (bytes === null) return null;
  const zeros = (from: number, to: number) => bytes.subarray(from, to).every((b) => b === 0);
  if (zeros(0, 10) && bytes[10] === 0xff && bytes[11] === 0xff) return ipv4Of(bytes, 12);
  if (bytes[0] === 0x00 && bytes[1] === 0x64 && bytes[2] === 0xff && bytes[3] === 0x9b && zeros(4, 12))
    return ipv4Of(bytes, 12);
  if (bytes[0] === 0x20 && bytes[1] === 0x02) return ipv4Of(bytes, 2);
  if (bytes[0] === 0x20 && bytes[1] === 0x01 && bytes[2] === 0 && bytes[3] === 0)
    return ipv4Of(bytes, 12, 0xff);
  return null;
}

/** An address in one spelling: IPv4 for mapped addresses, lower-case compressed IPv6 otherwise. */
function canonical(address: string): string {
  const bytes = ipv6Bytes(address);
  if (bytes === null) return address;
  const mapped = embeddedIPv4(address);
  if (mapped !== null && bytes.subarray(0, 10).every((b) => b === 0)) return mapped;
  const groups = Array.from({ length: 8 }, (_, i) => ((bytes[2 * i]! << 8) | bytes[2 * i + 1]!).toString(16));
  // The longest run of zero groups (two or more) becomes `::`, as RFC 5952 writes it.
  let best = { at: -1, length: 1 };
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > best.length) best = { at: i, length: j - i };
    i = j === i ? i + 1 : j;
  }
  if (best.at < 0) return groups.join(':');
  return `${groups.slice(0, best.at).join(':')}::${groups.slice(best.at + best.length).join(':')}`;
}

/** Whether an address is a cloud metadata service, in any spelling or IPv6 wrapping. */
export function isMetadataAddress(address: string): boolean {
  const embedded = embeddedIPv4(address);
  return METADATA.has(canonical(address)) || (embedded !== null && METADATA.has(embedded));
}

/** Whether an IP address is loopback, link-local, private or otherwise not on the internet. */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address.replace(/%.*$/, ''));
  if (family === 4) return PRIVATE.check(address, 'ipv4');
  if (family === 6) {
    // An IPv6 address carrying an IPv4 one goes where that one goes: check both.
    const embedded = embeddedIPv4(address);
    if (embedded !== null && PRIVATE.check(embedded, 'ipv4')) return true;
    return PRIVATE.check(address.replace(/%.*$/, ''), 'ipv6');
  }
  return true;
}

export interface OutboundOptions {
  /** The operator allowed loopback/LAN addresses for this destination (a NAS, MinIO on the LAN). */
  allowPrivateNetwork?: boolean;
}

/** Refuses a host whose addresses include a metadata or (unless allowed) a private one. */
function check(host: string, addresses: readonly string[], options: OutboundOptions): void {
  const metadata = addresses.find(isMetadataAddress);
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
