import { after, before } from 'node:test';
import { startHeadless, type HeadlessCore } from './headless';
import { OperatorClient } from './studio';
import { tempDir } from './tmp';

/** A headless core for the enclosing `describe`: its data folder, the core and a signed-in operator. */
export interface CoreContext {
  /** The data folder. */
  dir: string;
  core: HeadlessCore;
  operator: OperatorClient;
}

/**
 * Starts a headless core with `env` in a fresh data folder before the suite's tests and stops it
 * (and removes the folder) after them. The fields are set once the `before` hook has run.
 */
export function useCore(env: Record<string, string> = {}): CoreContext {
  const ctx = {} as CoreContext;
  let folder: ReturnType<typeof tempDir> | undefined;
  before(async () => {
    folder = tempDir();
    ctx.dir = folder.path;
    ctx.core = await startHeadless({ dataDir: folder.path, env });
    ctx.operator = await OperatorClient.login(ctx.core);
  });
  after(async () => {
    await ctx.core?.stop();
    folder?.remove();
  });
  return ctx;
}
