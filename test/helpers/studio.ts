import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ArchiveJson } from '../../src/shared/archive';
import { json, operatorToken, projectJwt } from './api';
import { TEST_CREDENTIALS } from './headless';
import type { HeadlessCore } from './headless';
import type { RoomJson, TokenResponse } from '../../src/shared/rooms';

/** A logged-in operator client of a running headless core. */
export class OperatorClient {
  private constructor(
    readonly base: string,
    readonly token: string,
  ) {}

  static async login(core: HeadlessCore): Promise<OperatorClient> {
    return new OperatorClient(core.url, await operatorToken(core.url));
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const response = await json<T>(`${this.base}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.token}` },
      ...(body !== undefined ? { body } : {}),
    });
    return { status: response.status, body: response.body };
  }

  /** Like request, but throws unless the status is 2xx. */
  async ok<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await this.request<T>(method, path, body);
    if (response.status < 200 || response.status >= 300) {
      throw new Error(`${method} ${path} → ${response.status}: ${JSON.stringify(response.body)}`);
    }
    return response.body;
  }

  createRoom(body: Record<string, unknown> = {}): Promise<RoomJson> {
    return this.ok<RoomJson>('POST', '/api/rooms', { name: 'Test room', ...body });
  }

  createToken(roomId: string, body: Record<string, unknown> = {}): Promise<TokenResponse> {
    return this.ok<TokenResponse>('POST', `/api/rooms/${roomId}/tokens`, body);
  }

  room(roomId: string): Promise<RoomJson> {
    return this.ok<RoomJson>('GET', `/api/rooms/${roomId}`);
  }
}

/** Polls until `check` returns a value other than undefined/false, or throws after `timeoutMs`. */
export async function waitFor<T>(
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value as T;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Names of the files in `dir` larger than `minBytes` (an archive's media that has reached the
 * disk: a wait for the first media counts from there, not from the start request).
 */
export function filesLargerThan(dir: string, minBytes: number): string[] {
  return readdirSync(dir).filter((name) => statSync(join(dir, name)).size > minBytes);
}

/** The OpenTok archive API as a script would call it. */
export class ArchiveApi {
  constructor(readonly base: string) {}
  async call<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const response = await fetch(`${this.base}/v2/project/${TEST_CREDENTIALS.SPOOL_API_KEY}${path}`, {
      method,
      headers: {
        'x-opentok-auth': await projectJwt(),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
  }
  async start(body: Record<string, unknown>): Promise<ArchiveJson> {
    const r = await this.call<ArchiveJson>('POST', '/archive', body);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body;
  }
  async stop(id: string): Promise<ArchiveJson> {
    const r = await this.call<ArchiveJson>('POST', `/archive/${id}/stop`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body;
  }
  async get(id: string): Promise<ArchiveJson> {
    return (await this.call<ArchiveJson>('GET', `/archive/${id}`)).body;
  }
  waitStatus(id: string, status: string, timeoutMs = 10_000): Promise<ArchiveJson> {
    return waitFor(
      async () => {
        const a = await this.get(id);
        return a.status === status ? a : undefined;
      },
      timeoutMs,
      `archive ${id} to be ${status}`,
    );
  }
}
