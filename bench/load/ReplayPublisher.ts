/**
 * A werift publisher that replays a pre-packetized clip from memory in real time, looping, with
 * its own continuous sequence numbers and timestamps. Every packet sent and every video frame
 * completed is reported to a tally, so loss is counted against what was really sent.
 */
import { MediaStreamTrack, RTCPeerConnection, useOPUS, useVP8, type RTCRtpTransceiver } from 'werift';
import { clockRate, payloadHash, rtpPayloadOffset, type Kind, type RtpClip } from './rtpClip';
import type { Tally } from './Tally';

/** Loopback-only ICE: the studio and the load run on this machine. */
export const LOOPBACK_ICE = {
  iceServers: [],
  iceUseIpv6: false,
  iceInterfaceAddresses: { udp4: '127.0.0.1' },
  iceAdditionalHostAddresses: ['127.0.0.1'],
  bundlePolicy: 'max-bundle' as const,
  iceFilterCandidatePair: (pair: { localCandidate: { host: string }; remoteCandidate: { host: string } }) =>
    pair.localCandidate.host.startsWith('127.') && pair.remoteCandidate.host.startsWith('127.'),
};

/**
 * How a publisher paces its video, as libwebrtc's pacer (Chrome, OBS's WebRTC output) does:
 * at `factor` × the media's mean bitrate (libwebrtc: 2.5), in bursts every `burstMs` (libwebrtc
 * processes its queue every 5 ms). Audio goes out when due, unpaced (libwebrtc sends it first).
 * A keyframe then leaves over tens of ms instead of in one burst of ~100 packets. `factor` 0
 * sends every packet of a frame at once.
 */
export interface Pacing {
  factor: number;
  burstMs: number;
}

export const LIBWEBRTC_PACING: Pacing = { factor: 2.5, burstMs: 5 };

/** A monotonic clock shared by every process on the machine (CLOCK_MONOTONIC), in ms. */
export const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

/** Precomputed per clip: payload fingerprints, so sending costs no hashing. */
const hashes = new WeakMap<RtpClip, Uint32Array>();
function clipHashes(clip: RtpClip): Uint32Array {
  let h = hashes.get(clip);
  if (h === undefined) {
    h = Uint32Array.from(clip.packets, (p) => payloadHash(p.data.subarray(rtpPayloadOffset(p.data))));
    hashes.set(clip, h);
  }
  return h;
}

export class ReplayPublisher {
  readonly pc: RTCPeerConnection;
  /** Stream key prefix in the tally (the studio's connection id, or `direct`). */
  key = '';
  readonly #clip: RtpClip;
  readonly #hashes: Uint32Array;
  readonly #tally: Tally;
  readonly #tracks: Record<Kind, MediaStreamTrack>;
  readonly #seq: Record<Kind, number>;
  readonly #tsBase: Record<Kind, number>;
  #startMs = 0;
  #loop = 0;
  #next = 0;
  #sending = false;
  /** Video bytes per ms the pacer lets out (0: unpaced), its burst, and what it may send now. */
  readonly #rate: number;
  readonly #burstBytes: number;
  #budget = 0;
  #lastTick = 0;
  /** Video packets due but held by the pacer: clip index and the pass they belong to. */
  #queue: Array<{ index: number; loop: number }> = [];
  #queueHead = 0;
  /** Packets sent so far, and payload bytes. */
  packetsSent = 0;
  bytesSent = 0;

  constructor(clip: RtpClip, tally: Tally, pacing: Pacing = LIBWEBRTC_PACING) {
    this.#clip = clip;
    let videoBytes = 0;
    for (const p of clip.packets) if (p.kind === 'video') videoBytes += p.data.length;
    this.#rate = (pacing.factor * videoBytes) / clip.durationMs;
    this.#burstBytes = this.#rate * pacing.burstMs;
    this.#hashes = clipHashes(clip);
    this.#tally = tally;
    this.pc = new RTCPeerConnection({ codecs: { audio: [useOPUS()], video: [useVP8()] }, ...LOOPBACK_ICE });
    this.#tracks = {
      video: new MediaStreamTrack({ kind: 'video' }),
      audio: new MediaStreamTrack({ kind: 'audio' }),
    };
    const transceivers: RTCRtpTransceiver[] = [];
    for (const kind of ['video', 'audio'] as const)
      transceivers.push(this.pc.addTransceiver(this.#tracks[kind], { direction: 'sendonly' }));
    const random16 = () => Math.floor(Math.random() * 0x10000);
    this.#seq = { video: random16(), audio: random16() };
    this.#tsBase = { video: random16() * 0x10000, audio: random16() * 0x10000 };
  }

  /** Makes the offer (ICE gathered, no trickle). */
  async offer(): Promise<string> {
    await this.pc.setLocalDescription(await this.pc.createOffer());
    await waitForGathering(this.pc);
    return this.pc.localDescription!.sdp;
  }

  /** Applies the answer and waits until the transport is up. */
  async accept(answer: string, timeoutMs = 30_000): Promise<void> {
    await this.pc.setRemoteDescription({ type: 'answer', sdp: answer });
    await waitForConnected(this.pc, timeoutMs);
  }

  /** Starts (or resumes) sending from the beginning of the clip's next pass. */
  start(now: number): void {
    if (this.#sending) return;
    this.#sending = true;
    this.#startMs = now;
    this.#next = 0;
    this.#lastTick = now;
    this.#budget = 0;
  }

  /** Stops sending (a silent publisher: no packets at all). */
  pause(): void {
    if (!this.#sending) return;
    this.#sending = false;
    // What the pacer holds was sent by the encoder: it leaves now.
    this.#drain(nowMs(), Infinity);
    // The next start continues the timeline as if the clip had been playing on.
    this.#loop++;
  }

  /**
   * Sends every packet due by `now` (video as the pacer lets it); returns how late the most
   * overdue one was when it became due, ms (-1: none due).
   */
  tick(now: number): number {
    if (!this.#sending) return -1;
    const { packets, durationMs } = this.#clip;
    let lag = -1;
    for (;;) {
      if (this.#next === packets.length) {
        this.#next = 0;
        this.#loop++;
        this.#startMs += durationMs;
      }
      const p = packets[this.#next]!;
      const due = this.#startMs + p.dueMs;
      if (due > now) break;
      lag = Math.max(lag, now - due);
      if (p.kind === 'video' && this.#rate > 0) this.#queue.push({ index: this.#next, loop: this.#loop });
      else this.#send(this.#next, this.#loop, now);
      this.#next++;
    }
    if (this.#rate > 0) {
      this.#budget = Math.min(this.#budget + (now - this.#lastTick) * this.#rate, this.#burstBytes);
      this.#lastTick = now;
      this.#drain(now, this.#budget);
    }
    return lag;
  }

  /** Sends held video packets while `budget` lasts (one may overdraw it, as libwebrtc's). */
  #drain(now: number, budget: number): void {
    while (this.#queueHead < this.#queue.length && budget > 0) {
      const { index, loop } = this.#queue[this.#queueHead++]!;
      budget -= this.#clip.packets[index]!.data.length;
      this.#send(index, loop, now);
    }
    if (budget !== Infinity) this.#budget = budget;
    if (this.#queueHead === this.#queue.length) {
      this.#queue = [];
      this.#queueHead = 0;
    }
  }

  #send(index: number, loop: number, now: number): void {
    const p = this.#clip.packets[index]!;
    const kind = p.kind;
    const seq = (this.#seq[kind] = (this.#seq[kind] + 1) & 0xffff);
    const loopTicks = Math.round((this.#clip.durationMs * clockRate(kind)) / 1000);
    const ts = (this.#tsBase[kind] + loop * loopTicks + p.rtpOffset) % 0x100000000;
    const packet = Buffer.from(p.data);
    packet.writeUInt16BE(seq, 2);
    packet.writeUInt32BE(ts, 4);
    const bytes = packet.length - rtpPayloadOffset(packet);
    this.packetsSent++;
    this.bytesSent += bytes;
    this.#tally.sent(`${this.key}/${kind}`, seq, now, this.#hashes[index]!, bytes);
    if (p.frameEnd) {
      const mediaMs = loop * this.#clip.durationMs + p.dueMs;
      this.#tally.frame(`${this.key}/video`, mediaMs, p.frameSize, now);
    }
    this.#tracks[kind].writeRtp(packet);
  }

  async close(): Promise<void> {
    this.#sending = false;
    await this.pc.close().catch(() => {});
  }
}

/** A receive-only werift peer answering a ReplayPublisher's offer directly (no studio). */
export class DirectSubscriber {
  readonly pc = new RTCPeerConnection(LOOPBACK_ICE);
  packets = 0;

  constructor(tally: Tally, key: string) {
    const received = tally.receiver('direct');
    this.pc.onRemoteTransceiverAdded.subscribe((transceiver) => {
      transceiver.onTrack.subscribe((track) => {
        const streamKey = `${key}/${transceiver.kind}`;
        track.onReceiveRtp.subscribe((packet) => {
          this.packets++;
          received(streamKey, packet);
        });
      });
    });
  }

  async answer(offer: string): Promise<string> {
    await this.pc.setRemoteDescription({ type: 'offer', sdp: offer });
    await this.pc.setLocalDescription(await this.pc.createAnswer());
    await waitForGathering(this.pc);
    return this.pc.localDescription!.sdp;
  }

  async close(): Promise<void> {
    await this.pc.close().catch(() => {});
  }
}

async function waitForGathering(pc: RTCPeerConnection): Promise<void> {
  if (pc.iceGatheringState === 'complete') return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 5000);
    const { unSubscribe } = pc.iceGatheringStateChange.subscribe((state) => {
      if (state === 'complete') {
        clearTimeout(timer);
        unSubscribe();
        resolve();
      }
    });
  });
}

async function waitForConnected(pc: RTCPeerConnection, timeoutMs: number): Promise<void> {
  if (pc.connectionState === 'connected') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(
          new Error(
            `peer did not connect within ${timeoutMs} ms (connection ${pc.connectionState}, ICE ${pc.iceConnectionState}, DTLS ${pc.dtlsTransports.map((d) => d.state).join('/')})`,
          ),
        ),
      timeoutMs,
    );
    const { unSubscribe } = pc.connectionStateChange.subscribe((state) => {
      if (state === 'connected' || state === 'failed') {
        clearTimeout(timer);
        unSubscribe();
        if (state === 'connected') resolve();
        else reject(new Error('peer connection failed'));
      }
    });
  });
}
