/**
 * A publisher without a browser: a werift peer that sends pre-encoded media over WHIP. ffmpeg
 * plays a clip in real time (`-re`, `-c copy`, so no encoding cost) as RTP to local UDP ports;
 * the RTP is written into werift tracks. Used by WHIP, recording tests and benchmarks.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:dgram';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  MediaStreamTrack,
  RTCPeerConnection,
  useH264,
  useOPUS,
  useVP8,
  type RTCRtpCodecParameters,
} from 'werift';
import { ROOT } from './headless';
import { isRtcp, loopbackSocket, rtpOutputArgs } from './rtpOut';

export interface ClipOptions {
  durationSec: number;
  width?: number;
  height?: number;
  fps?: number;
  /** Video bitrate in kbit/s. */
  videoKbps?: number;
  /** Flash white and beep 1 kHz for 50 ms every `syncPeriodSec` seconds (for A/V sync checks). */
  syncPeriodSec?: number;
  /** Keyframe interval in seconds. */
  gopSec?: number;
  /** A solid colour (ffmpeg colour name or 0xRRGGBB) instead of the test pattern. */
  color?: string;
  /** Video codec: VP8 in WebM (default) or H.264 (constrained baseline, SPS/PPS in band) in Matroska. */
  codec?: 'vp8' | 'h264';
  /** A steady 440 Hz tone without the test pattern's beeps (audio continuity checks). */
  tone?: boolean;
}

/** Where clips are cached between test runs (encoding is the slow part). */
const CACHE = join(ROOT, '.tmp', 'clips');

/**
 * Makes (once) a VP8 + Opus WebM clip: a moving test pattern, or black with white flashes and
 * beeps at exact times when `syncPeriodSec` is set.
 */
export function makeClip(options: ClipOptions): string {
  const {
    durationSec,
    width = 640,
    height = 360,
    fps = 30,
    videoKbps = 800,
    syncPeriodSec,
    gopSec = 1,
    color,
    codec = 'vp8',
    tone = false,
  } = options;
  mkdirSync(CACHE, { recursive: true });
  const ext = codec === 'h264' ? 'mkv' : 'webm';
  const name = `clip-${durationSec}s-${width}x${height}-${fps}-${videoKbps}k-g${gopSec}${syncPeriodSec ? `-sync${syncPeriodSec}` : ''}${color ? `-${color}` : ''}${tone ? '-tone' : ''}${codec === 'h264' ? '-h264' : ''}.${ext}`;
  const path = join(CACHE, name);
  if (existsSync(path)) return path;
  const flash = syncPeriodSec
    ? [
        '-f',
        'lavfi',
        '-i',
        `color=c=black:s=${width}x${height}:r=${fps}:d=${durationSec}`,
        '-f',
        'lavfi',
        '-i',
        `aevalsrc='if(lt(mod(t,${syncPeriodSec}),0.05),0.8*sin(2*PI*1000*t),0)':s=48000:d=${durationSec}`,
        '-vf',
        `drawbox=x=0:y=0:w=iw:h=ih:c=white:t=fill:enable='lt(mod(t,${syncPeriodSec}),${(1 / fps).toFixed(4)})'`,
      ]
    : [
        '-f',
        'lavfi',
        '-i',
        color
          ? `color=c=${color}:s=${width}x${height}:r=${fps}:d=${durationSec}`
          : `testsrc2=s=${width}x${height}:r=${fps}:d=${durationSec}`,
        '-f',
        'lavfi',
        '-i',
        `sine=f=440${tone ? '' : ':b=4'}:sample_rate=48000:d=${durationSec}`,
      ];
  const result = spawnSync(
    'ffmpeg',
    [
      '-hide_banner',
      '-nostdin',
      '-loglevel',
      'error',
      '-y',
      ...flash,
      ...(codec === 'h264'
        ? [
            '-c:v',
            'libx264',
            '-preset',
            'veryfast',
            '-profile:v',
            'baseline',
            '-pix_fmt',
            'yuv420p',
            // SPS/PPS before every keyframe: RTP carries them in band, as browsers send them.
            '-x264-params',
            'repeat-headers=1',
          ]
        : ['-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8']),
      // One encoder thread: libvpx's threads spin while they wait, wasting cores other tests use.
      '-threads',
      '1',
      '-b:v',
      `${videoKbps}k`,
      '-g',
      String(Math.round(gopSec * fps)),
      '-keyint_min',
      String(Math.round(gopSec * fps)),
      '-c:a',
      'libopus',
      '-b:a',
      '64k',
      '-ar',
      '48000',
      '-ac',
      '2',
      '-shortest',
      `${path}.part.${ext}`,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  if (result.status !== 0) throw new Error(`ffmpeg could not make the clip: ${result.stderr.toString()}`);
  spawnSync('mv', [`${path}.part.${ext}`, path]);
  return path;
}

export interface PublisherOptions {
  whipUrl: string;
  token: string;
  clip: string;
  audio?: boolean;
  video?: boolean;
  /** Loop the clip forever (until stop). */
  loop?: boolean;
  /** Send the second m-line with port 0 and a=bundle-only, as GStreamer does. */
  bundleOnly?: boolean;
  /**
   * Share of RTP packets (0–1) dropped at random before they are sent, as a lossy network would:
   * their sequence numbers are missing on the wire and no retransmission can bring them back.
   */
  lossRate?: number;
  /**
   * Sends each audio packet this long (ms) after ffmpeg gives it. ffmpeg (`-re`) sends a packet
   * when its first sample is due; a live sender (a browser, libwebrtc, OBS) sends it once all its
   * samples are captured, 20 ms later for Opus, and the recorder times arrivals that way.
   */
  audioSendDelayMs?: number;
}

/** Makes a bundled offer GStreamer-style: every m-line after the first has port 0 and a=bundle-only. */
export function bundleOnlyOffer(sdp: string): string {
  const sections = sdp.split(/\r\n(?=m=)/);
  return sections
    .map((section, index) => {
      if (index < 2) return section; // session part and the first m-line stay as they are
      const lines = section
        .split('\r\n')
        .filter((l) => !l.startsWith('a=candidate') && l !== 'a=end-of-candidates');
      lines[0] = lines[0]!.replace(/^(m=\w+) \d+/, '$1 0');
      const mid = lines.findIndex((l) => l.startsWith('a=mid:'));
      lines.splice(mid + 1, 0, 'a=bundle-only');
      return lines.join('\r\n');
    })
    .join('\r\n');
}

/** A WHIP publisher fed by ffmpeg. */
export class SyntheticPublisher {
  readonly pc: RTCPeerConnection;
  resourceUrl = '';
  answer = '';
  /** RTP packets and payload bytes sent so far. */
  packetsSent = 0;
  bytesSent = 0;
  /** Packets dropped on purpose (`lossRate`); the rate can change while sending. */
  packetsDropped = 0;
  lossRate: number;
  /** Called for every RTP packet sent (benchmarks time them). */
  onPacket: ((kind: 'audio' | 'video', packet: Buffer) => void) | null = null;
  #ffmpeg: ChildProcess | null = null;
  #sockets: Socket[] = [];
  readonly #options: PublisherOptions;
  readonly #dropUntil = new Map<'audio' | 'video', number>();
  /** Packets of a kind held back by `hold`, sent at once when it ends. */
  readonly #held = new Map<'audio' | 'video', Array<() => void>>();
  #stopped = false;

  private constructor(options: PublisherOptions) {
    this.#options = options;
    this.lossRate = options.lossRate ?? 0;
    const codecs: { audio: RTCRtpCodecParameters[]; video: RTCRtpCodecParameters[] } = {
      audio: [useOPUS()],
      // A Matroska clip holds H.264 (makeClip's `codec: 'h264'`).
      video: [options.clip.endsWith('.mkv') ? useH264() : useVP8()],
    };
    this.pc = new RTCPeerConnection({
      codecs,
      iceServers: [],
      iceUseIpv6: false,
      iceInterfaceAddresses: { udp4: '127.0.0.1' },
      iceAdditionalHostAddresses: ['127.0.0.1'],
      bundlePolicy: 'max-bundle',
      iceFilterCandidatePair: (pair) =>
        pair.localCandidate.host.startsWith('127.') && pair.remoteCandidate.host.startsWith('127.'),
    });
  }

  /** Connects over WHIP and starts sending once the peer connection is up. */
  static async start(options: PublisherOptions): Promise<SyntheticPublisher> {
    const publisher = new SyntheticPublisher(options);
    try {
      await publisher.#start();
    } catch (error) {
      // A publisher that never connected must not keep sockets (and the test process) alive.
      await publisher.close().catch(() => {});
      throw error;
    }
    return publisher;
  }

  async #start(): Promise<void> {
    const { audio = true, video = true } = this.#options;
    const tracks: Array<{ kind: 'audio' | 'video'; track: MediaStreamTrack; socket: Socket }> = [];
    for (const kind of ['video', 'audio'] as const) {
      if ((kind === 'audio' && !audio) || (kind === 'video' && !video)) continue;
      const track = new MediaStreamTrack({ kind });
      this.pc.addTransceiver(track, { direction: 'sendonly' });
      const socket = await loopbackSocket(4 * 1024 * 1024);
      socket.on('message', (packet) => {
        // ffmpeg's sender reports share the socket; werift makes its own.
        if (isRtcp(packet)) return;
        if (Date.now() < (this.#dropUntil.get(kind) ?? 0)) return;
        if (this.lossRate > 0 && Math.random() < this.lossRate) {
          this.packetsDropped++;
          return;
        }
        this.packetsSent++;
        this.bytesSent += packet.length - 12; // RTP payload (ffmpeg sends no header extensions)
        this.onPacket?.(kind, packet);
        const delay = kind === 'audio' ? (this.#options.audioSendDelayMs ?? 0) : 0;
        const held = this.#held.get(kind);
        if (held !== undefined) held.push(() => track.writeRtp(packet));
        else if (delay > 0) setTimeout(() => !this.#stopped && track.writeRtp(packet), delay);
        else track.writeRtp(packet);
      });
      this.#sockets.push(socket);
      tracks.push({ kind, track, socket });
    }
    await this.pc.setLocalDescription(await this.pc.createOffer());
    await waitForGathering(this.pc);
    let offer = this.pc.localDescription!.sdp;
    if (this.#options.bundleOnly) offer = bundleOnlyOffer(offer);
    const response = await fetch(this.#options.whipUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/sdp', authorization: `Bearer ${this.#options.token}` },
      body: offer,
    });
    const body = await response.text();
    if (response.status !== 201) throw new Error(`WHIP POST answered ${response.status}: ${body}`);
    this.answer = body;
    this.resourceUrl = new URL(response.headers.get('location')!, this.#options.whipUrl).toString();
    await this.pc.setRemoteDescription({ type: 'answer', sdp: body });
    await waitForConnected(this.pc);

    const args = ['-hide_banner', '-nostdin', '-loglevel', 'error', '-re'];
    if (this.#options.loop) args.push('-stream_loop', '-1');
    args.push('-i', this.#options.clip);
    for (const { kind, socket } of tracks) args.push(...rtpOutputArgs(kind, socket.address().port));
    this.#ffmpeg = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'inherit'] });
  }

  /** Stops sending one kind of media for a while (a mute gap: no packets at all). */
  drop(kind: 'audio' | 'video', durationMs: number): void {
    this.#dropUntil.set(kind, Date.now() + durationMs);
  }

  /**
   * Holds one kind's packets back for a while, then sends them all at once: the backlog a stalled
   * sender or network delivers (holding video a little longer than audio: libwebrtc's pacer, or
   * a sender process draining its sockets unevenly, sends a backlog's audio first).
   */
  hold(kind: 'audio' | 'video', durationMs: number): void {
    if (this.#held.has(kind)) return;
    const held: Array<() => void> = [];
    this.#held.set(kind, held);
    setTimeout(() => {
      this.#held.delete(kind);
      if (!this.#stopped) for (const send of held) send();
    }, durationMs).unref();
  }

  /** Resolves when the clip has played to its end (not with `loop`). */
  async finished(): Promise<void> {
    const ffmpeg = this.#ffmpeg;
    if (ffmpeg === null || ffmpeg.exitCode !== null) return;
    await new Promise((resolve) => ffmpeg.once('exit', resolve));
  }

  /** Stops sending and ends the WHIP session with DELETE. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#ffmpeg?.kill('SIGKILL');
    if (this.resourceUrl !== '') {
      await fetch(this.resourceUrl, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${this.#options.token}` },
      }).catch(() => {});
    }
    await this.close();
  }

  /** Stops sending without telling the studio (a publisher that vanished). */
  async close(): Promise<void> {
    this.#stopped = true;
    this.#ffmpeg?.kill('SIGKILL');
    for (const socket of this.#sockets) socket.close();
    this.#sockets = [];
    await this.pc.close();
  }
}

async function waitForGathering(pc: RTCPeerConnection): Promise<void> {
  if (pc.iceGatheringState === 'complete') return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 3000);
    pc.iceGatheringStateChange.subscribe((state) => {
      if (state === 'complete') {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

async function waitForConnected(pc: RTCPeerConnection, timeoutMs = 30_000): Promise<void> {
  if (pc.connectionState === 'connected') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('WHIP peer did not connect')), timeoutMs);
    pc.connectionStateChange.subscribe((state) => {
      if (state === 'connected') {
        clearTimeout(timer);
        resolve();
      } else if (state === 'failed') {
        clearTimeout(timer);
        reject(new Error('WHIP peer connection failed'));
      }
    });
  });
}
