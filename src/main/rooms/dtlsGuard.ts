/**
 * A guard around werift's DTLS client (werift 0.25.2). When the DTLS server answers late (the
 * studio busy, > 500 ms), the client retransmits its ClientHello, the server answers each copy
 * with a HelloVerifyRequest, and werift's client throws on the second one (flight 3 already
 * sent): the handshake fails and the peer never connects. Measured here: WHIP publishers failed
 * to connect ("peer did not connect", ICE connected, DTLS connecting) from the third publisher
 * on while the machine was busy. The studio is the DTLS client of every WHIP publisher (its
 * answer says `a=setup:active`). A HelloVerifyRequest after flight 3 is a duplicate (RFC 6347
 * §4.2.1 lets a client ignore it); dropping it lets the handshake go on with the server's
 * next flight.
 */
import { DtlsClient, RTCDtlsTransport, type DtlsSocket } from 'werift';

const HELLO_VERIFY_REQUEST = 3;
const CLIENT_HELLO_WITH_COOKIE_FLIGHT = 3;

/** Makes one werift DTLS client ignore HelloVerifyRequests that arrive after it answered one. */
export function guardDtlsClient(client: DtlsSocket): void {
  const handle = client.onHandleHandshakes;
  client.onHandleHandshakes = (assembled) => {
    if (client.dtls.flight < CLIENT_HELLO_WITH_COOKIE_FLIGHT) return handle(assembled);
    const rest = assembled.filter((h) => h.msg_type !== HELLO_VERIFY_REQUEST);
    return rest.length === 0 ? Promise.resolve() : handle(rest);
  };
}

let installed = false;

/**
 * Guards the DTLS client of every werift peer connection in this process from now on.
 * Idempotent. The client exists once `RTCDtlsTransport.start` has run its synchronous part;
 * its first ClientHello leaves 100 ms later, so no answer can arrive before the guard.
 */
export function installDtlsGuard(): void {
  if (installed) return;
  installed = true;
  const start = RTCDtlsTransport.prototype.start;
  RTCDtlsTransport.prototype.start = function (this: RTCDtlsTransport) {
    const started = start.call(this);
    if (this.dtls instanceof DtlsClient) guardDtlsClient(this.dtls);
    return started;
  };
}
