import assert from 'node:assert/strict';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { isPrivateAddress } from '../../src/main/security/outboundGuard';
import { json, operatorToken } from '../helpers/api';
import { startTestStudio, type TestStudio } from '../helpers/securityStudio';

/** A TCP server that speaks just enough FTP to be sent a login, and records every line. */
async function fakeFtp(): Promise<{ server: TcpServer; port: number; lines: string[] }> {
  const lines: string[] = [];
  const server = createTcpServer((socket) => {
    socket.write('220 fake ftp\r\n');
    let buffer = '';
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      let end: number;
      while ((end = buffer.indexOf('\r\n')) >= 0) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        lines.push(line);
        if (line.startsWith('USER')) socket.write('331 password please\r\n');
        else if (line.startsWith('PASS')) socket.write('530 no\r\n');
        else socket.write('500 no\r\n');
      }
    });
    socket.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as { port: number }).port, lines };
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

describe('secrets and outbound requests', () => {
  let ctx: TestStudio;
  let auth: Record<string, string>;
  const servers: Array<Server | TcpServer> = [];

  before(async () => {
    ctx = await startTestStudio();
    auth = { authorization: `Bearer ${await operatorToken(ctx.url)}` };
  });
  after(async () => {
    for (const server of servers) server.close();
    await ctx.close();
  });

  it('refuses local targets in the data directory, on UNC paths and in system folders', async () => {
    const cases: Array<[string, RegExp]> = [
      [ctx.dataDir, /data directory/],
      [`${ctx.dataDir}/archives`, /data directory/],
      ['\\\\attacker.example\\share', /UNC/],
      ['//attacker.example/share', /UNC/],
      ['/etc', /system folder/],
      ['/etc/cron.d', /system folder/],
      ['/', /system folder/],
      ['C:\\Windows\\System32', /system folder/],
    ];
    for (const [path, reason] of cases) {
      const created = await json<{ message: string; field: string }>(`${ctx.url}/api/targets`, {
        method: 'POST',
        headers: auth,
        body: { kind: 'local', name: 'x', path },
      });
      assert.equal(created.status, 400, path);
      assert.equal(created.body.field, 'path', path);
      assert.match(created.body.message, reason, path);
    }
  });

  it('classifies loopback, link-local, metadata and private addresses', () => {
    for (const address of [
      '127.0.0.1',
      '127.5.5.5',
      '169.254.169.254',
      '10.1.2.3',
      '172.16.0.1',
      '192.168.1.1',
      '::1',
      'fe80::1',
      'fd00::1',
      '::ffff:127.0.0.1',
      '0.0.0.0',
    ]) {
      assert.equal(isPrivateAddress(address), true, address);
    }
    for (const address of ['8.8.8.8', '1.1.1.1', '2606:4700::1111', '172.32.0.1']) {
      assert.equal(isPrivateAddress(address), false, address);
    }
  });

  it('never sends a stored password to a changed host (target test with another server)', async () => {
    const stored = await fakeFtp();
    const attacker = await fakeFtp();
    servers.push(stored.server, attacker.server);
    const created = await json<{ id: string }>(`${ctx.url}/api/targets`, {
      method: 'POST',
      headers: auth,
      body: {
        kind: 'ftp',
        name: 'NAS',
        host: '127.0.0.1',
        port: stored.port,
        user: 'studio',
        password: 'the-stored-secret',
        allowPrivateNetwork: true,
      },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const moved = [{ host: 'localhost', port: attacker.port }, { port: attacker.port }];
    for (const change of moved) {
      const test = await json<{ code?: string; message?: string; ok?: boolean }>(
        `${ctx.url}/api/targets/${created.body.id}/test`,
        { method: 'POST', headers: auth, body: change },
      );
      assert.equal(test.status, 400, JSON.stringify(test.body));
      assert.match(test.body.message ?? '', /not sent to a changed (host|port)/);
    }
    const patched = await json(`${ctx.url}/api/targets/${created.body.id}`, {
      method: 'PATCH',
      headers: auth,
      body: { port: attacker.port },
    });
    assert.equal(patched.status, 400);
    assert.equal(
      attacker.lines.some((l) => l.includes('the-stored-secret')),
      false,
    );
    assert.equal(attacker.lines.filter((l) => l.startsWith('PASS')).length, 0);
    // The same destination still gets its stored password (the server refuses it, but it was sent).
    const same = await json<{ ok: boolean }>(`${ctx.url}/api/targets/${created.body.id}/test`, {
      method: 'POST',
      headers: auth,
      body: {},
    });
    assert.equal(same.body.ok, false);
    assert.ok(stored.lines.includes('PASS the-stored-secret'), stored.lines.join('|'));
  });

  it('refuses targets and remote playback on loopback, metadata and private addresses unless allowed', async () => {
    const ftp = await fakeFtp();
    servers.push(ftp.server);
    for (const host of ['127.0.0.1', '169.254.169.254', '::1', '10.0.0.1']) {
      const test = await json<{ ok: boolean; error?: { message: string } }>(`${ctx.url}/api/targets/test`, {
        method: 'POST',
        headers: auth,
        body: { kind: 'ftp', name: 'x', host, port: ftp.port, user: 'u', password: 'secret-123' },
      });
      assert.equal(test.status, 200);
      assert.equal(test.body.ok, false, host);
      assert.match(test.body.error?.message ?? '', /allowPrivateNetwork|metadata/, host);
    }
    assert.equal(ftp.lines.length, 0, 'the guarded server got no command');
    for (const url of [
      'http://127.0.0.1:9/x.mp4',
      'http://169.254.169.254/latest/meta-data',
      'http://[::1]:9/x.mp4',
    ]) {
      const source = await json<{ mediaUrl: string }>(`${ctx.url}/api/playback-sources`, {
        method: 'POST',
        headers: auth,
        body: { url },
      });
      assert.equal(source.status, 201);
      const media = await json<{ code: string; message: string }>(`${ctx.url}${source.body.mediaUrl}`, {
        headers: auth,
      });
      assert.equal(media.status, 403, url);
      assert.match(media.body.message, /private address|metadata/);
    }
  });

  it('re-checks every redirect and never renders an HTML answer from remote playback', async () => {
    let redirectHits = 0;
    const inner = createHttpServer((request, response) => {
      if (request.url === '/page.mp4') {
        response.writeHead(200, { 'content-type': 'text/html' });
        response.end('<script>alert(1)</script>');
      } else {
        response.writeHead(200, { 'content-type': 'video/mp4' });
        response.end(Buffer.alloc(64));
      }
    });
    const innerPort = await listen(inner);
    const redirector = createHttpServer((_request, response) => {
      redirectHits++;
      response.writeHead(302, { location: `http://169.254.169.254/latest/meta-data` });
      response.end();
    });
    const redirectorPort = await listen(redirector);
    servers.push(inner, redirector);
    const open = async (url: string) => {
      const source = await json<{ mediaUrl: string }>(`${ctx.url}/api/playback-sources`, {
        method: 'POST',
        headers: auth,
        body: { url, allowPrivateNetwork: true },
      });
      return fetch(`${ctx.url}${source.body.mediaUrl}`, { headers: auth });
    };
    // A source on the LAN (allowed) that redirects to the metadata service: the hop is refused.
    const redirected = await open(`http://127.0.0.1:${redirectorPort}/x.mp4`);
    const redirectedBody = await redirected.json();
    assert.equal(redirected.status, 403, JSON.stringify(redirectedBody));
    assert.equal(redirectHits, 1, 'the first hop was fetched, the redirect target was refused');
    // Without the flag the guard refuses before connecting at all.
    const guarded = await json<{ mediaUrl: string }>(`${ctx.url}/api/playback-sources`, {
      method: 'POST',
      headers: auth,
      body: { url: `http://127.0.0.1:${redirectorPort}/x.mp4` },
    });
    const refused = await fetch(`${ctx.url}${guarded.body.mediaUrl}`, { headers: auth });
    assert.equal(refused.status, 403);
    assert.equal(redirectHits, 1, 'the guard refused before connecting');
    const html = await open(`http://127.0.0.1:${innerPort}/page.mp4`);
    const body = await html.text();
    assert.equal(html.status, 400);
    assert.doesNotMatch(body, /<script>/);
    const media = await open(`http://127.0.0.1:${innerPort}/ok.mp4`);
    assert.equal(media.status, 200);
    assert.equal(media.headers.get('content-type'), 'video/mp4');
    assert.equal(media.headers.get('x-content-type-options'), 'nosniff');
    await media.arrayBuffer();
  });
});
