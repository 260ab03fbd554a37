import { createHash } from 'node:crypto';
import { chownSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../tmp';
import { freePort, run, ServerProcess, waitForPort, waitForPortClosed } from './processes';
import { testUser, type TestUser } from './testUser';

/** A running OpenSSH sshd serving SFTP on 127.0.0.1 for the `spooltest` account. */
export interface SshdServer {
  host: string;
  port: number;
  user: TestUser;
  /** The client's private key (OpenSSH format) whose public key is authorized. */
  privateKey: string;
  /** Host key fingerprint as OpenSSH prints it: `SHA256:<base64>`. */
  hostKeyFingerprint: string;
  /** A fresh folder in the user's home for this server's files (absolute path). */
  root: string;
  /** Kills sshd and every session process it forked. */
  kill(): Promise<void>;
  /** Starts sshd again on the same port with the same keys. */
  restart(): Promise<void>;
  /**
   * Replaces the server by another with a new host key on the same port (a reinstalled server,
   * or someone in the middle); `hostKeyFingerprint` becomes the new key's.
   */
  rotateHostKey(): Promise<void>;
  /** Kills the server and removes its files. Idempotent. */
  close(): Promise<void>;
}

/** Starts sshd in the foreground (`-D -e`) with a throw-away config, host key and client key. */
export async function startSshd(): Promise<SshdServer> {
  const user = testUser();
  const dir = tempDir('spool-sshd-');
  const port = await freePort();
  mkdirSync('/run/sshd', { recursive: true });
  const hostKey = join(dir.path, 'host_ed25519');
  run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
  const clientKey = join(dir.path, 'client_ed25519');
  run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', clientKey]);
  // Each server has its own authorized key (test files run side by side, each with an sshd).
  const sshDir = join(user.home, '.ssh');
  mkdirSync(sshDir, { recursive: true });
  const authorizedKeys = join(sshDir, `authorized_keys_${port}`);
  writeFileSync(authorizedKeys, readFileSync(`${clientKey}.pub`));
  chownSync(sshDir, user.uid, user.gid);
  chownSync(authorizedKeys, user.uid, user.gid);
  const fingerprintOf = () => {
    const hostPub = readFileSync(`${hostKey}.pub`, 'utf8').trim().split(/\s+/)[1]!;
    return `SHA256:${createHash('sha256').update(Buffer.from(hostPub, 'base64')).digest('base64').replace(/=+$/, '')}`;
  };
  const config = join(dir.path, 'sshd_config');
  writeFileSync(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      `AuthorizedKeysFile ${authorizedKeys}`,
      `PidFile ${join(dir.path, 'sshd.pid')}`,
      'PasswordAuthentication yes',
      'PubkeyAuthentication yes',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'PermitRootLogin no',
      `AllowUsers ${user.name}`,
      'Subsystem sftp internal-sftp',
      'StrictModes no',
      'MaxStartups 100',
      'MaxSessions 100',
      '',
    ].join('\n'),
  );
  const root = join(user.home, `sftp-${port}`);
  mkdirSync(root, { recursive: true });
  chownSync(root, user.uid, user.gid);

  let server: ServerProcess | null = null;
  const start = async () => {
    server = new ServerProcess('/usr/sbin/sshd', ['-D', '-e', '-f', config]);
    const current = server;
    await waitForPort(port, 30_000, 'sshd', () => current.output());
  };
  const kill = async () => {
    await server?.stop('SIGKILL');
    await waitForPortClosed(port);
  };
  await start();
  let closed = false;
  const sshd: SshdServer = {
    host: '127.0.0.1',
    port,
    user,
    privateKey: readFileSync(clientKey, 'utf8'),
    hostKeyFingerprint: fingerprintOf(),
    root,
    kill,
    restart: start,
    async rotateHostKey() {
      await kill();
      rmSync(hostKey, { force: true });
      rmSync(`${hostKey}.pub`, { force: true });
      run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
      sshd.hostKeyFingerprint = fingerprintOf();
      await start();
    },
    async close() {
      if (closed) return;
      closed = true;
      await kill();
      rmSync(root, { recursive: true, force: true });
      rmSync(authorizedKeys, { force: true });
      dir.remove();
    },
  };
  return sshd;
}
