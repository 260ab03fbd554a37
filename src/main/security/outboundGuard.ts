import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
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

/**
 * Resolves a host and refuses it when any of its addresses is private (unless allowed): the one
 * check every outbound request to a user-given host passes (webhooks, targets, remote playback).
 */
export async function guardHost(host: string, options: OutboundOptions = {}): Promise<void> {
  const bare = host.replace(/^\[|\]$/g, '');
  let addresses: string[];
  if (isIP(bare) !== 0) addresses = [bare];
  else {
    try {
      addresses = (await lookup(bare, { all: true, verbatim: true })).map((a) => a.address);
    } catch (error) {
      throw new StudioError('Unavailable', `${host} does not resolve (${(error as Error).message})`, 'host');
    }
  }
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

export interface GuardedFetchOptions extends OutboundOptions {
  /** Whole request deadline, headers included (default 15 s). */
  timeoutMs?: number;
  /** Redirects followed, each checked again (default 5). */
  maxRedirects?: number;
}

/** fetch through the guard: checks the host, and each redirect's host again, with a deadline. */
export async function guardedFetch(
  url: string,
  init: RequestInit = {},
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
  init: RequestInit,
  options: GuardedFetchOptions,
  signal: AbortSignal,
): Promise<Response> {
  let current = new URL(url);
  for (let hop = 0; ; hop++) {
    if (current.protocol !== 'http:' && current.protocol !== 'https:') {
      throw new StudioError(
        'InvalidArgument',
        `only http and https URLs are fetched, not ${current.protocol}`,
        'url',
      );
    }
    await guardHost(current.hostname, options);
    const response = await fetch(current, { ...init, redirect: 'manual', signal });
    const location = response.headers.get('location');
    if (response.status < 300 || response.status >= 400 || location === null) return response;
    await response.body?.cancel();
    if (hop >= (options.maxRedirects ?? 5)) {
      throw new StudioError('Unavailable', `${url} redirects more than ${options.maxRedirects ?? 5} times`);
    }
    const next = new URL(location, current);
    // Credentials never follow a redirect to another origin.
    if (next.origin !== current.origin && init.headers !== undefined) {
      const headers = new Headers(init.headers);
      headers.delete('authorization');
      init = { ...init, headers };
    }
    current = next;
  }
}
