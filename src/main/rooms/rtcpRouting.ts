import {
  PictureLossIndication,
  RtcpPayloadSpecificFeedback,
  type RTCPeerConnection,
  type RtcpPacket,
} from 'werift';

/** What of werift's (private) RTP router this needs. */
interface Router {
  ssrcTable: Record<number, { handleRtcpPacket(packet: RtcpPacket): unknown } | undefined>;
  routeRtcp: (packet: RtcpPacket) => void;
}

/**
 * Hands a payload-specific feedback packet (a PLI) to the sender of the media source it is
 * about (RFC 4585 §6.1: the "SSRC of media source" field).
 *
 * werift 0.25.2's router looks up the packet's *sender* SSRC first and the media source only
 * when that is unknown. A browser that publishes video sends its PLIs with its own video SSRC as
 * the sender SSRC (libwebrtc), which the router knows as that guest's published stream: every
 * PLI of a guest who publishes went to its own receiver and was dropped. A subscriber that
 * missed a keyframe — joining mid-stream, a lost packet, a stream imported from another media
 * worker whose first keyframe came before the subscriber's transport was up — then waited for
 * the publisher's next keyframe of its own accord (15 s measured, Chromium under load).
 *
 * Other RTCP (reports, NACK and transport-cc, REMB) keeps werift's routing, which already uses
 * the SSRC the packet is about.
 */
export function routeFeedbackToMediaSource(pc: RTCPeerConnection): void {
  const router = (pc as unknown as { router: Router }).router;
  const route = router.routeRtcp;
  router.routeRtcp = (packet: RtcpPacket) => {
    if (
      packet instanceof RtcpPayloadSpecificFeedback &&
      packet.feedback.count === PictureLossIndication.count
    ) {
      const feedback = packet.feedback as PictureLossIndication;
      const recipient = router.ssrcTable[feedback.mediaSsrc];
      if (recipient !== undefined) {
        void Promise.resolve(recipient.handleRtcpPacket(packet)).catch(() => {});
        return;
      }
    }
    route(packet);
  };
}
