import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ROOT } from './headless';

/** Flags for Chromium on a machine without network, GPU or camera; fake media devices. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
  '--allow-loopback-in-peer-connection',
  '--autoplay-policy=no-user-gesture-required',
];

/** Debian's Chromium, or CHROMIUM_PATH; Playwright's own browser when neither exists. */
function executablePath(): string | undefined {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'];
  return candidates.find((p): p is string => p !== undefined && p !== '' && existsSync(p));
}

/** Launches headless Chromium (Playwright creates a fresh profile directory for each launch). */
export async function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  const path = executablePath();
  return chromium.launch({
    ...(path !== undefined ? { executablePath: path } : {}),
    headless: true,
    args: [...CHROMIUM_ARGS, ...extraArgs],
  });
}

/** Where screenshots of screens go (kept by CI). */
export function artifactPath(name: string): string {
  const dir = join(ROOT, 'test', 'artifacts');
  mkdirSync(dir, { recursive: true });
  return join(dir, name);
}

/** Opens the operator UI of a core in a page and logs in with the test password. */
export async function loginOperator(page: Page, url: string, password: string): Promise<void> {
  await page.goto(url);
  await page.getByLabel('Operator password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('navigation', { name: 'Main' }).waitFor();
}
