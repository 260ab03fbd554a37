// The headless command: `npm run serve -- --data <dir> --port <n>` (and `npm run doctor`).
// Builds what it needs on first run, then starts the core without Electron.
import { ensureBuilt, ensureNodeSqlite, requireSupportedNode } from './lib.mjs';

requireSupportedNode();

ensureNodeSqlite();
ensureBuilt();
await import('../out/main/headless.js');
