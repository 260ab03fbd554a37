import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { STUDIO_V8_FLAGS } from '../../scripts/lib.mjs';
import { ROOT } from '../helpers/headless';

const require = createRequire(import.meta.url);

/** Width and height of a PNG (from its IHDR chunk). */
function pngSize(png: Buffer): { width: number; height: number } {
  assert.equal(png.subarray(1, 4).toString('ascii'), 'PNG', 'a PNG image');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

const resource = (name: string) => readFileSync(join(ROOT, 'resources', name));

describe('packaging', () => {
  it('npm run serve starts Node with the V8 flags of the studio, and this Node accepts them', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    assert.equal(pkg.scripts.serve, `node ${STUDIO_V8_FLAGS.join(' ')} scripts/serve.mjs`);
    const result = spawnSync(process.execPath, [...STUDIO_V8_FLAGS, '-e', ''], { encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stderr, '');
  });

  it('electron-builder accepts the packaging config', async () => {
    const { getConfig, validateConfiguration } = require('app-builder-lib/out/util/config/config') as {
      getConfig(dir: string, path: string | null, options: null): Promise<Record<string, unknown>>;
      validateConfiguration(config: unknown, logger: unknown): Promise<void>;
    };
    const { DebugLogger } = require('builder-util') as { DebugLogger: new (enabled: boolean) => unknown };
    const config = await getConfig(ROOT, null, null);
    await validateConfiguration(config, new DebugLogger(false));
    const targets = (platform: string) => JSON.stringify((config[platform] as { target: unknown }).target);
    assert.match(targets('linux'), /AppImage/);
    assert.match(targets('linux'), /deb/);
    assert.match(targets('mac'), /dmg/);
    assert.match(targets('win'), /nsis/);
    for (const key of ['mac', 'win'] as const) {
      const icon = (config[key] as { icon: string }).icon;
      assert.ok(existsSync(join(ROOT, icon)), `${key} icon ${icon} exists`);
    }
  });

  it('the Windows icon holds PNG images from 16 to 256 pixels', () => {
    const ico = resource('icon.ico');
    assert.equal(ico.readUInt16LE(2), 1, 'an icon resource');
    const count = ico.readUInt16LE(4);
    const sizes: number[] = [];
    for (let i = 0; i < count; i += 1) {
      const entry = 6 + 16 * i;
      const declared = ico.readUInt8(entry) || 256;
      const length = ico.readUInt32LE(entry + 8);
      const offset = ico.readUInt32LE(entry + 12);
      const { width, height } = pngSize(ico.subarray(offset, offset + length));
      assert.equal(width, declared);
      assert.equal(height, declared);
      sizes.push(width);
    }
    assert.deepEqual(sizes, [16, 24, 32, 48, 64, 128, 256]);
  });

  it('the macOS icon holds PNG images up to 1024 pixels', () => {
    const icns = resource('icon.icns');
    assert.equal(icns.subarray(0, 4).toString('ascii'), 'icns');
    assert.equal(icns.readUInt32BE(4), icns.length, 'the header length is the file length');
    const found = new Map<string, number>();
    for (let offset = 8; offset < icns.length;) {
      const type = icns.subarray(offset, offset + 4).toString('ascii');
      const length = icns.readUInt32BE(offset + 4);
      found.set(type, pngSize(icns.subarray(offset + 8, offset + length)).width);
      offset += length;
    }
    assert.equal(found.get('ic10'), 1024);
    assert.equal(found.get('ic09'), 512);
    assert.equal(found.get('ic07'), 128);
    assert.equal(found.get('icp4'), 16);
  });

  it('the window, Linux and tray icons have the sizes their names say', () => {
    assert.deepEqual(pngSize(resource('icon.png')), { width: 512, height: 512 });
    for (const size of [16, 32, 48, 64, 128, 256, 512, 1024])
      assert.deepEqual(pngSize(resource(`icons/${size}x${size}.png`)), { width: size, height: size });
    for (const name of ['tray', 'tray-recording']) {
      assert.deepEqual(pngSize(resource(`${name}.png`)), { width: 16, height: 16 });
      assert.deepEqual(pngSize(resource(`${name}@2x.png`)), { width: 32, height: 32 });
    }
    assert.notDeepEqual(resource('tray.png'), resource('tray-recording.png'), 'recording looks different');
  });
});
