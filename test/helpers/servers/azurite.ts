import { join } from 'node:path';
import { ROOT } from '../headless';
import { tempDir } from '../tmp';
import { freePort, ServerProcess, waitForPort, waitForPortClosed } from './processes';

/** Azurite's well-known development account (published in Azure's docs). */
export const AZURITE_ACCOUNT = 'devstoreaccount1';
export const AZURITE_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

/** A running Azurite blob service on 127.0.0.1. */
export interface AzuriteServer {
  port: number;
  accountName: string;
  accountKey: string;
  /** `http://127.0.0.1:<port>/devstoreaccount1`. */
  accountUrl: string;
  connectionString: string;
  kill(): Promise<void>;
  /** Starts Azurite again on the same port and storage folder (blobs and staged blocks kept). */
  restart(): Promise<void>;
  close(): Promise<void>;
}

/** Starts `azurite-blob` (the npm dev dependency) with storage in a temp folder. */
export async function startAzurite(): Promise<AzuriteServer> {
  const dir = tempDir('spool-azurite-');
  const port = await freePort();
  const bin = join(ROOT, 'node_modules', 'azurite', 'dist', 'src', 'blob', 'main.js');
  let server: ServerProcess | null = null;
  const start = async () => {
    server = new ServerProcess(process.execPath, [
      bin,
      '--blobHost',
      '127.0.0.1',
      '--blobPort',
      String(port),
      '--location',
      dir.path,
      '--skipApiVersionCheck',
      '--disableProductStyleUrl',
      // Azurite reports usage to Application Insights by default: nothing leaves this machine.
      '--disableTelemetry',
    ]);
    const current = server;
    await waitForPort(port, 60_000, 'azurite', () => current.output());
  };
  const kill = async () => {
    await server?.stop('SIGKILL');
    await waitForPortClosed(port);
  };
  await start();
  const accountUrl = `http://127.0.0.1:${port}/${AZURITE_ACCOUNT}`;
  let closed = false;
  return {
    port,
    accountName: AZURITE_ACCOUNT,
    accountKey: AZURITE_KEY,
    accountUrl,
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=${accountUrl};`,
    kill,
    restart: start,
    async close() {
      if (closed) return;
      closed = true;
      await kill();
      dir.remove();
    },
  };
}
