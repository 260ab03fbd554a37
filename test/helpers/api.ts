import { SignJWT } from 'jose';
import { TEST_CREDENTIALS } from './headless';

/** An OpenTok project JWT as the official server SDK makes it. */
export async function projectJwt(
  apiKey = TEST_CREDENTIALS.SPOOL_API_KEY,
  apiSecret = TEST_CREDENTIALS.SPOOL_API_SECRET,
  claims: Record<string, unknown> = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    iss: apiKey,
    ist: 'project',
    iat: now,
    exp: now + 300,
    jti: String(Math.random()),
    ...claims,
  })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .sign(new TextEncoder().encode(apiSecret));
}

/** Logs in as the operator and returns the bearer token. */
export async function operatorToken(
  base: string,
  password = TEST_CREDENTIALS.SPOOL_OPERATOR_PASSWORD,
): Promise<string> {
  const response = await fetch(`${base}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ password }),
  });
  if (!response.ok) throw new Error(`login failed: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { token: string }).token;
}

/** fetch with JSON in and out. */
export async function json<T = unknown>(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: unknown } = {},
): Promise<{ status: number; body: T; headers: Headers }> {
  const response = await fetch(url, {
    method: init.method ?? 'GET',
    headers: { ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}), ...init.headers },
    ...(init.body !== undefined
      ? { body: typeof init.body === 'string' ? init.body : JSON.stringify(init.body) }
      : {}),
  });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, body: body as T, headers: response.headers };
}
