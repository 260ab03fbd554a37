import assert from 'node:assert/strict';
import { createSocket, Socket as DgramSocket, type Socket } from 'node:dgram';
import { after, before, describe, it } from 'node:test';
import { MediaStreamTrack, Message, parseMessage, RTCPeerConnection } from 'werift';
import { MAX_REMOTE_CANDIDATES } from '../../src/main/rooms/iceGuard';
import { publishing, roomIn } from '../helpers/securityRooms';
import { startTestStudio, type TestStudio } from '../helpers/securityStudio';
import { waitFor } from '../helpers/studio';
import { NodeSubscriber } from '../helpers/subscriber';

/** The studio's loopback ICE port in an SDP it wrote. */
function studioPort(sdp: string): number {
  const port = Number(/^a=candidate:\S+ 1 udp \d+ 127\.0\.0\.1 (\d+) typ host/m.exec(sdp)?.[1]);
  assert.ok(port > 0, 'the SDP has a loopback candidate');
  return port;
}

/** A socket on loopback that keeps the STUN success responses it gets. */
async function bound(sockets: Socket[], answered: Set<Socket>): Promise<Socket> {
  const s = createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  s.on('message', (data) => {
    if (parseMessage(data)?.messageClass === 256) answered.add(s);
  });
  sockets.push(s);
  return s;
}

/**
 * ICE and what may reach a session's socket: anyone who can send to the studio's ports (another
 * process here; the LAN in LAN mode) is hostile until the session's credentials say otherwise.
 */
describe('ICE sockets', () => {
  let ctx: TestStudio;

  before(async () => {
    ctx = await startTestStudio();
  });
  after(async () => ctx.close());

  it(
    'take ICE binding requests only with the session’s credentials: a forger cannot take a connecting session, candidates are bounded',
    { timeout: 60_000 },
    async () => {
      const publisher = await (await roomIn(ctx)).token('publisher');
      const pc = new RTCPeerConnection();
      pc.addTransceiver(new MediaStreamTrack({ kind: 'audio' }), { direction: 'sendonly' });
      await pc.setLocalDescription(await pc.createOffer());
      const offer = pc.localDescription!.sdp;
      const response = await fetch(publisher.whipUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/sdp', authorization: `Bearer ${publisher.token}` },
        body: offer,
      });
      const answer = await response.text();
      assert.equal(response.status, 201, answer);
      const port = studioPort(answer);
      const studioUfrag = /^a=ice-ufrag:(\S+)/m.exec(answer)![1]!;
      const studioPassword = /^a=ice-pwd:(\S+)/m.exec(answer)![1]!;
      const guestUfrag = /^a=ice-ufrag:(\S+)/m.exec(offer)![1]!;

      const sockets: Socket[] = [];
      const answered = new Set<Socket>();
      const socket = () => bound(sockets, answered);
      /** A binding request with USE-CANDIDATE, as a controlling agent nominates. */
      const request = (username: string, password: string | null) => {
        const message = new Message(1, 0)
          .setAttribute('USERNAME', username)
          .setAttribute('PRIORITY', 0x6effffff)
          .setAttribute('ICE-CONTROLLING', 1n)
          .setAttribute('USE-CANDIDATE', null);
        if (password !== null) message.addMessageIntegrity(Buffer.from(password, 'utf8'));
        return message.addFingerprint().bytes;
      };
      const settle = () => new Promise((resolve) => setTimeout(resolve, 500));
      try {
        // Forged: another agent's ufrag, no MESSAGE-INTEGRITY, a wrong password — each from its
        // own address, before the guest nominates. werift answered and nominated the first.
        const forgeries = [
          request(`${guestUfrag}:x`, null),
          request(`${studioUfrag}:${guestUfrag}`, null),
          request(`${studioUfrag}:${guestUfrag}`, 'not the password'),
          request('no-colon', studioPassword),
        ];
        const forgers: Socket[] = [];
        for (const forged of forgeries) {
          const forger = await socket();
          forgers.push(forger);
          forger.send(forged, port, '127.0.0.1');
        }
        await settle();
        assert.deepEqual(
          forgers.map((f) => answered.has(f)),
          forgeries.map(() => false),
          'a forged binding request was answered',
        );
        // The real guest still connects: the session was not taken.
        await pc.setRemoteDescription({ type: 'answer', sdp: answer });
        await waitFor(async () => pc.iceConnectionState === 'connected', 15_000, 'the guest to connect');

        // With the session's credentials, new addresses are taken only up to the bound.
        const extra: Socket[] = [];
        for (let i = 0; i < MAX_REMOTE_CANDIDATES + 8; i++) {
          const s = await socket();
          extra.push(s);
          s.send(request(`${studioUfrag}:${guestUfrag}`, studioPassword), port, '127.0.0.1');
        }
        await settle();
        const taken = extra.filter((s) => answered.has(s)).length;
        assert.ok(taken > 0, 'requests with the credentials are answered');
        assert.ok(
          taken <= MAX_REMOTE_CANDIDATES && taken < extra.length,
          `${taken} of ${extra.length} new addresses taken (bound ${MAX_REMOTE_CANDIDATES})`,
        );
      } finally {
        for (const s of sockets) s.close();
        await fetch(new URL(response.headers.get('location')!, ctx.url), {
          method: 'DELETE',
          headers: { authorization: `Bearer ${publisher.token}` },
        }).catch(() => {});
        await pc.close();
      }
    },
  );

  it(
    'a forged DTLS record — from another address or the peer’s own — does not end a session: the subscriber keeps receiving',
    { timeout: 60_000 },
    async () => {
      const { sender, token } = await publishing(ctx);
      // The subscriber's first ClientHello, kept as it leaves (it is the DTLS client; the studio,
      // on a media worker, has its own copy of node:dgram).
      let clientHello: Buffer | null = null;
      const send = DgramSocket.prototype.send;
      DgramSocket.prototype.send = function (this: Socket, ...args: unknown[]) {
        const data = args[0];
        if (clientHello === null && Buffer.isBuffer(data) && data[0] === 22 && data[13] === 1)
          clientHello = Buffer.from(data);
        return (send as (...a: unknown[]) => void).apply(this, args);
      } as Socket['send'];
      const subscriber = await NodeSubscriber.join(ctx.url, (await token('subscriber')).token);
      const forger = createSocket('udp4');
      /** Once what was sent had time to arrive, the subscriber still receives media. */
      const keepsFlowing = async (after: string) => {
        await new Promise((resolve) => setTimeout(resolve, 500));
        const before = subscriber.packets;
        await waitFor(
          async () => subscriber.packets > before + 50,
          5000,
          `media to keep flowing after ${after}`,
        );
      };
      try {
        await waitFor(async () => subscriber.packets > 50, 15_000, 'media at the subscriber').finally(() => {
          DgramSocket.prototype.send = send;
        });
        const port = studioPort(subscriber.pc.remoteDescription!.sdp);
        await new Promise<void>((resolve) => forger.bind(0, '127.0.0.1', resolve));
        // A DTLS 1.2 alert record in plaintext (epoch 0): warning, close_notify. werift closed the
        // session's DTLS transport on it, and the studio stopped sending it media.
        for (let sequence = 0; sequence < 5; sequence++) {
          const alert = Buffer.from([21, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, sequence, 0, 2, 1, 0]);
          forger.send(alert, port, '127.0.0.1');
        }
        await keepsFlowing('the forged alert from another address');

        // The same from the subscriber's own address (a sender that can spoof it): a plaintext alert
        // after the handshake, an "encrypted" one that is not (werift read its first bytes as a
        // known alert), and a record of a content type DTLS does not define (werift: an alert).
        const ice = (
          subscriber.pc.getTransceivers()[0]!.receiver.dtlsTransport as unknown as {
            iceTransport: { connection: { send(data: Buffer): Promise<void> } };
          }
        ).iceTransport.connection;
        const record = (type: number, epoch: number, fragment: number[]) =>
          Buffer.from([type, 0xfe, 0xfd, 0, epoch, 0, 0, 0, 0, 0x10, 0, 0, fragment.length, ...fragment]);
        for (const forged of [record(21, 0, [1, 0]), record(21, 1, [1, 0]), record(25, 1, [1, 0])]) {
          await ice.send(forged);
          await keepsFlowing(`the record ${forged.toString('hex')} from the subscriber's address`);
        }
        // Its ClientHello again, then a plaintext alert: werift's DTLS server started over on the
        // ClientHello (epoch 0 again) and then took the alert.
        assert.ok(clientHello !== null, "the subscriber's ClientHello was seen");
        await ice.send(clientHello);
        await new Promise((resolve) => setTimeout(resolve, 500));
        await ice.send(record(21, 0, [1, 0]));
        await keepsFlowing('a replayed ClientHello and a plaintext alert');
      } finally {
        forger.close();
        await subscriber.close();
        await sender.close();
      }
    },
  );
});
