import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import type { Health } from '../../src/shared/api';
import { json, operatorToken, projectJwt } from '../helpers/api';
import { runHeadless, startHeadless, TEST_CREDENTIALS, type HeadlessCore } from '../helpers/headless';
import { tempDir } from '../helpers/tmp';

describe('headless core', () => {
  let dir: ReturnType<typeof tempDir>;
  let core: HeadlessCore;
  before(async () => {
    dir = tempDir();
    core = await startHeadless({ dataDir: dir.path });
  });
  after(async () => {
    await core?.stop();
    dir.remove();
  });

  it('answers /health with version, uptime, ffmpeg and free disk', async () => {
    const { status, body } = await json<Health>(`${core.url}/health`);
    assert.equal(status, 200);
    assert.equal(body.status, 'ok');
    assert.match(body.version, /^\d+\.\d+\.\d+/);
    assert.equal(typeof body.uptimeSec, 'number');
    assert.equal(body.ffmpeg.found, true);
    assert.match(body.ffmpeg.version ?? '', /^\d/);
    assert.ok(body.disk.freeBytes > 0);
    assert.equal('path' in body.disk, false, 'no paths in the public /health');
    assert.equal(JSON.stringify(body).includes(dir.path), false, 'no data directory in /health');
  });

  it('refuses API requests without credentials with 401 and the error shape', async () => {
    const { status, body, headers } = await json<Record<string, string>>(`${core.url}/api/studio`);
    assert.equal(status, 401);
    assert.equal(body.code, 'Unauthenticated');
    assert.equal(typeof body.message, 'string');
    assert.ok(headers.get('www-authenticate'));
    const v2 = await json<Record<string, string>>(
      `${core.url}/v2/project/${TEST_CREDENTIALS.SPOOL_API_KEY}/archive`,
    );
    assert.equal(v2.status, 401);
  });

  it('refuses wrong credentials with 403 and the error shape', async () => {
    const wrongJwt = await projectJwt(TEST_CREDENTIALS.SPOOL_API_KEY, 'another-secret-0123456789');
    const cases: Array<Record<string, string>> = [
      { 'x-opentok-auth': wrongJwt },
      { 'x-opentok-auth': await projectJwt('99999999') },
      { 'x-opentok-auth': await projectJwt(undefined, undefined, { ist: 'account' }) },
      { 'x-opentok-auth': 'not-a-jwt' },
      { authorization: 'Bearer not-a-token' },
      { 'x-tb-partner-auth': `${TEST_CREDENTIALS.SPOOL_API_KEY}:wrong` },
    ];
    for (const headers of cases) {
      const { status, body } = await json<Record<string, string>>(`${core.url}/api/studio`, { headers });
      assert.equal(status, 403, JSON.stringify(headers));
      assert.equal(body.code, 'PermissionDenied');
      assert.ok(body.message.length > 0);
    }
    const login = await json<Record<string, string>>(`${core.url}/api/auth/login`, {
      method: 'POST',
      body: { password: 'wrong-password' },
    });
    assert.equal(login.status, 401);
    assert.equal(login.body.code, 'Unauthenticated');
  });

  it('accepts the operator token and the OpenTok project JWT', async () => {
    const token = await operatorToken(core.url);
    const asOperator = await json<Record<string, string>>(`${core.url}/api/studio`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(asOperator.status, 200);
    assert.equal(asOperator.body.apiKey, TEST_CREDENTIALS.SPOOL_API_KEY);
    const asProject = await json(`${core.url}/api/studio`, {
      headers: { 'x-opentok-auth': await projectJwt() },
    });
    assert.equal(asProject.status, 200);
  });

  it('answers 200 malformed bodies with 4xx, never 5xx, and stays up', async () => {
    const bodies: Array<{ body: string; type?: string }> = [];
    const samples = [
      '',
      '{',
      '}',
      'null',
      '[]',
      '"x"',
      '1',
      'true',
      '{"password":1}',
      '{"password":null}',
      '{"password":""}',
      '{"password":{}}',
      '{"password":[]}',
      '{"pass":"x"}',
      '{"password":"x","extra":1}',
      '\u0000',
      '{"a":',
      '[[[[',
      '{"password":"' + 'x'.repeat(5000) + '"}',
      '<xml/>',
    ];
    for (let i = 0; i < 200; i++) {
      const sample = samples[i % samples.length]!;
      const type =
        i % 7 === 0 ? 'text/plain' : i % 11 === 0 ? 'application/x-www-form-urlencoded' : 'application/json';
      bodies.push({ body: i % 13 === 0 ? sample + String.fromCharCode(i) : sample, type });
    }
    for (const { body, type } of bodies) {
      const response = await fetch(`${core.url}/api/auth/login`, {
        method: 'POST',
        headers: { 'content-type': type! },
        body,
      });
      assert.ok(
        response.status >= 400 && response.status < 500,
        `${response.status} for ${JSON.stringify(body).slice(0, 80)} (${type})`,
      );
      const parsed = (await response.json()) as { code?: string; message?: string };
      assert.equal(typeof parsed.code, 'string');
      assert.equal(typeof parsed.message, 'string');
    }
    const health = await fetch(`${core.url}/health`);
    assert.equal(health.status, 200);
  });

  it('pushes events to an authenticated event socket and refuses a wrong token', async () => {
    const token = await operatorToken(core.url);
    const wsUrl = `${core.url.replace('http', 'ws')}/api/events`;
    const bad = new WebSocket(wsUrl);
    await new Promise((resolve) => bad.once('open', resolve));
    bad.send(JSON.stringify({ type: 'auth', token: 'nope' }));
    const code = await new Promise<number>((resolve) =>
      bad.once('close', (closeCode: number) => resolve(closeCode)),
    );
    assert.equal(code, 4403);

    const socket = new WebSocket(wsUrl);
    const messages: Array<{ type: string }> = [];
    socket.on('message', (raw) => messages.push(JSON.parse(String(raw)) as { type: string }));
    await new Promise((resolve) => socket.once('open', resolve));
    socket.send(JSON.stringify({ type: 'auth', token }));
    const deadline = Date.now() + 5000;
    while (!messages.some((m) => m.type === 'ready') && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    assert.ok(messages.some((m) => m.type === 'ready'));
    socket.close();
  });
});

describe('headless command', () => {
  it('keeps the generated keys when restarted on the same data directory', async () => {
    const dir = tempDir();
    try {
      // Empty variables count as unset, so the core generates its own secrets.
      const clean = {
        SPOOL_API_KEY: '',
        SPOOL_API_SECRET: '',
        SPOOL_OPERATOR_PASSWORD: '',
        SPOOL_FILES_PASSWORD: '',
      };
      const first = await startHeadless({ dataDir: dir.path, env: clean });
      const printed = /Operator password \(generated[^)]*\): (\S+)/.exec(first.output());
      await first.stop();
      const settings = JSON.parse(readFileSync(join(dir.path, 'settings.json'), 'utf8')) as Record<
        string,
        string
      >;
      assert.ok(printed, `the first start prints the generated operator password:\n${first.output()}`);
      assert.equal(printed[1], settings.operatorPassword);
      const second = await startHeadless({ dataDir: dir.path, env: clean });
      try {
        assert.doesNotMatch(second.output(), /Operator password/);
        const token = await operatorToken(second.url, settings.operatorPassword);
        const info = await json<Record<string, string>>(`${second.url}/api/studio`, {
          headers: { authorization: `Bearer ${token}` },
        });
        assert.equal(info.body.apiKey, settings.apiKey);
        const jwt = await projectJwt(settings.apiKey, settings.apiSecret);
        const asProject = await json(`${second.url}/api/studio`, { headers: { 'x-opentok-auth': jwt } });
        assert.equal(asProject.status, 200);
      } finally {
        await second.stop();
      }
    } finally {
      dir.remove();
    }
  });

  it('stops on SIGTERM within seconds although a client holds a half-sent request open', async () => {
    const dir = tempDir();
    try {
      const core = await startHeadless({ dataDir: dir.path });
      // Headers never finished: the connection is busy, so a graceful close alone waits for
      // Node's headers timeout (60 s); the studio ends it after its grace (2 s).
      const socket = connect(core.port, '127.0.0.1');
      socket.on('error', () => {});
      await once(socket, 'connect', { signal: AbortSignal.timeout(5000) });
      socket.write('GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n');
      const closed = once(socket, 'close', { signal: AbortSignal.timeout(15_000) });
      const started = Date.now();
      const code = await core.stop();
      const elapsed = Date.now() - started;
      assert.equal(code, 0, core.output());
      assert.ok(elapsed < 10_000, `stopped after ${elapsed} ms:\n${core.output()}`);
      assert.match(core.output(), /closing: ending the connections still open/);
      await closed;
    } finally {
      dir.remove();
    }
  });

  it('refuses a bad setting at start with a message naming the field', async () => {
    const dir = tempDir();
    try {
      const result = await runHeadless(['--data', dir.path, '--port', '0'], {
        SPOOL_HTTP_PORT: '',
        SPOOL_FILES_PASSWORD: 'short',
      });
      assert.equal(result.code, 1);
      assert.match(
        result.stderr,
        /filesPassword \(from SPOOL_FILES_PASSWORD\) must be at least 8 characters/,
      );
    } finally {
      dir.remove();
    }
  });

  it('doctor prints ffmpeg, its encoders, the data dir and free disk', async () => {
    const dir = tempDir();
    try {
      const result = await runHeadless(['--doctor', '--data', dir.path]);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /ffmpeg: +\S+ at \//);
      assert.match(result.stdout, /libx264 yes/);
      assert.match(result.stdout, new RegExp(`data directory: ${dir.path}`));
      assert.match(result.stdout, /free disk: +[\d.]+ GiB/);
    } finally {
      dir.remove();
    }
  });
});
