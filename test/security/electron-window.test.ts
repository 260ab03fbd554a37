import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import {
  developmentOptions,
  installPermissionHandlers,
  isStudioFrame,
  isStudioMainFrame,
  lockNavigation,
} from '../../src/main/desktop/webSecurity';
import { createFakeElectron, FakeFrame, type FakeElectron, FakeBrowserWindow } from '../helpers/fakeElectron';

const STUDIO = 'http://127.0.0.1:7480';

/** URLs that look like the studio but are another origin. */
const LOOKALIKES = [
  'http://127.0.0.1:7481/',
  'https://127.0.0.1:7480/',
  'http://localhost:7480/',
  'http://127.0.0.1:7480.evil.example/',
  'http://127.0.0.1:7480@evil.example/',
  'http://evil.example/?http://127.0.0.1:7480/',
  'file:///etc/passwd',
  'data:text/html,<h1>hi</h1>',
  'javascript:alert(1)',
  'about:blank',
  'not a url',
];

describe('Electron window security', () => {
  let electron: FakeElectron;
  beforeEach(() => (electron = createFakeElectron()));

  describe('navigation', () => {
    let window: FakeBrowserWindow;
    beforeEach(() => {
      window = new FakeBrowserWindow({}, `${STUDIO}/`);
      lockNavigation(window.webContents, STUDIO, (url) => void electron.shell.openExternal(url));
    });

    it('lets the window navigate within the studio', () => {
      assert.equal(window.webContents.navigate(`${STUDIO}/#/archives`), true);
      assert.equal(window.webContents.navigate(`${STUDIO}/join/abc?t=x`), true);
      assert.equal(window.webContents.redirect(`${STUDIO}/`), true);
    });

    it('cancels every navigation and redirect to another origin', () => {
      for (const url of LOOKALIKES) {
        assert.equal(window.webContents.navigate(url), false, `navigation to ${url}`);
        assert.equal(window.webContents.redirect(url), false, `redirect to ${url}`);
      }
    });

    it('opens web links in the browser and never opens a window of the app', () => {
      assert.equal(window.webContents.openWindow('https://example.com/docs'), 'deny');
      assert.equal(window.webContents.openWindow(`${STUDIO}/#/rooms`), 'deny');
      assert.equal(window.webContents.openWindow('file:///etc/passwd'), 'deny');
      assert.equal(window.webContents.openWindow('javascript:alert(1)'), 'deny');
      assert.deepEqual(electron.shell.openedExternal, ['https://example.com/docs']);
    });
  });

  describe('permissions', () => {
    beforeEach(() => installPermissionHandlers(electron.session.defaultSession, STUDIO));
    const session = () => electron.session.defaultSession;

    it('grants camera, microphone and screen capture to the studio page', async () => {
      const page = `${STUDIO}/#/rooms/r1`;
      assert.equal(
        await session().request('media', {
          requestingUrl: page,
          securityOrigin: `${STUDIO}/`,
          mediaTypes: ['video', 'audio'],
        }),
        true,
      );
      assert.equal(await session().request('display-capture', { requestingUrl: page }), true);
      assert.equal(session().check('media', STUDIO, { securityOrigin: STUDIO, mediaType: 'video' }), true);
      assert.equal(session().check('display-capture', STUDIO), true);
    });

    it('denies camera, microphone and screen capture to any other origin', async () => {
      for (const url of LOOKALIKES) {
        assert.equal(
          await session().request('media', {
            requestingUrl: url,
            securityOrigin: url,
            mediaTypes: ['video'],
          }),
          false,
          url,
        );
        assert.equal(await session().request('display-capture', { requestingUrl: url }), false, url);
        assert.equal(session().check('media', url, { securityOrigin: url, mediaType: 'audio' }), false, url);
      }
      // A media request whose frame origin is the studio's but whose page is elsewhere.
      assert.equal(
        await session().request('media', { requestingUrl: 'http://evil.example/', securityOrigin: STUDIO }),
        false,
      );
    });

    it('denies every other permission, even to the studio page', async () => {
      for (const permission of [
        'geolocation',
        'notifications',
        'midi',
        'midiSysex',
        'clipboard-read',
        'openExternal',
        'hid',
        'serial',
        'usb',
        'pointerLock',
        'idle-detection',
        'unknown',
      ]) {
        assert.equal(await session().request(permission, { requestingUrl: `${STUDIO}/` }), false, permission);
        assert.equal(session().check(permission, STUDIO), false, permission);
      }
    });
  });

  describe('bootstrap token', () => {
    it('goes to the main frame of the studio page only', () => {
      const main = new FakeFrame(`${STUDIO}/#/rooms`);
      assert.equal(isStudioMainFrame(main, STUDIO), true);
      assert.equal(isStudioMainFrame(main.child(`${STUDIO}/join/x`), STUDIO), false);
      assert.equal(isStudioMainFrame(main.child('http://evil.example/'), STUDIO), false);
      for (const url of LOOKALIKES) assert.equal(isStudioMainFrame(new FakeFrame(url), STUDIO), false, url);
      assert.equal(isStudioMainFrame(null, STUDIO), false);
      assert.equal(isStudioMainFrame(undefined, STUDIO), false);
    });

    it('lets other IPC come from any frame of the studio origin and nowhere else', () => {
      const main = new FakeFrame(`${STUDIO}/`);
      assert.equal(isStudioFrame(main.child(`${STUDIO}/x`), STUDIO), true);
      assert.equal(isStudioFrame(main.child('http://evil.example/'), STUDIO), false);
    });
  });

  describe('development builds', () => {
    it('a packaged app ignores ELECTRON_RENDERER_URL and has no DevTools', () => {
      const options = developmentOptions({
        isPackaged: true,
        env: { ELECTRON_RENDERER_URL: 'http://evil.example/' },
        studioUrl: STUDIO,
      });
      assert.deepEqual(options, { pageUrl: STUDIO, devTools: false });
    });

    it('a development build loads the dev server and may open DevTools', () => {
      assert.deepEqual(
        developmentOptions({
          isPackaged: false,
          env: { ELECTRON_RENDERER_URL: 'http://localhost:5173/' },
          studioUrl: STUDIO,
        }),
        { pageUrl: 'http://localhost:5173/', devTools: true },
      );
      assert.deepEqual(developmentOptions({ isPackaged: false, env: {}, studioUrl: STUDIO }), {
        pageUrl: STUDIO,
        devTools: true,
      });
      assert.equal(
        developmentOptions({
          isPackaged: false,
          env: { ELECTRON_RENDERER_URL: 'file:///x' },
          studioUrl: STUDIO,
        }).pageUrl,
        STUDIO,
      );
    });
  });
});
