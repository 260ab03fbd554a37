import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'electron-vite';
import react from '@vitejs/plugin-react';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  main: {
    build: {
      rollupOptions: {
        // Two entries over one core: the Electron app and the headless server; the media worker
        // thread's entry beside them (docs/threads.md).
        input: {
          index: resolve(root, 'src/main/index.ts'),
          headless: resolve(root, 'src/main/headless.ts'),
          mediaWorkerThread: resolve(root, 'src/main/workers/mediaWorkerThread.ts'),
        },
      },
    },
  },
  preload: {
    build: {
      rollupOptions: {
        input: { index: resolve(root, 'src/preload/index.ts') },
        // Sandboxed preload scripts must be CommonJS.
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    root: resolve(root, 'src/renderer'),
    build: {
      rollupOptions: {
        input: {
          index: resolve(root, 'src/renderer/index.html'),
          join: resolve(root, 'src/renderer/join.html'),
        },
      },
    },
    plugins: [react()],
  },
});
