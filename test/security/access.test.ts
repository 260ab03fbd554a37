import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { WebSocket } from 'ws';
import { ACCESS_CLASSES, type AccessClass } from '../../src/main/http/access';
import { HttpServer } from '../../src/main/http/HttpServer';
import { json, operatorToken, projectJwt } from '../helpers/api';
import { TEST_CREDENTIALS } from '../helpers/headless';
import { rawRequest, startTestStudio, type TestStudio } from '../helpers/securityStudio';

type Credential = 'none' | 'operator' | 'project' | 'partner' | 'guest' | 'files';

/** Which credentials each access class admits (the others must be refused). */
const ADMITS: Record<AccessClass, Credential[]> = {
  public: ['none', 'operator', 'project', 'partner', 'guest', 'files'],
  operator: ['operator'],
  operatorOrProject: ['operator', 'project'],
  project: ['operator', 'project', 'partner'],
  operatorSocket: [],
  guest: ['guest'],
  files: ['files'],
  signedLink: [],
};

const SECRET_NAME = 'secret-room-7f3a';

describe('access decided by the matched route', () => {
  let ctx: TestStudio;
  let headers: Record<Credential, Record<string, string>>;
  let roomId: string;

  before(async () => {
    ctx = await startTestStudio();
    const token = await operatorToken(ctx.url);
    const room = await json<{ id: string }>(`${ctx.url}/api/rooms`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
      body: { name: SECRET_NAME },
    });
    assert.equal(room.status, 201);
    roomId = room.body.id;
    const join = await json<{ token: string }>(`${ctx.url}/api/rooms/${roomId}/tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
      body: { role: 'moderator' },
    });
    const basic = Buffer.from(
      `${TEST_CREDENTIALS.SPOOL_FILES_USER}:${TEST_CREDENTIALS.SPOOL_FILES_PASSWORD}`,
    );
    headers = {
      none: {},
      operator: { authorization: `Bearer ${token}` },
      project: { 'x-opentok-auth': await projectJwt() },
      partner: {
        'x-tb-partner-auth': `${TEST_CREDENTIALS.SPOOL_API_KEY}:${TEST_CREDENTIALS.SPOOL_API_SECRET}`,
      },
      guest: { authorization: `Bearer ${join.body.token}` },
      files: { authorization: `Basic ${basic.toString('base64')}` },
    };
  });
  after(async () => ctx.close());

  const fill = (url: string) =>
    url
      .replace(':apiKey', TEST_CREDENTIALS.SPOOL_API_KEY)
      .replace(/:roomId|:id|:archiveId/g, roomId)
      .replace(/:[A-Za-z]+/g, 'x')
      .replace('*', 'manifest.json');

  it('gives every registered route a declared access class', () => {
    const table = ctx.studio.http.routeTable;
    assert.ok(table.length > 40, `only ${table.length} routes registered`);
    for (const route of table) {
      assert.ok(ACCESS_CLASSES.includes(route.access), `${route.method} ${route.url}: ${route.access}`);
    }
    const byUrl = new Map(table.map((r) => [`${r.method} ${r.url}`, r.access]));
    assert.equal(byUrl.get('GET /health'), 'public');
    assert.equal(byUrl.get('PATCH /api/settings'), 'operator');
    assert.equal(byUrl.get('POST /api/rooms'), 'operatorOrProject');
    assert.equal(byUrl.get('POST /v2/project/:apiKey/archive'), 'project');
    assert.equal(byUrl.get('GET /files/:archiveId/*'), 'files');
  });

  it('refuses to start when a route declares no access class', async () => {
    const server = new HttpServer(
      {
        config: ctx.studio.config,
        logger: ctx.studio.logger,
        bus: ctx.studio.bus,
        auth: ctx.studio.auth,
        health: () => ctx.studio.health(),
        info: () => ctx.studio.info(),
        rendererDir: null,
        listenerPorts: () => [],
      },
      { host: '127.0.0.1', port: 0, routes: [(app) => app.get('/api/forgotten', async () => 'open')] },
    );
    await assert.rejects(async () => server.app.ready(), /GET \/api\/forgotten declares no access class/);
    await server.close();
  });

  it('refuses every route to every credential its class does not admit', { timeout: 120_000 }, async () => {
    let checked = 0;
    for (const route of ctx.studio.http.routeTable) {
      // Sockets are checked in-band (their upgrades are tested below); OPTIONS is the WHIP preflight.
      if (['OPTIONS', 'HEAD'].includes(route.method) || ['public', 'operatorSocket'].includes(route.access))
        continue;
      const url = `${ctx.url}${fill(route.url)}`;
      for (const credential of Object.keys(headers) as Credential[]) {
        if (ADMITS[route.access].includes(credential)) continue;
        const withBody = !['GET', 'DELETE'].includes(route.method);
        const response = await fetch(url, {
          method: route.method,
          headers: { ...headers[credential], ...(withBody ? { 'content-type': 'application/json' } : {}) },
          ...(withBody ? { body: '{}' } : {}),
        });
        const text = await response.text();
        const expected = route.access === 'guest' ? [400, 401, 403, 404, 415] : [401, 403];
        assert.ok(
          expected.includes(response.status),
          `${route.method} ${route.url} (${route.access}) with ${credential}: ${response.status} ${text.slice(0, 200)}`,
        );
        assert.doesNotMatch(text, new RegExp(SECRET_NAME));
        checked++;
      }
    }
    assert.ok(checked > 150, `only ${checked} combinations checked`);
  });

  it('refuses odd spellings of protected paths without credentials', { timeout: 60_000 }, async () => {
    const key = TEST_CREDENTIALS.SPOOL_API_KEY;
    const paths = [
      '/%61pi/rooms',
      '/%41PI/rooms',
      '/api/%72ooms',
      `/api/rooms/${roomId}`,
      `/api/rooms/%${roomId.charCodeAt(0).toString(16)}${roomId.slice(1)}`,
      '/api%2Frooms',
      '/api%2frooms',
      '//api/rooms',
      '/api//rooms',
      '/./api/rooms',
      '/api/./rooms',
      '/x/../api/rooms',
      '/api/x/../rooms',
      '/%2e/api/rooms',
      '/x/%2e%2e/api/rooms',
      '/API/rooms',
      '/Api/Rooms',
      '/api/rooms/',
      '/api/rooms;x=1',
      '/api;/rooms',
      '/api/rooms?x=/health',
      '/api/rooms#/health',
      '/api/settings',
      '/api/s%65ttings',
      '/api/settings/api-credentials',
      '/api/settings/api%2Dcredentials',
      `/%762/project/${key}/archive`,
      `/v2/project/${key}/%61rchive`,
      `//v2/project/${key}/archive`,
      `/v2/project/${key}/archive/`,
      `/v2/project/${key}/archive;a`,
      `/V2/project/${key}/archive`,
      '/api/targets',
      '/api/t%61rgets',
      '/api/webhooks',
      `/files/${roomId}/manifest.json`,
      `/files/${roomId}/..%2F..%2Fstudio.db`,
      '/%2e%2e/studio.db',
      '/..%2Fstudio.db',
    ];
    const absolute = [`http://127.0.0.1:${ctx.port}/api/rooms`, `http://127.0.0.1:${ctx.port}/%61pi/rooms`];
    for (const target of [...paths, ...absolute]) {
      for (const method of ['GET', 'POST']) {
        const body = method === 'POST' ? '{"name":"x"}' : '';
        const response = await rawRequest(
          ctx.port,
          `${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1:${ctx.port}\r\n` +
            (body ? `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n` : '') +
            `\r\n${body}`,
        );
        assert.ok(
          [400, 401, 403, 404, 405, 415].includes(response.status),
          `${method} ${target}: ${response.status} ${response.body.slice(0, 200)}`,
        );
        assert.doesNotMatch(response.body, new RegExp(SECRET_NAME), `${method} ${target} leaked the room`);
        assert.doesNotMatch(response.body, /SQLite format/, `${method} ${target} served the database`);
      }
    }
    const rooms = await json<{ items: unknown[] }>(`${ctx.url}/api/rooms`, { headers: headers.operator });
    assert.equal(rooms.body.items.length, 1, 'no request above created a room');
  });

  it('refuses a foreign Host (DNS rebinding) with 421, even with credentials', async () => {
    for (const host of [
      'evil.example',
      'evil.example:80',
      `attacker.test:${ctx.port}`,
      '127.0.0.1.evil.example',
      '',
    ]) {
      for (const path of ['/health', '/api/studio', '/']) {
        const response = await rawRequest(
          ctx.port,
          `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n${`Authorization: ${headers.operator.authorization}`}\r\n\r\n`,
        );
        assert.ok([400, 421].includes(response.status), `${host} ${path}: ${response.status}`);
        assert.doesNotMatch(response.body, /apiKey/);
      }
    }
    for (const host of [`127.0.0.1:${ctx.port}`, `localhost:${ctx.port}`, `[::1]:${ctx.port}`]) {
      const response = await rawRequest(ctx.port, `GET /health HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
      assert.equal(response.status, 200, host);
    }
  });

  it('refuses cross-site form and text/plain posts and foreign origins, accepts its own', async () => {
    const post = (extra: Record<string, string>, body: string) =>
      fetch(`${ctx.url}/api/rooms`, { method: 'POST', headers: { ...headers.operator, ...extra }, body });
    const form = await post({ 'content-type': 'application/x-www-form-urlencoded' }, 'name=evil');
    assert.equal(form.status, 415);
    const multipart = await post({ 'content-type': 'multipart/form-data; boundary=x' }, '--x--');
    assert.equal(multipart.status, 415);
    const text = await post({ 'content-type': 'text/plain' }, '{"name":"evil"}');
    assert.equal(text.status, 415);
    const noType = await fetch(`${ctx.url}/api/rooms`, {
      method: 'POST',
      headers: headers.operator,
      body: new Blob(['{"name":"evil"}']),
    });
    assert.equal(noType.status, 415);
    const foreign = await post(
      { 'content-type': 'application/json', origin: 'http://evil.example' },
      '{"name":"evil"}',
    );
    assert.equal(foreign.status, 403);
    const otherPort = await post(
      { 'content-type': 'application/json', origin: `http://127.0.0.1:${ctx.port + 1}` },
      '{"name":"evil"}',
    );
    assert.equal(otherPort.status, 403);
    const nullOrigin = await post({ 'content-type': 'application/json', origin: 'null' }, '{"name":"evil"}');
    assert.equal(nullOrigin.status, 403);
    const rooms = await json<{ items: unknown[] }>(`${ctx.url}/api/rooms`, { headers: headers.operator });
    assert.equal(rooms.body.items.length, 1, 'no cross-site request created a room');
    for (const origin of [`http://127.0.0.1:${ctx.port}`, `http://localhost:${ctx.port}`]) {
      const own = await post({ 'content-type': 'application/json', origin }, '{"name":"own"}');
      assert.equal(own.status, 201, origin);
    }
    // The OpenTok SDK's form-encoded session/create still works with the project JWT.
    const session = await fetch(`${ctx.url}/session/create`, {
      method: 'POST',
      headers: { ...headers.project, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'archiveMode=manual',
    });
    assert.equal(session.status, 200);
  });

  it('refuses WebSocket upgrades from a foreign origin', async () => {
    const outcome = (path: string, origin: string) =>
      new Promise<string>((resolve) => {
        const socket = new WebSocket(`ws://127.0.0.1:${ctx.port}${path}`, { origin });
        const timer = setTimeout(() => resolve('timeout'), 10_000);
        socket.on('open', () => {
          clearTimeout(timer);
          socket.close();
          resolve('open');
        });
        socket.on('unexpected-response', (request, response) => {
          clearTimeout(timer);
          request.destroy();
          resolve(String(response.statusCode));
        });
        socket.on('error', () => {
          clearTimeout(timer);
          resolve('error');
        });
      });
    for (const path of ['/api/events', '/signaling', '/%61pi/events']) {
      assert.equal(await outcome(path, 'http://evil.example'), '403', path);
    }
    assert.equal(await outcome('/api/events', `http://127.0.0.1:${ctx.port}`), 'open');
    assert.equal(await outcome('/signaling', `http://localhost:${ctx.port}`), 'open');
  });

  it('takes one auth message on the event socket: more, sent at once, add no listeners', async () => {
    const socket = new WebSocket(`ws://127.0.0.1:${ctx.port}/api/events`, {
      origin: `http://127.0.0.1:${ctx.port}`,
    });
    const messages: Array<{ type: string; event?: { type: string; data: { name?: string } } }> = [];
    socket.on('message', (raw) => messages.push(JSON.parse(String(raw))));
    try {
      await new Promise((resolve, reject) => {
        socket.once('open', resolve);
        socket.once('error', reject);
      });
      const auth = JSON.stringify({ type: 'auth', token: headers.operator.authorization!.slice(7) });
      for (let i = 0; i < 3; i++) socket.send(auth);
      const name = `socket-${Date.now()}`;
      const created = await json(`${ctx.url}/api/rooms`, {
        method: 'POST',
        headers: headers.operator,
        body: { name },
      });
      assert.equal(created.status, 201);
      const mine = () =>
        messages.filter((m) => m.event?.type === 'room.created' && m.event.data.name === name);
      const deadline = Date.now() + 10_000;
      while (mine().length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 300)); // a duplicate would follow at once
      assert.equal(mine().length, 1, 'the event arrived once');
      assert.equal(messages.filter((m) => m.type === 'ready').length, 1, 'one ready');
    } finally {
      socket.close();
    }
  });

  it('answers requests refused before any route in the same { code, message } shape', async () => {
    const shaped = (what: string, status: number, body: string, expected: number, pattern: RegExp) => {
      assert.equal(status, expected, `${what}: ${body}`);
      const parsed = JSON.parse(body) as { code: string; message: string };
      assert.equal(parsed.code, 'InvalidArgument', what);
      assert.match(parsed.message, pattern, what);
    };
    const badUrl = await fetch(`${ctx.url}/api/rooms/%zz`, { headers: headers.operator });
    shaped('a path that does not decode', badUrl.status, await badUrl.text(), 400, /does not decode/);
    const longId = await fetch(`${ctx.url}/api/rooms/${'x'.repeat(150)}`, {
      method: 'DELETE',
      headers: headers.operator,
    });
    shaped('a 150-character id', longId.status, await longId.text(), 414, /longer than 100 characters/);
    const method = await rawRequest(ctx.port, `FOO /health HTTP/1.1\r\nHost: 127.0.0.1:${ctx.port}\r\n\r\n`);
    shaped('an unknown method', method.status, method.body, 400, /not an HTTP method/);
    const big = await rawRequest(
      ctx.port,
      `GET /health HTTP/1.1\r\nHost: 127.0.0.1:${ctx.port}\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    );
    shaped('headers too large', big.status, big.body, 431, /headers are too large/);
    const missing = await fetch(`${ctx.url}/api/nothing/${'y'.repeat(5000)}`, { headers: headers.operator });
    const text = await missing.text();
    assert.equal(missing.status, 404);
    assert.ok(text.length < 500, `a 404 of ${text.length} characters`);
  });

  it('sends the security headers on every response', async () => {
    for (const path of ['/health', '/api/studio', '/nowhere', `/files/${roomId}/x`]) {
      const response = await fetch(`${ctx.url}${path}`);
      await response.arrayBuffer();
      const csp = response.headers.get('content-security-policy') ?? '';
      assert.match(csp, /frame-ancestors 'none'/, path);
      assert.doesNotMatch(csp, /connect-src[^;]*(http:|https:)/, path);
      assert.equal(response.headers.get('x-content-type-options'), 'nosniff', path);
      assert.equal(response.headers.get('referrer-policy'), 'no-referrer', path);
      assert.equal(response.headers.get('set-cookie'), null, path);
    }
  });

  it('keeps paths out of /health and gives them to the operator', async () => {
    const health = await fetch(`${ctx.url}/health`);
    const text = await health.text();
    assert.equal(text.includes(ctx.dataDir), false);
    assert.doesNotMatch(text, /"path"/);
    const info = await json<{ dataDir: string; ffmpeg: { found: boolean } }>(`${ctx.url}/api/studio`, {
      headers: headers.operator,
    });
    assert.equal(info.body.dataDir, ctx.dataDir);
  });

  it('keeps the data directory 0700 and the database 0600', () => {
    assert.equal(statSync(ctx.dataDir).mode & 0o777, 0o700);
    assert.equal(statSync(join(ctx.dataDir, 'studio.db')).mode & 0o777, 0o600);
    for (const name of readdirSync(ctx.dataDir)) {
      const mode = statSync(join(ctx.dataDir, name)).mode & 0o077;
      assert.equal(mode, 0, `${name} is readable by others`);
    }
  });

  it('refuses to set ffmpegPath over HTTP', async () => {
    const response = await json<{ code: string; field: string }>(`${ctx.url}/api/settings`, {
      method: 'PATCH',
      headers: headers.operator,
      body: { ffmpegPath: '/tmp/evil' },
    });
    assert.equal(response.status, 403);
    assert.equal(response.body.field, 'ffmpegPath');
  });

  it('takes X-TB-PARTNER-AUTH only on the OpenTok routes', async () => {
    const api = await json(`${ctx.url}/api/rooms`, { headers: headers.partner });
    assert.equal(api.status, 403);
    const v2 = await json(`${ctx.url}/v2/project/${TEST_CREDENTIALS.SPOOL_API_KEY}/archive`, {
      headers: headers.partner,
    });
    assert.equal(v2.status, 200);
  });

  it('refuses project JWTs without exp, expired, issued long ago or in the future, unsigned or wrongly signed', async () => {
    const now = Math.floor(Date.now() / 1000);
    const sign = (claims: Record<string, unknown>, secret = TEST_CREDENTIALS.SPOOL_API_SECRET) =>
      new SignJWT({ iss: TEST_CREDENTIALS.SPOOL_API_KEY, ist: 'project', ...claims })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .sign(new TextEncoder().encode(secret));
    const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const cases: Array<[string, string, RegExp]> = [
      ['no exp', await sign({ iat: now }), /exp/],
      ['no iat', await sign({ exp: now + 300 }), /iat/],
      ['expired', await sign({ iat: now - 1200, exp: now - 600 }), /expired/],
      ['issued 2 h ago', await sign({ iat: now - 7200, exp: now + 300 }), /iat/],
      ['issued in an hour', await sign({ iat: now + 3600, exp: now + 7200 }), /future/],
      [
        'alg none',
        `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ iss: TEST_CREDENTIALS.SPOOL_API_KEY, ist: 'project', iat: now, exp: now + 300 })}.`,
        /signed with HS256/,
      ],
      [
        'HS512 with the right secret',
        await new SignJWT({ iss: TEST_CREDENTIALS.SPOOL_API_KEY, ist: 'project', iat: now, exp: now + 300 })
          .setProtectedHeader({ alg: 'HS512', typ: 'JWT' })
          .sign(new TextEncoder().encode(TEST_CREDENTIALS.SPOOL_API_SECRET)),
        /signed with HS256/,
      ],
      ['not a JWT', 'a.b.c', /not a JWT/],
      [
        'wrong key',
        await sign({ iat: now, exp: now + 300 }, 'another-secret-0123456789abc'),
        /not signed with this project/,
      ],
    ];
    for (const [what, token, reason] of cases) {
      const response = await json<{ code: string; message: string }>(
        `${ctx.url}/v2/project/${TEST_CREDENTIALS.SPOOL_API_KEY}/archive`,
        { headers: { 'x-opentok-auth': token } },
      );
      assert.ok([401, 403].includes(response.status), `${what}: ${response.status}`);
      assert.match(response.body.message, reason, what);
    }
    const good = await json(`${ctx.url}/v2/project/${TEST_CREDENTIALS.SPOOL_API_KEY}/archive`, {
      headers: { 'x-opentok-auth': await sign({ iat: now, exp: now + 300 }) },
    });
    assert.equal(good.status, 200);
  });
});

describe('operator sign-in', () => {
  let ctx: TestStudio;
  before(async () => {
    ctx = await startTestStudio();
  });
  after(async () => ctx.close());

  it('revokes earlier tokens when the operator password changes', async () => {
    const old = await operatorToken(ctx.url);
    const changed = await json(`${ctx.url}/api/settings`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${old}` },
      body: { operatorPassword: 'a-new-password-456' },
    });
    assert.equal(changed.status, 200, JSON.stringify(changed.body));
    const refused = await json<{ message: string }>(`${ctx.url}/api/studio`, {
      headers: { authorization: `Bearer ${old}` },
    });
    assert.equal(refused.status, 401);
    assert.match(refused.body.message, /password changed/);
    const fresh = await operatorToken(ctx.url, 'a-new-password-456');
    const ok = await json(`${ctx.url}/api/studio`, { headers: { authorization: `Bearer ${fresh}` } });
    assert.equal(ok.status, 200);
  });

  it('answers 429 with Retry-After after five failures a minute, partner-auth failures included', async () => {
    const wrongLogin = () =>
      json<{ code: string }>(`${ctx.url}/api/auth/login`, {
        method: 'POST',
        body: { password: 'guess-000' },
      });
    for (let i = 0; i < 3; i++) assert.equal((await wrongLogin()).status, 401);
    for (let i = 0; i < 2; i++) {
      const partner = await json(`${ctx.url}/v2/project/${TEST_CREDENTIALS.SPOOL_API_KEY}/archive`, {
        headers: { 'x-tb-partner-auth': `${TEST_CREDENTIALS.SPOOL_API_KEY}:wrong-secret` },
      });
      assert.equal(partner.status, 403);
    }
    const limited = await wrongLogin();
    assert.equal(limited.status, 429);
    assert.equal(limited.body.code, 'RateLimited');
    const retryAfter = Number(limited.headers.get('retry-after'));
    assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
    // Even the right password waits: guessing cannot continue by interleaving good attempts.
    const right = await json(`${ctx.url}/api/auth/login`, {
      method: 'POST',
      body: { password: 'a-new-password-456' },
    });
    assert.equal(right.status, 429);
  });
});
