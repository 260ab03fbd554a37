import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CipherContext,
  DtlsClient,
  DtlsServer,
  HashAlgorithm,
  NamedCurveAlgorithm,
  SignatureAlgorithm,
  type Transport,
} from 'werift';
import { guardDtlsClient } from '../../src/main/rooms/dtlsGuard';

/**
 * Two in-memory datagram transports. The client's first datagram (its ClientHello) reaches the
 * server twice, as when a busy client retransmitted it before the server's answer came: the
 * server then sends two HelloVerifyRequests.
 */
function link(): { client: Transport; server: Transport } {
  const make = (): Transport => ({
    type: 'udp',
    address: { address: '127.0.0.1', family: 'IPv4', port: 1 },
    closed: false,
    onData: () => {},
    send: async () => {},
    close: async () => {},
  });
  const client = make();
  const server = make();
  let first = true;
  client.send = async (data) => {
    const copies = first ? 2 : 1;
    first = false;
    for (let i = 0; i < copies; i++) setImmediate(() => server.onData(Buffer.from(data), ['127.0.0.1', 1]));
  };
  server.send = async (data) => {
    setImmediate(() => client.onData(Buffer.from(data), ['127.0.0.1', 2]));
  };
  return { client, server };
}

async function handshake(guard: boolean): Promise<'connected' | 'failed'> {
  const cert = await CipherContext.createSelfSignedCertificateWithKey(
    { signature: SignatureAlgorithm.ecdsa_3, hash: HashAlgorithm.sha256_4 },
    NamedCurveAlgorithm.secp256r1_23,
  );
  const options = {
    cert: cert.certPem,
    key: cert.keyPem,
    signatureHash: cert.signatureHash,
    extendedMasterSecret: true,
  };
  const transports = link();
  const server = new DtlsServer({ ...options, transport: transports.server, certificateRequest: true });
  const client = new DtlsClient({ ...options, transport: transports.client });
  if (guard) guardDtlsClient(client);
  const outcome = new Promise<'connected' | 'failed'>((resolve) => {
    client.onConnect.once(() => resolve('connected'));
    client.onError.once(() => resolve('failed'));
    setTimeout(() => resolve('failed'), 15_000).unref();
  });
  void client.connect().catch(() => {});
  const result = await outcome;
  client.close();
  server.close();
  return result;
}

describe('DTLS client guard', () => {
  it('unguarded, werift fails the handshake on a duplicated HelloVerifyRequest (the bug it guards)', async () => {
    assert.equal(await handshake(false), 'failed');
  });

  it('guarded, the handshake completes despite the duplicated HelloVerifyRequest', async () => {
    assert.equal(await handshake(true), 'connected');
  });
});
