import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { MenuItemConstructorOptions } from 'electron';
import type { AnyStudioEvent } from '../../src/shared/events';
import type { ArchiveJson } from '../../src/shared/archive';
import { buildMenuTemplate } from '../../src/main/desktop/appMenu';
import { PowerSaveGuard } from '../../src/main/desktop/PowerSaveGuard';
import { QuitGuard } from '../../src/main/desktop/QuitGuard';
import { RecordingMonitor } from '../../src/main/desktop/RecordingMonitor';
import { claimSingleInstance, focusWindow } from '../../src/main/desktop/singleInstance';
import { StudioTray } from '../../src/main/desktop/StudioTray';
import { formatElapsed } from '../../src/main/desktop/trayStatus';
import { loadWindowState, saveWindowState, trackWindowState } from '../../src/main/desktop/windowState';
import type { FakeTray } from '../helpers/fakeElectron';
import {
  createFakeElectron,
  FakeBrowserWindow,
  FakeLockRegistry,
  FakeMenu,
  type FakeElectron,
} from '../helpers/fakeElectron';
import { tempDir } from '../helpers/tmp';

/** A stand-in for the studio's event bus: the test publishes archive events into it. */
class EventSource {
  readonly listeners = new Set<(event: AnyStudioEvent) => void>();
  subscribe = (listener: (event: AnyStudioEvent) => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };
  archive(status: ArchiveJson['status'], id: string): void {
    const data = { id, status, roomId: 'room-1', name: null } as unknown as ArchiveJson;
    this.#emit({
      id: id + status,
      seq: 1,
      type: `archive.${status}`,
      createdAt: Date.now(),
      data,
    } as AnyStudioEvent);
  }
  progress(archiveId: string, durationSec: number, size: number): void {
    this.#emit({
      id: 'p',
      seq: 0,
      type: 'archive.progress',
      createdAt: Date.now(),
      data: { archiveId, durationSec, size },
    });
  }
  #emit(event: AnyStudioEvent): void {
    for (const listener of this.listeners) listener(event);
  }
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('desktop shell', () => {
  let electron: FakeElectron;
  let events: EventSource;
  let monitor: RecordingMonitor;
  beforeEach(() => {
    electron = createFakeElectron();
    events = new EventSource();
    monitor = new RecordingMonitor(events.subscribe);
  });
  afterEach(() => monitor.close());

  describe('single instance', () => {
    it('a second launch quits and brings the first window to the front', () => {
      const locks = new FakeLockRegistry();
      const first = createFakeElectron({ locks });
      const window = new FakeBrowserWindow();
      window.show();
      window.minimize();
      assert.equal(
        claimSingleInstance(first.app, () => focusWindow(window)),
        true,
      );

      const second = createFakeElectron({ locks });
      let secondOpened = false;
      assert.equal(
        claimSingleInstance(second.app, () => (secondOpened = true)),
        false,
      );
      assert.equal(second.app.quitted, true, 'the second instance quits');
      assert.equal(secondOpened, false);
      assert.equal(window.isMinimized(), false, 'the first window is restored');
      assert.equal(window.focused, true, 'and focused');
      assert.equal(first.app.quitted, false);
    });

    it('a launch after the first instance quit becomes the new first instance', () => {
      const locks = new FakeLockRegistry();
      const first = createFakeElectron({ locks });
      assert.equal(
        claimSingleInstance(first.app, () => {}),
        true,
      );
      first.app.quit();
      assert.equal(
        claimSingleInstance(createFakeElectron({ locks }).app, () => {}),
        true,
      );
    });
  });

  describe('power save', () => {
    it('blocks app suspension while any archive records and releases it when the last one stops', () => {
      const guard = new PowerSaveGuard(electron.powerSaveBlocker);
      monitor.on('change', (s) => guard.update(s.recording));
      assert.equal(electron.powerSaveBlocker.active.size, 0);

      events.archive('started', 'a1');
      assert.deepEqual([...electron.powerSaveBlocker.active.values()], ['prevent-app-suspension']);
      events.archive('started', 'a2');
      events.archive('paused', 'a2');
      assert.equal(electron.powerSaveBlocker.active.size, 1, 'one blocker for any number of archives');

      events.archive('stopped', 'a1');
      assert.equal(guard.active, true, 'a2 still records');
      events.archive('stopped', 'a2');
      assert.equal(electron.powerSaveBlocker.active.size, 0);
      assert.equal(guard.active, false);

      events.archive('started', 'a3');
      assert.equal(electron.powerSaveBlocker.active.size, 1, 'on again for the next recording');
      events.archive('failed', 'a3');
      assert.equal(electron.powerSaveBlocker.active.size, 0);
      assert.deepEqual(electron.powerSaveBlocker.started, [
        'prevent-app-suspension',
        'prevent-app-suspension',
      ]);
    });

    it('releases the blocker when it closes', () => {
      const guard = new PowerSaveGuard(electron.powerSaveBlocker);
      guard.update(true);
      guard.close();
      assert.equal(electron.powerSaveBlocker.active.size, 0);
      guard.update(true);
      assert.equal(electron.powerSaveBlocker.active.size, 0, 'a closed guard starts nothing');
    });
  });

  describe('quit', () => {
    let shutdowns: number;
    let releaseShutdown: () => void;
    let guard: QuitGuard;
    beforeEach(() => {
      shutdowns = 0;
      guard = new QuitGuard({
        app: electron.app,
        ask: (options) => electron.dialog.showMessageBox(options),
        isRecording: () => monitor.recording,
        shutdown: () =>
          new Promise<void>((resolve) => {
            shutdowns += 1;
            releaseShutdown = () => {
              // What the core's stop-all does: the archives stop.
              for (const a of monitor.snapshot().archives) events.archive('stopped', a.archiveId);
              resolve();
            };
          }),
      });
    });

    it('quits without asking when nothing records, after the studio has closed', async () => {
      electron.app.quit();
      assert.equal(electron.dialog.questions.length, 0);
      assert.equal(electron.app.quitted, false, 'waits for the studio to close');
      assert.equal(shutdowns, 1);
      releaseShutdown();
      await tick();
      assert.equal(electron.app.quitted, true);
      assert.equal(guard.state, 'closed');
    });

    it('asks while recording, and Cancel keeps the app and the recording running', async () => {
      events.archive('started', 'a1');
      electron.app.quit();
      assert.equal(electron.dialog.questions.length, 1);
      const question = electron.dialog.questions[0]!.options;
      assert.match(question.message, /recording/i);
      assert.deepEqual(question.buttons, ['Stop Recording and Quit', 'Cancel']);
      assert.equal(question.cancelId, 1, 'Escape cancels');
      assert.equal(question.defaultId, 1, 'Enter does not stop a recording by accident');
      electron.app.quit();
      assert.equal(electron.dialog.questions.length, 1, 'a second quit does not ask twice');

      electron.dialog.answer('Cancel');
      await tick();
      assert.equal(electron.app.quitted, false);
      assert.equal(shutdowns, 0);
      assert.equal(monitor.recording, true);
      assert.equal(guard.state, 'running');
    });

    it('"Stop Recording and Quit" stops and finalizes through the shutdown path, then quits', async () => {
      events.archive('started', 'a1');
      electron.app.quit();
      electron.dialog.answer('Stop Recording and Quit');
      await tick();
      assert.equal(shutdowns, 1);
      assert.equal(electron.app.quitted, false, 'not before the files are finalized');
      releaseShutdown();
      await tick();
      assert.equal(monitor.recording, false);
      assert.equal(electron.app.quitted, true);
    });

    it('closing the window while recording asks like quitting does', () => {
      const window = new FakeBrowserWindow();
      window.on('close', (event) => guard.onWindowClose(event));
      events.archive('started', 'a1');
      assert.equal(window.close(), false, 'the window stays open while the question is asked');
      assert.equal(electron.dialog.questions.length, 1);
      events.archive('stopped', 'a1');
      const idle = new FakeBrowserWindow();
      idle.on('close', (event) => guard.onWindowClose(event));
      assert.equal(idle.close(), true, 'with nothing recording the window just closes');
    });

    it('an OS shutdown while recording stops and finalizes without asking', async () => {
      electron.powerMonitor.on('shutdown', (event) => void guard.onSystemShutdown(event));
      events.archive('started', 'a1');
      assert.equal(electron.powerMonitor.shutdown(), true, 'the shutdown is held while files close');
      assert.equal(electron.dialog.questions.length, 0, 'nothing asks');
      assert.equal(shutdowns, 1);
      releaseShutdown();
      await tick();
      assert.equal(monitor.recording, false);
      assert.equal(electron.app.quitted, true);
    });

    it('a logout while the quit question is open stops and quits without waiting for an answer', async () => {
      events.archive('started', 'a1');
      electron.app.quit();
      assert.equal(electron.dialog.questions.length, 1);
      const done = guard.onSystemShutdown();
      assert.equal(shutdowns, 1);
      releaseShutdown();
      await done;
      assert.equal(electron.app.quitted, true);
      electron.dialog.answer('Cancel');
      await tick();
      assert.equal(shutdowns, 1, 'the late answer changes nothing');
    });
  });

  describe('application menu', () => {
    const roles = (template: MenuItemConstructorOptions[]): string[] =>
      template.flatMap((item) => [
        ...(item.role ? [item.role] : []),
        ...(Array.isArray(item.submenu) ? roles(item.submenu) : []),
      ]);
    const find = (
      template: MenuItemConstructorOptions[],
      id: string,
    ): MenuItemConstructorOptions | undefined => {
      for (const item of template) {
        if (item.id === id) return item;
        const inner = Array.isArray(item.submenu) ? find(item.submenu, id) : undefined;
        if (inner) return inner;
      }
      return undefined;
    };
    const build = (platform: NodeJS.Platform, development = false, recording = false) => {
      const commands: string[] = [];
      const opened: number[] = [];
      const template = buildMenuTemplate({
        platform,
        appName: 'Spool Studio',
        development,
        recording,
        actions: { command: (c) => commands.push(c), openDataFolder: () => opened.push(1) },
      });
      // The template must be one Electron's Menu accepts as it is.
      electron.Menu.setApplicationMenu(electron.Menu.buildFromTemplate(template));
      return { template, commands, opened };
    };

    it('on macOS has the app menu and the standard Edit, View, Window and Help roles', () => {
      const { template } = build('darwin');
      assert.equal(template[0]!.role, 'appMenu');
      const all = roles(template);
      for (const role of ['appMenu', 'editMenu', 'windowMenu', 'help', 'togglefullscreen', 'zoomIn'])
        assert.ok(all.includes(role), `${role} in ${all.join(',')}`);
      assert.ok(!all.includes('toggleDevTools'), 'no DevTools in a packaged build');
      assert.ok(FakeMenu.applicationMenu !== null);
    });

    it('on Windows and Linux has Quit in the Studio menu and the standard Edit role', () => {
      for (const platform of ['win32', 'linux'] as const) {
        const { template } = build(platform);
        const all = roles(template);
        assert.ok(!all.includes('appMenu'));
        for (const role of ['quit', 'editMenu', 'windowMenu'])
          assert.ok(all.includes(role), `${platform}: ${role}`);
      }
    });

    it('has DevTools and Reload in development builds only', () => {
      assert.ok(roles(build('linux', true).template).includes('toggleDevTools'));
      assert.ok(roles(build('linux', true).template).includes('reload'));
      assert.ok(!roles(build('linux', false).template).includes('reload'));
    });

    it('Studio items send the page its commands with the page shortcuts shown, and open the data folder', () => {
      const { template, commands, opened } = build('linux', false, true);
      const click = (id: string) => (find(template, id)!.click as unknown as () => void)();
      const start = find(template, 'start-recording')!;
      assert.equal(start.accelerator, 'Ctrl+Shift+R');
      assert.equal(start.registerAccelerator, false, 'the page keeps handling its own shortcut');
      assert.equal(find(template, 'stop-recording')!.accelerator, 'Ctrl+Shift+S');
      assert.equal(find(template, 'new-room')!.accelerator, 'CmdOrCtrl+N');
      click('new-room');
      click('start-recording');
      click('stop-recording');
      click('open-data-folder');
      assert.deepEqual(commands, ['new-room', 'start-recording', 'stop-recording']);
      assert.equal(opened.length, 1);
    });

    it('enables Stop Recording only while something records', () => {
      assert.equal(find(build('linux', false, false).template, 'stop-recording')!.enabled, false);
      assert.equal(find(build('linux', false, true).template, 'stop-recording')!.enabled, true);
    });
  });

  describe('tray', () => {
    it('shows the recording state, elapsed time, size and disk level', () => {
      let tray: FakeTray | null = null;
      let shown = 0;
      const studioTray = new StudioTray(
        {
          appName: 'Spool Studio',
          create: (image) => (tray = new electron.Tray(image)),
          buildMenu: (template) => electron.Menu.buildFromTemplate(template),
          images: { idle: 'idle.png', recording: 'recording.png' },
          showWindow: () => (shown += 1),
          quit: () => electron.app.quit(),
        },
        monitor.snapshot(),
      );
      monitor.on('change', (s) => studioTray.update(s, { level: 'ok', freeBytes: 52e9 }));
      const t = tray as unknown as FakeTray;
      assert.equal(t.image, 'idle.png');
      assert.match(t.tooltip, /not recording/);

      events.archive('started', 'a1');
      events.progress('a1', 3723, 1_500_000_000);
      assert.equal(t.image, 'recording.png');
      assert.equal(studioTray.recording, true);
      assert.match(t.tooltip, /Recording 1:02:03 · 1\.5 GB · disk ok, 52 GB free/);

      t.emit('click');
      assert.equal(shown, 1);
      events.archive('stopped', 'a1');
      assert.equal(t.image, 'idle.png');
      assert.match(t.tooltip, /not recording/);
      studioTray.close();
      assert.equal(t.destroyed, true);
    });

    it('formats elapsed time like a clock', () => {
      assert.equal(formatElapsed(0), '0:00');
      assert.equal(formatElapsed(59), '0:59');
      assert.equal(formatElapsed(61), '1:01');
      assert.equal(formatElapsed(3600), '1:00:00');
    });
  });

  describe('window state', () => {
    let dir: ReturnType<typeof tempDir>;
    beforeEach(() => (dir = tempDir()));
    afterEach(() => dir.remove());
    const screenAreas = [{ x: 0, y: 0, width: 1920, height: 1080 }];

    it('remembers the size and position the window had when it closed', () => {
      const file = join(dir.path, 'window-state.json');
      assert.deepEqual(loadWindowState(file, screenAreas), { width: 1280, height: 800, maximized: false });
      const window = new FakeBrowserWindow({ x: 10, y: 20, width: 1000, height: 700 });
      trackWindowState(window, file, 10_000);
      window.setBounds({ x: 100, y: 50, width: 1100, height: 720 });
      window.maximized = true;
      window.close();
      assert.deepEqual(loadWindowState(file, screenAreas), {
        x: 100,
        y: 50,
        width: 1100,
        height: 720,
        maximized: true,
      });
    });

    it('drops a position on a display that is gone, a damaged file and sizes too small', () => {
      const file = join(dir.path, 'window-state.json');
      saveWindowState(file, { x: 3000, y: 100, width: 1000, height: 700, maximized: false });
      assert.deepEqual(loadWindowState(file, screenAreas), { width: 1000, height: 700, maximized: false });
      saveWindowState(file, { x: 0, y: 0, width: 10, height: 10, maximized: false });
      assert.deepEqual(loadWindowState(file, screenAreas), {
        x: 0,
        y: 0,
        width: 640,
        height: 480,
        maximized: false,
      });
      writeFileSync(file, '{"width": "wide"');
      assert.deepEqual(loadWindowState(file, screenAreas), { width: 1280, height: 800, maximized: false });
    });
  });
});
