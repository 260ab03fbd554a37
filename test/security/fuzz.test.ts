import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { json, operatorToken, projectJwt } from '../helpers/api';
import { TEST_CREDENTIALS } from '../helpers/headless';
import { startTestStudio, type TestStudio } from '../helpers/securityStudio';

const SEED = Number(process.env.SPOOL_FUZZ_SEED ?? 0x5eed11);
const CASES = Number(process.env.SPOOL_FUZZ_CASES ?? 5000);

/** mulberry32: a small seeded generator, so a failing case reproduces from its seed and index. */
function generator(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Field names the routes know, so random bodies reach past the first validation step.
const KEYS = [
  'name',
  'kind',
  'host',
  'port',
  'user',
  'path',
  'bucket',
  'container',
  'sessionId',
  'archiveId',
  'layout',
  'resolution',
  'events',
  'role',
  'outputMode',
  'hasAudio',
  'hasVideo',
  'type',
  'streams',
  'addStream',
  'removeStream',
  'settings',
  'maxParticipants',
  'enabled',
  'description',
  'regions',
  'video_layout',
  'format',
  'ttlSec',
  'connectionData',
  'pathTemplate',
  'group',
  'event',
  'id',
  'status',
  'limit',
  'offset',
  'count',
  'stylesheet',
  'screenshareType',
  'multiArchiveTag',
];
// No ':' or '/' anywhere: no fuzzed value can form a URL the studio would fetch.
const STRINGS = [
  '',
  ' ',
  'x',
  'a'.repeat(300),
  '\u0000',
  '\u202e',
  '../..',
  '%00',
  '%2e%2e',
  '*',
  '?',
  '*?*?*?*?*?*?*?*?',
  'null',
  'true',
  '-1',
  '1e309',
  '{}',
  '[]',
  '<script>',
  'composed',
  'individual',
  'camera',
  'moderator',
  'stream*',
  'data*',
  'class*',
  'type*',
  '1280x720',
  '640x480',
  'bestFit',
  'custom',
  'ftp',
  'local',
  'archive',
  'status',
  '\ud800',
  'é',
  '🎥',
];

/** encodeURIComponent that survives lone surrogates (which it refuses). */
function encode(text: string): string {
  try {
    return encodeURIComponent(text);
  } catch {
    return '%ED%A0%80';
  }
}

function pick<T>(rand: () => number, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length)]!;
}

function value(rand: () => number, depth: number): unknown {
  const r = rand();
  if (depth > 2 || r < 0.35) return pick(rand, STRINGS);
  if (r < 0.5) return pick(rand, [0, -1, 1, 2 ** 53, 0.5, Number.MAX_SAFE_INTEGER, 65536, 3600]);
  if (r < 0.6) return pick(rand, [true, false, null]);
  if (r < 0.8) return Array.from({ length: Math.floor(rand() * 4) }, () => value(rand, depth + 1));
  const object: Record<string, unknown> = {};
  for (let i = Math.floor(rand() * 5); i > 0; i--) object[pick(rand, KEYS)] = value(rand, depth + 1);
  return object;
}

describe('API fuzz across all routes', () => {
  let ctx: TestStudio;
  let credentials: Array<Record<string, string>>;
  let roomId: string;

  before(async () => {
    ctx = await startTestStudio();
    const token = await operatorToken(ctx.url);
    const room = await json<{ id: string }>(`${ctx.url}/api/rooms`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
      body: { name: 'fuzz' },
    });
    roomId = room.body.id;
    credentials = [
      { authorization: `Bearer ${token}` },
      { authorization: `Bearer ${token}` },
      { authorization: `Bearer ${token}` },
      { 'x-opentok-auth': await projectJwt() },
      {},
      { authorization: 'Bearer x.y.z' },
      {
        authorization: `Basic ${Buffer.from(`${TEST_CREDENTIALS.SPOOL_FILES_USER}:${TEST_CREDENTIALS.SPOOL_FILES_PASSWORD}`).toString('base64')}`,
      },
      { 'x-tb-partner-auth': `${TEST_CREDENTIALS.SPOOL_API_KEY}:${TEST_CREDENTIALS.SPOOL_API_SECRET}` },
    ];
  });
  after(async () => ctx.close());

  it(
    `answers ${CASES} random requests without a 500 or a crash (seed ${SEED})`,
    { timeout: 170_000 },
    async () => {
      const rand = generator(SEED);
      const routes = ctx.studio.http.routeTable.filter(
        (r) =>
          // Sockets are not HTTP; target tests and remote playback reach out to hosts by design.
          !['/api/events', '/signaling', '/api/targets/test', '/api/targets/:id/test'].includes(r.url) &&
          !r.url.startsWith('/api/playback-sources/:id'),
      );
      const failures: string[] = [];
      const methods = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD'];
      const types = [
        'application/json',
        'application/json',
        'application/json',
        'text/plain',
        'application/x-www-form-urlencoded',
        'application/sdp',
        'application/json; charset=utf-16',
        '',
      ];
      const one = async (index: number) => {
        const route = pick(rand, routes);
        const method = rand() < 0.85 ? route.method : pick(rand, methods);
        const path = route.url
          .replace(':apiKey', rand() < 0.9 ? TEST_CREDENTIALS.SPOOL_API_KEY : 'other')
          .replace(/:[A-Za-z]+/g, () => encode(rand() < 0.5 ? roomId : String(pick(rand, STRINGS)) || 'x'))
          .replace('*', () => pick(rand, ['manifest.json', 'archive.zip', '..%2F..%2Fstudio.db', 'x/y', '']));
        const query =
          rand() < 0.3
            ? `?${pick(rand, KEYS)}=${encode(String(pick(rand, STRINGS)))}&${pick(rand, KEYS)}=${encode(JSON.stringify(value(rand, 1)))}`
            : '';
        const headers: Record<string, string> = { ...pick(rand, credentials) };
        let body: string | undefined;
        if (!['GET', 'HEAD'].includes(method) && rand() < 0.9) {
          const type = pick(rand, types);
          if (type !== '') headers['content-type'] = type;
          body =
            rand() < 0.1
              ? pick(rand, ['{', '[1,', '\u0000', 'a=b&c', 'v=0\r\n'])
              : JSON.stringify(value(rand, 0));
        }
        if (rand() < 0.05) headers.range = pick(rand, ['bytes=0-', 'bytes=-5', 'bytes=9-1', 'bytes=x']);
        const label = `#${index} ${method} ${path}${query} ${JSON.stringify(headers).slice(0, 80)} ${body?.slice(0, 120) ?? ''}`;
        try {
          const response = await fetch(`${ctx.url}${path}${query}`, {
            method,
            headers,
            ...(body !== undefined ? { body } : {}),
            signal: AbortSignal.timeout(60_000),
          });
          const text = await response.text();
          if (response.status >= 500 && response.status !== 503)
            failures.push(`${response.status} ${label}: ${text.slice(0, 200)}`);
          if (response.status === 503 && !/"code":"Unavailable"/.test(text))
            failures.push(`503 without Unavailable ${label}: ${text.slice(0, 200)}`);
        } catch (error) {
          failures.push(`no answer ${label}: ${(error as Error).message}`);
        }
      };
      const started = Date.now();
      let next = 0;
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          while (next < CASES) await one(next++);
        }),
      );
      assert.deepEqual(failures.slice(0, 20), [], `${failures.length} failures (seed ${SEED})`);
      const health = await fetch(`${ctx.url}/health`);
      assert.equal(health.status, 200);
      process.stdout.write(
        `${JSON.stringify({ bench: 'fuzz', cases: CASES, seconds: (Date.now() - started) / 1000 })}\n`,
      );
    },
  );
  it('answers a deeply nested value in every known field with a 4xx, on every route that takes a body', async () => {
    // 20,000 levels: JSON.parse takes them, and anything that walks them by recursion (String() of
    // an array, a recursive formatter) overflows the stack.
    const deep = `${'['.repeat(20_000)}${']'.repeat(20_000)}`;
    // Twenty fields a body keeps it under the 1 MB a body may have.
    const keys = [...KEYS, 'action'];
    const bodies = Array.from(
      { length: Math.ceil(keys.length / 20) },
      (_, i) =>
        `{${keys
          .slice(i * 20, i * 20 + 20)
          .map((key) => `"${key}":${deep}`)
          .join(',')}}`,
    );
    const failures: string[] = [];
    for (const route of ctx.studio.http.routeTable) {
      if (!['POST', 'PUT', 'PATCH'].includes(route.method) || route.url.startsWith('/api/targets/')) continue;
      const path = route.url
        .replace(':apiKey', TEST_CREDENTIALS.SPOOL_API_KEY)
        .replace(/:[A-Za-z]+/g, roomId);
      for (const headers of credentials.slice(2, 4))
        for (const body of bodies) {
          const response = await fetch(`${ctx.url}${path}`, {
            method: route.method,
            headers: { ...headers, 'content-type': 'application/json' },
            body,
            signal: AbortSignal.timeout(30_000),
          });
          const text = await response.text();
          if (response.status >= 500 || response.status === 413)
            failures.push(`${response.status} ${route.method} ${path}: ${text.slice(0, 200)}`);
        }
    }
    assert.deepEqual(failures, []);
  });
});
