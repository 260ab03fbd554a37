import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Candidate, Connection, Message, parseMessage } from 'werift';
import {
  admitsCandidate,
  admitsRequest,
  guardProtocol,
  installIceGuard,
  MAX_REMOTE_CANDIDATES,
} from '../../src/main/rooms/iceGuard';

const agent = {
  localUsername: 'studio',
  localPassword: 'studio-password-0123456789',
  userHistory: { before: 'earlier-password-0123456789' },
  remoteCandidates: [{ host: '127.0.0.1', port: 5000 }],
};

/** A binding request as bytes and as werift parses it (without a key, as its socket does). */
function request(username: string | null, password: string | null, method = 1) {
  const message = new Message(method, 0).setAttribute('PRIORITY', 1).setAttribute('ICE-CONTROLLING', 1n);
  if (username !== null) message.setAttribute('USERNAME', username);
  if (password !== null) message.addMessageIntegrity(Buffer.from(password, 'utf8'));
  const bytes = message.addFingerprint().bytes;
  return { parsed: parseMessage(bytes)!, bytes };
}

const admits = (r: ReturnType<typeof request>, port = 5000, a = agent) =>
  admitsRequest(a, r.parsed, ['127.0.0.1', port], r.bytes);

describe('ICE binding requests the studio takes', () => {
  it('only with this agent’s ufrag and a MESSAGE-INTEGRITY made with its password', () => {
    assert.equal(admits(request('studio:guest', agent.localPassword)), true);
    assert.equal(admits(request('before:guest', agent.userHistory.before)), true, 'an earlier ufrag');
    assert.equal(admits(request('guest:studio', agent.localPassword)), false, 'another agent’s ufrag');
    assert.equal(admits(request('studio:guest', null)), false, 'no MESSAGE-INTEGRITY');
    assert.equal(admits(request('studio:guest', 'wrong')), false, 'a wrong password');
    assert.equal(admits(request('before:guest', agent.localPassword)), false, 'another ufrag’s password');
    assert.equal(admits(request(null, agent.localPassword)), false, 'no USERNAME');
    assert.equal(admits(request('studio', agent.localPassword)), false, 'no remote ufrag part');
    assert.equal(admits(request(':guest', agent.localPassword)), false, 'an empty ufrag');
    for (const name of ['__proto__', 'constructor', 'toString'])
      assert.equal(admits(request(`${name}:guest`, '')), false, `${name} is no ufrag`);
  });

  it('from a new address only while it has learned fewer than the bound; what was signaled does not count', () => {
    const valid = request('studio:guest', agent.localPassword);
    assert.equal(admits(valid, 6000), true);
    const candidates = (n: number, type: string) =>
      Array.from({ length: n }, (_, i) => ({ host: '127.0.0.1', port: 5000 + i, type }));
    const learnedEnough = { ...agent, remoteCandidates: candidates(MAX_REMOTE_CANDIDATES, 'prflx') };
    assert.equal(admits(valid, 7000, learnedEnough), false, 'a new address past the bound');
    assert.equal(admits(valid, 5003, learnedEnough), true, 'a known address');
    // A client with many interfaces signals many candidates; its NAT's address is still learned.
    const manySignaled = { ...agent, remoteCandidates: candidates(60, 'host') };
    assert.equal(admits(valid, 7000, manySignaled), true);
  });

  it('leaves other methods to werift (it answers them with an error)', () => {
    assert.equal(admits(request(null, null, 3)), true);
  });

  it('an ICE-lite agent takes other datagrams only from an address whose request it took', () => {
    const taken: string[] = [];
    const requests: string[] = [];
    const protocol = {
      onRequestReceived: {
        execute: (_m: unknown, addr: readonly [string, number], _data?: Buffer) =>
          requests.push(addr.join(':')),
      },
      datagramReceived(data: Buffer, addr: readonly [string, number]) {
        taken.push(`${data[0]}@${addr.join(':')}`);
      },
    };
    guardProtocol({ ...agent, iceLite: true }, protocol as never);
    const dtls = Buffer.from([22, 0xfe, 0xfd]);
    const stranger: [string, number] = ['127.0.0.1', 7001];
    const peer: [string, number] = ['127.0.0.1', 5000];
    protocol.datagramReceived(dtls, peer);
    protocol.datagramReceived(dtls, stranger);
    const valid = request('studio:guest', agent.localPassword);
    protocol.datagramReceived(valid.bytes, stranger); // STUN passes on to werift's own checks
    protocol.onRequestReceived.execute(valid.parsed, peer, valid.bytes);
    protocol.datagramReceived(dtls, peer);
    protocol.datagramReceived(dtls, stranger);
    assert.deepEqual(taken, ['0@127.0.0.1:7001', '22@127.0.0.1:5000']);
    assert.deepEqual(requests, ['127.0.0.1:5000']);

    // A full agent (a client) is left as werift made it.
    const seen: number[] = [];
    const client = { ...protocol, datagramReceived: (data: Buffer) => void seen.push(data[0]!) };
    guardProtocol({ ...agent, iceLite: false }, client as never);
    client.datagramReceived(dtls);
    assert.deepEqual(seen, [22]);
  });
});

describe('remote candidates the studio takes', () => {
  it('only those whose address is an IP literal; names (mDNS .local) are dropped', () => {
    assert.equal(admitsCandidate({ host: '192.0.2.7' }), true);
    assert.equal(admitsCandidate({ host: '2001:db8::1' }), true);
    assert.equal(admitsCandidate(undefined), true, 'end-of-candidates');
    assert.equal(admitsCandidate({ host: '5f1c1b6e-3a4e-4bb1-9a8c-0d9c1f3b2a71.local' }), false);
    assert.equal(admitsCandidate({ host: 'studio.example' }), false);
    assert.equal(admitsCandidate({ host: '' }), false);
  });

  it(
    'a werift agent drops an mDNS candidate at once (no multicast lookup, 10 s in werift) and takes an IP one',
    { timeout: 5000 },
    async () => {
      installIceGuard();
      const agent = new Connection(false, { iceLite: true });
      const startedAt = Date.now();
      await agent.addRemoteCandidate(
        new Candidate('1', 1, 'udp', 2122260223, '5f1c1b6e-3a4e-4bb1-9a8c-0d9c1f3b2a71.local', 50000, 'host'),
      );
      await agent.addRemoteCandidate(new Candidate('2', 1, 'udp', 2122194687, '127.0.0.1', 50001, 'host'));
      assert.ok(Date.now() - startedAt < 1000, `took ${Date.now() - startedAt} ms`);
      assert.deepEqual(
        agent.remoteCandidates.map((c) => c.host),
        ['127.0.0.1'],
      );
      await agent.close();
    },
  );
});
