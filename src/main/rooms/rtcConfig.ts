import {
  type RTCPeerConnection,
  useAV1,
  useH264,
  useOPUS,
  useVP8,
  useVP9,
  type PeerConfig,
  type RTCRtpCodecParameters,
} from 'werift';
import { StudioError } from '../../shared/errors';
import type { VideoCodecName } from '../../shared/rooms';
import {
  acceptBundleOnly,
  answerDeclining,
  candidateLines,
  checkAnswerTakesOffer,
  declineDataChannels,
  MAX_SIGNALED_CANDIDATES,
  withStartBitrate,
} from './sdp';

/** Where the SFU's ICE sockets live. */
export interface RtcNetwork {
  /** LAN address guests reach; null keeps media on loopback only. */
  lanAddress: string | null;
  /** UDP port range for ICE, or null for any port. */
  portRange: [number, number] | null;
}

function isLoopback(address: string): boolean {
  return address.startsWith('127.') || address === '::1';
}

/** Video codecs the SFU accepts, the room's preferred codec first. */
export function videoCodecs(preferred: VideoCodecName): RTCRtpCodecParameters[] {
  const all: Record<VideoCodecName, () => RTCRtpCodecParameters> = {
    VP8: () => useVP8(),
    VP9: () => useVP9(),
    // Chromium publishes constrained-baseline and baseline H.264; offer both so either matches.
    H264: () => useH264(),
    AV1: () => useAV1(),
  };
  const order: VideoCodecName[] = [
    preferred,
    ...(['VP8', 'VP9', 'H264', 'AV1'] as const).filter((c) => c !== preferred),
  ];
  const codecs = order.map((name) => all[name]());
  codecs.push(
    useH264({ parameters: 'profile-level-id=42001f;packetization-mode=1;level-asymmetry-allowed=1' }),
  );
  return codecs;
}

/**
 * werift peer configuration for the studio's network. Without a LAN address, ICE binds to
 * loopback and only loopback pairs are allowed: otherwise a peer-reflexive pair on another
 * interface can be chosen (measured on this machine).
 */
export function peerConfig(network: RtcNetwork, preferred: VideoCodecName): Partial<PeerConfig> {
  const loopbackOnly = network.lanAddress === null;
  return {
    codecs: { audio: [useOPUS()], video: videoCodecs(preferred) },
    iceServers: [],
    // The studio is a server with host candidates only: ICE lite, as SFUs commonly are. It
    // also keeps werift from querying its default public STUN server.
    iceLite: true,
    // One transport for every m-line; browsers and WHIP clients bundle.
    bundlePolicy: 'max-bundle',
    iceUseIpv6: false,
    iceUseTcp: false,
    ...(network.portRange ? { icePortRange: network.portRange } : {}),
    ...(loopbackOnly
      ? {
          iceInterfaceAddresses: { udp4: '127.0.0.1' },
          iceAdditionalHostAddresses: ['127.0.0.1'],
          iceFilterCandidatePair: (pair) =>
            isLoopback(pair.localCandidate.host) && isLoopback(pair.remoteCandidate.host),
          iceFilterStunResponse: (_message, addr) => isLoopback(addr[0]),
        }
      : { iceAdditionalHostAddresses: ['127.0.0.1'] }),
  };
}

/** Waits until the peer has gathered its candidates, so the answer carries them (WHIP has no server trickle). */
export async function waitForGathering(pc: RTCPeerConnection, timeoutMs = 5000): Promise<void> {
  if (pc.iceGatheringState === 'complete') return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    const { unSubscribe } = pc.iceGatheringStateChange.subscribe((state) => {
      if (state === 'complete') {
        clearTimeout(timer);
        unSubscribe();
        resolve();
      }
    });
  });
}

/**
 * Answers a WHIP publisher's offer (checked by `checkSdp`) on a new peer connection, on whichever
 * thread hosts it: bundle-only sections made ordinary, data channels declined, the answer's
 * candidates gathered. Throws (400/422, `field: sdp`) when the offer cannot be taken whole; the
 * caller closes the peer connection and gives the slot back.
 */
export async function answerWhipOffer(pc: RTCPeerConnection, offer: string): Promise<string> {
  const { sdp: mediaOffer, declined } = declineDataChannels(acceptBundleOnly(offer));
  try {
    await pc.setRemoteDescription({ type: 'offer', sdp: mediaOffer });
  } catch (error) {
    throw new StudioError(
      'InvalidArgument',
      `SDP: the offer was refused: ${(error as Error).message}`,
      'sdp',
    );
  }
  await pc.setLocalDescription(await pc.createAnswer());
  checkAnswerTakesOffer(mediaOffer, pc.localDescription!.sdp, pc.getConfiguration().codecs);
  await waitForGathering(pc);
  return withStartBitrate(answerDeclining(pc.localDescription!.sdp, declined));
}

/** Adds the candidates of a WHIP trickle fragment (`application/trickle-ice-sdpfrag`) to a peer. */
export async function applyTrickleFragment(pc: RTCPeerConnection, fragment: string): Promise<void> {
  const mid = /^a=mid:(\S+)/m.exec(fragment)?.[1];
  const lines = candidateLines(fragment);
  // What the session was told of already (learned peer-reflexive addresses are bounded apart).
  let signaled = 0;
  for (const transport of pc.iceTransports)
    for (const c of (transport.connection as unknown as { remoteCandidates: Array<{ type: string }> })
      .remoteCandidates)
      if (c.type !== 'prflx') signaled++;
  if (signaled + lines.length > MAX_SIGNALED_CANDIDATES) {
    throw new StudioError(
      'InvalidArgument',
      `too many ICE candidates: the session has ${signaled}, the fragment ${lines.length}; at most ${MAX_SIGNALED_CANDIDATES} are taken`,
      'candidate',
    );
  }
  for (const line of lines) {
    await pc
      .addIceCandidate({
        candidate: line.slice(2),
        sdpMid: mid ?? '0',
        sdpMLineIndex: mid === undefined ? 0 : null,
      })
      .catch((error: Error) => {
        throw new StudioError('InvalidArgument', `ICE candidate refused: ${error.message}`, 'candidate');
      });
  }
}
