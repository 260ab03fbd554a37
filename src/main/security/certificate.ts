import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generate } from 'selfsigned';

export interface TlsMaterial {
  key: string;
  cert: string;
  /** SHA-256 fingerprint of the certificate, as browsers show it (AA:BB:…). */
  fingerprint: string;
}

/**
 * The self-signed certificate of the LAN HTTPS listener (guests' browsers need a secure
 * context for getUserMedia). Made on first use for the LAN address and kept in
 * `<data>/keys/`; made anew when the address changes.
 */
export async function loadOrCreateCertificate(dataDir: string, address: string): Promise<TlsMaterial> {
  const dir = join(dataDir, 'keys');
  const isIp = /^[\d.]+$/.test(address) || address.includes(':');
  const keyPath = join(dir, 'lan-key.pem');
  const certPath = join(dir, 'lan-cert.pem');
  if (existsSync(keyPath) && existsSync(certPath)) {
    const cert = readFileSync(certPath, 'utf8');
    const x509 = new X509Certificate(cert);
    const valid = new Date(x509.validTo).getTime() > Date.now() + 86_400_000;
    const matches = isIp ? x509.checkIP(address) : x509.checkHost(address);
    if (valid && matches !== undefined) {
      return { key: readFileSync(keyPath, 'utf8'), cert, fingerprint: x509.fingerprint256 };
    }
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const notAfterDate = new Date(Date.now() + 825 * 86_400_000);
  const result = await generate([{ name: 'commonName', value: `Spool Studio ${address}` }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notAfterDate,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          isIp ? { type: 7, ip: address } : { type: 2, value: address },
          { type: 7, ip: '127.0.0.1' },
          { type: 2, value: 'localhost' },
        ],
      },
    ],
  });
  writeFileSync(keyPath, result.private, { mode: 0o600 });
  writeFileSync(certPath, result.cert, { mode: 0o644 });
  return {
    key: result.private,
    cert: result.cert,
    fingerprint: new X509Certificate(result.cert).fingerprint256,
  };
}
