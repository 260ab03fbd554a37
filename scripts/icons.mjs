// Renders the app icons from their SVG sources in resources/ (npm run icons):
//   icon.svg          → icons/<n>x<n>.png (16…1024, Linux), icon.png (512), icon.ico (Windows),
//                       icon.icns (macOS)
//   tray.svg, tray-recording.svg → tray.png, tray@2x.png, tray-recording.png, tray-recording@2x.png
// Chromium (the one the tests use: CHROMIUM_PATH or /usr/bin/chromium) rasterizes the SVG; the
// ICO and ICNS containers hold PNG images and are written here.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { root } from './lib.mjs';

const dir = join(root, 'resources');
const ICON_SIZES = [16, 24, 32, 48, 64, 128, 256, 512, 1024];
const ICO_SIZES = [16, 24, 32, 48, 64, 128, 256];
// ICNS element types holding PNG data, by pixel size (the @2x types reuse the larger images).
const ICNS_TYPES = [
  ['icp4', 16],
  ['icp5', 32],
  ['icp6', 64],
  ['ic07', 128],
  ['ic08', 256],
  ['ic09', 512],
  ['ic10', 1024],
  ['ic11', 32],
  ['ic12', 64],
  ['ic13', 256],
  ['ic14', 512],
];

/** An ICO file whose entries are PNG images (Windows Vista and later read these). */
export function ico(images) {
  const header = Buffer.alloc(6);
  header.writeUInt16LE(0, 0);
  header.writeUInt16LE(1, 2);
  header.writeUInt16LE(images.length, 4);
  const entries = [];
  let offset = 6 + 16 * images.length;
  for (const { size, png } of images) {
    const entry = Buffer.alloc(16);
    entry.writeUInt8(size >= 256 ? 0 : size, 0);
    entry.writeUInt8(size >= 256 ? 0 : size, 1);
    entry.writeUInt8(0, 2);
    entry.writeUInt8(0, 3);
    entry.writeUInt16LE(1, 4);
    entry.writeUInt16LE(32, 6);
    entry.writeUInt32LE(png.length, 8);
    entry.writeUInt32LE(offset, 12);
    offset += png.length;
    entries.push(entry);
  }
  return Buffer.concat([header, ...entries, ...images.map((i) => i.png)]);
}

/** An ICNS file: the 'icns' header, then one (type, length, PNG) element per size. */
export function icns(elements) {
  const parts = elements.map(({ type, png }) => {
    const head = Buffer.alloc(8);
    head.write(type, 0, 'ascii');
    head.writeUInt32BE(png.length + 8, 4);
    return Buffer.concat([head, png]);
  });
  const body = Buffer.concat(parts);
  const head = Buffer.alloc(8);
  head.write('icns', 0, 'ascii');
  head.writeUInt32BE(body.length + 8, 4);
  return Buffer.concat([head, body]);
}

async function render(page, svg, size) {
  await page.setViewportSize({ width: size, height: size });
  const src = `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`;
  await page.setContent(
    `<html><body style="margin:0;background:transparent"><img src="${src}" width="${size}" height="${size}" style="display:block"></body></html>`,
  );
  await page.waitForFunction(() => globalThis.document.images[0]?.complete);
  return page.screenshot({ omitBackground: true, clip: { x: 0, y: 0, width: size, height: size } });
}

async function main() {
  const executablePath = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find(
    (p) => p && existsSync(p),
  );
  const browser = await chromium.launch({
    ...(executablePath ? { executablePath } : {}),
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--force-device-scale-factor=1'],
  });
  try {
    const page = await browser.newPage({ deviceScaleFactor: 1 });
    const icon = readFileSync(join(dir, 'icon.svg'), 'utf8');
    const pngs = new Map();
    mkdirSync(join(dir, 'icons'), { recursive: true });
    for (const size of ICON_SIZES) {
      const png = await render(page, icon, size);
      pngs.set(size, png);
      writeFileSync(join(dir, 'icons', `${size}x${size}.png`), png);
    }
    writeFileSync(join(dir, 'icon.png'), pngs.get(512));
    writeFileSync(join(dir, 'icon.ico'), ico(ICO_SIZES.map((size) => ({ size, png: pngs.get(size) }))));
    writeFileSync(
      join(dir, 'icon.icns'),
      icns(ICNS_TYPES.map(([type, size]) => ({ type, png: pngs.get(size) }))),
    );
    for (const name of ['tray', 'tray-recording']) {
      const svg = readFileSync(join(dir, `${name}.svg`), 'utf8');
      writeFileSync(join(dir, `${name}.png`), await render(page, svg, 16));
      writeFileSync(join(dir, `${name}@2x.png`), await render(page, svg, 32));
    }
  } finally {
    await browser.close();
  }
  console.log(`icons written to ${dir}`);
}

await main();
