import { installDtlsGuard } from './dtlsGuard';
import { installIceGuard } from './iceGuard';
import { installRtcpBounds } from './rtcpBounds';
import { installSocketBuffers } from './udpBuffers';
import { installPacketPath } from './weriftPackets';

/**
 * Puts the studio's werift fixes in place on this thread (idempotent; each thread has its own
 * copy of werift's classes, so every thread that runs peers calls it).
 */
export function installWeriftFixes(): void {
  // werift's DTLS client drops the handshake on a retransmitted HelloVerifyRequest.
  installDtlsGuard();
  // werift's ICE agent takes binding requests without checking their credentials.
  installIceGuard();
  // werift's transport-cc parser makes an object per packet a 24-byte feedback claims.
  installRtcpBounds();
  installPacketPath();
  // The system's default receive buffer holds ~80 ms of an 8-publisher room.
  installSocketBuffers();
}
