import { X509Certificate } from 'node:crypto';
import { chownSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../tmp';
import { freePort, run, ServerProcess, waitForPort, waitForPortClosed } from './processes';
import { testUser, type TestUser } from './testUser';

/** A running vsftpd on 127.0.0.1 that accepts plain FTP and explicit FTPS (AUTH TLS). */
export interface VsftpdServer {
  host: string;
  port: number;
  user: TestUser;
  /** SHA-256 fingerprint of the server's self-signed certificate (`AA:BB:…`). */
  certificateFingerprint: string;
  /** The certificate (PEM). */
  certificate: string;
  /** A fresh folder in the user's home for this server's files (absolute path). */
  root: string;
  /** Kills vsftpd and every session process it forked. */
  kill(): Promise<void>;
  /** Starts vsftpd again on the same port. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Starts vsftpd in the foreground with a throw-away config and self-signed certificate;
 * `extraConfig` lines are added (e.g. `cmds_denied=APPE`).
 */
export async function startVsftpd(extraConfig: string[] = []): Promise<VsftpdServer> {
  const user = testUser();
  const dir = tempDir('spool-vsftpd-');
  const port = await freePort();
  const pasvMin = 20000 + (port % 20000);
  const keyFile = join(dir.path, 'key.pem');
  const certFile = join(dir.path, 'cert.pem');
  run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    keyFile,
    '-out',
    certFile,
    '-days',
    '2',
    '-subj',
    '/CN=127.0.0.1',
    '-addext',
    'subjectAltName=IP:127.0.0.1',
  ]);
  const certificate = readFileSync(certFile, 'utf8');
  mkdirSync('/var/run/vsftpd/empty', { recursive: true });
  const config = join(dir.path, 'vsftpd.conf');
  writeFileSync(
    config,
    [
      'listen=YES',
      'listen_address=127.0.0.1',
      `listen_port=${port}`,
      'background=NO',
      'anonymous_enable=NO',
      'local_enable=YES',
      'write_enable=YES',
      'local_umask=022',
      'pam_service_name=vsftpd',
      'secure_chroot_dir=/var/run/vsftpd/empty',
      'pasv_enable=YES',
      'pasv_address=127.0.0.1',
      `pasv_min_port=${pasvMin}`,
      `pasv_max_port=${pasvMin + 50}`,
      'seccomp_sandbox=NO',
      'max_clients=100',
      'max_per_ip=100',
      // One server for both: plain FTP clients and explicit FTPS clients.
      'ssl_enable=YES',
      'force_local_logins_ssl=NO',
      'force_local_data_ssl=NO',
      `rsa_cert_file=${certFile}`,
      `rsa_private_key_file=${keyFile}`,
      ...extraConfig,
      '',
    ].join('\n'),
  );
  const root = join(user.home, `ftp-${port}`);
  mkdirSync(root, { recursive: true });
  chownSync(root, user.uid, user.gid);

  let server: ServerProcess | null = null;
  const start = async () => {
    server = new ServerProcess('/usr/sbin/vsftpd', [config]);
    const current = server;
    await waitForPort(port, 30_000, 'vsftpd', () => current.output());
  };
  const kill = async () => {
    await server?.stop('SIGKILL');
    await waitForPortClosed(port);
  };
  await start();
  let closed = false;
  return {
    host: '127.0.0.1',
    port,
    user,
    certificate,
    certificateFingerprint: new X509Certificate(certificate).fingerprint256,
    root,
    kill,
    restart: start,
    async close() {
      if (closed) return;
      closed = true;
      await kill();
      rmSync(root, { recursive: true, force: true });
      dir.remove();
    },
  };
}
