import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { Studio } from '../../src/main/Studio';
import { TEST_CREDENTIALS } from './headless';
import { tempDir } from './tmp';

/** The test credentials as settings-file fields (so the API may change them: no SPOOL_* variable). */
export const TEST_SETTINGS = {
  apiKey: TEST_CREDENTIALS.SPOOL_API_KEY,
  apiSecret: TEST_CREDENTIALS.SPOOL_API_SECRET,
  operatorPassword: TEST_CREDENTIALS.SPOOL_OPERATOR_PASSWORD,
  filesUser: TEST_CREDENTIALS.SPOOL_FILES_USER,
  filesPassword: TEST_CREDENTIALS.SPOOL_FILES_PASSWORD,
};

/** A real studio core in this process (its route table is readable), on a free loopback port. */
export interface TestStudio {
  studio: Studio;
  url: string;
  port: number;
  dataDir: string;
  close(): Promise<void>;
}

export async function startTestStudio(settings: Record<string, unknown> = {}): Promise<TestStudio> {
  const dir = tempDir('spool-sec-');
  writeFileSync(
    join(dir.path, 'settings.json'),
    JSON.stringify({ schemaVersion: 1, logLevel: 'silent', ...TEST_SETTINGS, ...settings }),
  );
  const studio = await Studio.start({ dataDir: dir.path, env: {}, overrides: { httpPort: 0 } });
  return {
    studio,
    url: studio.url,
    port: studio.http.port,
    dataDir: dir.path,
    async close() {
      await studio.close();
      dir.remove();
    },
  };
}

/** Sends raw request text (odd request lines fetch cannot send) and returns the status and body. */
export function rawRequest(
  port: number,
  text: string,
  timeoutMs = 10_000,
): Promise<{ status: number; head: string; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms to ${JSON.stringify(text.split('\r\n')[0])}`));
    }, timeoutMs);
    socket.on('data', (chunk: Buffer) => (data += chunk.toString('latin1')));
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      const [head = '', ...rest] = data.split('\r\n\r\n');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
      resolve({ status, head, body: rest.join('\r\n\r\n') });
    });
    socket.write(text.includes('Connection:') ? text : text.replace('\r\n', '\r\nConnection: close\r\n'));
  });
}
