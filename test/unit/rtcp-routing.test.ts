import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  PictureLossIndication,
  ReceiverEstimatedMaxBitrate,
  RTCPeerConnection,
  RtcpPacketConverter,
  RtcpPayloadSpecificFeedback,
  type RtcpPacket,
} from 'werift';
import { createLogger } from '../../src/main/logger';
import { Peer } from '../../src/main/rooms/Peer';

const logger = createLogger({ level: 'silent' });

interface Router {
  ssrcTable: Record<number, unknown>;
  routeRtcp(packet: RtcpPacket): void;
  registerRtpReceiver(receiver: unknown, ssrc: number): void;
}
const routerOf = (pc: RTCPeerConnection) => (pc as unknown as { router: Router }).router;

/**
 * A guest's connection as the studio sees it: it publishes video (SSRC 0x1111, a receiver in the
 * router's table) and subscribes to another's (the studio's sender). Returns the RTCP packets
 * each side was handed and how many PLIs reached the sender.
 */
function guestConnection(pc: RTCPeerConnection) {
  const sender = pc.addTransceiver('video', { direction: 'sendonly' }).sender;
  let plis = 0;
  sender.onPictureLossIndication.subscribe(() => plis++);
  const toReceiver: RtcpPacket[] = [];
  routerOf(pc).registerRtpReceiver({ handleRtcpPacket: (p: RtcpPacket) => toReceiver.push(p) }, 0x1111);
  return { sender, toReceiver, plis: () => plis };
}

/** The bytes libwebrtc sends: a PLI whose sender SSRC is the guest's own published video. */
function pliFromPublishingGuest(mediaSsrc: number): RtcpPacket {
  const pli = new RtcpPayloadSpecificFeedback({
    feedback: new PictureLossIndication({ senderSsrc: 0x1111, mediaSsrc }),
  });
  const [packet] = RtcpPacketConverter.deSerialize(pli.serialize());
  assert.ok(packet);
  return packet;
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('RTCP feedback routing', () => {
  it("a PLI from a guest who publishes reaches the sender of the media it names, not the guest's own stream", async () => {
    const peer = new Peer({}, logger);
    try {
      const guest = guestConnection(peer.pc);
      routerOf(peer.pc).routeRtcp(pliFromPublishingGuest(guest.sender.ssrc));
      await tick();
      assert.equal(guest.plis(), 1, 'the PLI reached the sender');
      assert.equal(guest.toReceiver.length, 0, "the guest's own stream was not handed the PLI");
    } finally {
      peer.close('test over');
    }
  });

  it("werift's own router still hands that PLI to the receiver (else the fix can go)", async () => {
    const pc = new RTCPeerConnection({});
    try {
      const guest = guestConnection(pc);
      routerOf(pc).routeRtcp(pliFromPublishingGuest(guest.sender.ssrc));
      await tick();
      assert.equal(guest.plis(), 0);
      assert.equal(guest.toReceiver.length, 1);
    } finally {
      await pc.close();
    }
  });

  it('a PLI for an unknown media source and a REMB keep werift’s routing', async () => {
    const peer = new Peer({}, logger);
    try {
      const guest = guestConnection(peer.pc);
      routerOf(peer.pc).routeRtcp(pliFromPublishingGuest(0x2222));
      const remb = new RtcpPayloadSpecificFeedback({
        feedback: new ReceiverEstimatedMaxBitrate({
          senderSsrc: 0x1111,
          mediaSsrc: 0,
          brExp: 2,
          brMantissa: 250_000,
          ssrcNum: 1,
          ssrcFeedbacks: [guest.sender.ssrc],
        }),
      });
      routerOf(peer.pc).routeRtcp(RtcpPacketConverter.deSerialize(remb.serialize())[0]!);
      await tick();
      assert.equal(guest.plis(), 0);
      assert.equal(guest.toReceiver.length, 1, 'the unknown source’s PLI went where werift sends it');
      assert.equal(guest.sender.receiverEstimatedMaxBitrate, 1_000_000n, 'the REMB reached the sender');
    } finally {
      peer.close('test over');
    }
  });
});
