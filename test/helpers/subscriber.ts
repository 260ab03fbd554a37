/**
 * A participant without a browser that only receives: it joins over the studio's signaling
 * protocol with a werift peer and answers the studio's offers, as the join page does.
 */
import { RTCPeerConnection, type RtpPacket } from 'werift';
import { WebSocket } from 'ws';
import type { ServerMessage, StreamMids } from '../../src/shared/signaling';

export class NodeSubscriber {
  readonly pc: RTCPeerConnection;
  readonly #ws: WebSocket;
  /** Stream of each receiving m-line. */
  readonly #mids = new Map<string, StreamMids & { kind: 'audio' | 'video' }>();
  packets = 0;
  /** Called for every RTP packet received, with the publishing connection. */
  onPacket: ((connectionId: string, kind: 'audio' | 'video', packet: RtpPacket) => void) | null = null;
  #queue: Promise<void> = Promise.resolve();
  #heartbeat: NodeJS.Timeout | null = null;

  private constructor(signalingUrl: string) {
    this.pc = new RTCPeerConnection({
      iceServers: [],
      iceUseIpv6: false,
      iceInterfaceAddresses: { udp4: '127.0.0.1' },
      iceAdditionalHostAddresses: ['127.0.0.1'],
      bundlePolicy: 'max-bundle',
      iceFilterCandidatePair: (pair) =>
        pair.localCandidate.host.startsWith('127.') && pair.remoteCandidate.host.startsWith('127.'),
    });
    this.pc.onRemoteTransceiverAdded.subscribe((transceiver) => {
      transceiver.onTrack.subscribe((track) => {
        track.onReceiveRtp.subscribe((packet) => {
          this.packets++;
          const info = transceiver.mid === null ? undefined : this.#mids.get(transceiver.mid);
          if (info) this.onPacket?.(info.connectionId, info.kind, packet);
        });
      });
    });
    this.#ws = new WebSocket(signalingUrl);
  }

  /** Joins with a join token (usually a subscriber token). */
  static async join(base: string, token: string): Promise<NodeSubscriber> {
    const subscriber = new NodeSubscriber(`${base.replace('http', 'ws')}/signaling`);
    await subscriber.#join(token);
    return subscriber;
  }

  async #join(token: string): Promise<void> {
    await new Promise((resolve, reject) => {
      this.#ws.once('open', resolve);
      this.#ws.once('error', reject);
    });
    const joined = new Promise<void>((resolve, reject) => {
      this.#ws.on('message', (raw) => {
        const message = JSON.parse(String(raw)) as ServerMessage;
        if (message.type === 'joined') resolve();
        else if (message.type === 'error' && message.requestId === 'join') reject(new Error(message.message));
        else if (message.type === 'offer')
          this.#queue = this.#queue.then(() => this.#answer(message)).catch(() => {});
      });
    });
    this.#ws.send(JSON.stringify({ type: 'join', token, requestId: 'join' }));
    await joined;
    this.#heartbeat = setInterval(() => this.#ws.send('{"type":"ping"}'), 4000);
  }

  async #answer(offer: Extract<ServerMessage, { type: 'offer' }>): Promise<void> {
    for (const sub of offer.subscriptions) {
      if (sub.audio !== undefined) this.#mids.set(sub.audio, { ...sub, kind: 'audio' });
      if (sub.video !== undefined) this.#mids.set(sub.video, { ...sub, kind: 'video' });
    }
    await this.pc.setRemoteDescription({ type: 'offer', sdp: offer.sdp });
    await this.pc.setLocalDescription(await this.pc.createAnswer());
    if (this.pc.iceGatheringState !== 'complete') {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 3000);
        this.pc.iceGatheringStateChange.subscribe((state) => {
          if (state === 'complete') {
            clearTimeout(timer);
            resolve();
          }
        });
      });
    }
    this.#ws.send(JSON.stringify({ type: 'answer', sdp: this.pc.localDescription!.sdp }));
  }

  async close(): Promise<void> {
    if (this.#heartbeat !== null) clearInterval(this.#heartbeat);
    this.#ws.close();
    await this.pc.close();
  }
}
