import { json, operatorToken } from './api';
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
