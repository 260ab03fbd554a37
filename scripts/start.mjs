// `npm start`: builds the app and runs it in Electron.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { ensureBuilt, ensureElectronSqlite, root, STUDIO_V8_FLAGS } from './lib.mjs';

const require = createRequire(import.meta.url);
let electron;
try {
  electron = require('electron');
} catch {
  electron = null;
}
if (typeof electron !== 'string' || !existsSync(electron)) {
  console.error(
    'The Electron binary is not installed (it is downloaded by `npm install` unless ELECTRON_SKIP_BINARY_DOWNLOAD is set).\n' +
      'Reinstall with internet access, or run the studio headless: npm run serve',
  );
  process.exit(1);
}
ensureBuilt();
ensureElectronSqlite();
// Electron's main process takes V8 flags only from its command line.
const child = spawn(electron, [`--js-flags=${STUDIO_V8_FLAGS.join(' ')}`, '.', ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code) => process.exit(code ?? 0));
