/**
 * A libwebrtc publisher (`@roamhq/wrtc`: the WebRTC stack inside Chrome) for A/V-sync tests:
 * a black video with a white frame and a 1 kHz beep at the same instants, sent by WHIP, with
 * scripted pauses, a drifting audio clock or a starved bursty audio source. libwebrtc behaves as
 * browsers do: its audio RTP clock counts captured samples (it stops while nothing is captured),
 * its video RTP clock follows the wall clock, and its sender reports map both to its NTP clock.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface SyncScenario {
  /** How long the publisher sends, from connection (ms). */
  durationMs: number;
  fps: number;
  /** A flash and a beep every this many ms (a multiple of the frame interval). */
  flashPeriodMs: number;
  /** Samples the audio device delivers per nominal sample: 1.005 is a clock 0.5 % fast. */
  audioClock: number;
  /** Times without capture, from connection (ms): audio (mute), video (camera off) or both. */
  pauses: Array<{ atMs: number; lengthMs: number; audio: boolean; video: boolean }>;
  /** Audio fed in bursts at `factor` × real time (random in the ranges). */
  starved?: { factor: [number, number]; burstMs: [number, number] };
  /** Offers a data channel too (the studio declines it). */
  dataChannel?: boolean;
}

export interface PublisherReport {
  /** Date.now() when the scenario started. */
  startedAt: number;
  /** Wall times (ms since epoch) of the flashes and beep onsets actually sent. */
  flashesMs: number[];
  beepsMs: number[];
  /** The WHIP answer the publisher took. */
  answer: string;
  /** The offered data channel's state when the scenario ended (with `dataChannel`). */
  dataChannelState?: string;
}

const CHILD = fileURLToPath(new URL('./libwebrtcPublisherProcess.ts', import.meta.url));

export const DEFAULT_SCENARIO: SyncScenario = {
  durationMs: 10_000,
  fps: 25,
  flashPeriodMs: 1000,
  audioClock: 1,
  pauses: [],
};

/** Instants (ms since epoch) where both a flash and a beep were sent: the pairs to find. */
export function sentPairs(report: PublisherReport): number[] {
  return report.flashesMs.filter((f) => report.beepsMs.some((b) => Math.abs(b - f) < 1));
}

export class LibwebrtcPublisher {
  readonly #child: ChildProcess;
  readonly #done: Promise<PublisherReport>;
  resourceUrl = '';

  private constructor(child: ChildProcess, connected: Promise<string>, done: Promise<PublisherReport>) {
    this.#child = child;
    this.#done = done;
    void connected.then((url) => (this.resourceUrl = url)).catch(() => {});
  }

  /** Starts the publisher; resolves once its peer connection is up (media is flowing). */
  static async start(
    options: Partial<SyncScenario> & { whipUrl: string; token: string },
  ): Promise<LibwebrtcPublisher> {
    const child = fork(CHILD, [], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    let onConnected: (url: string) => void = () => {};
    let onDone: (report: PublisherReport) => void = () => {};
    let onError: (error: Error) => void = () => {};
    const connected = new Promise<string>((resolve, reject) => {
      onConnected = resolve;
      onError = reject;
    });
    const done = new Promise<PublisherReport>((resolve, reject) => {
      onDone = resolve;
      const previous = onError;
      onError = (error) => {
        previous(error);
        reject(error);
      };
    });
    done.catch(() => {});
    child.on(
      'message',
      (message: { type: string; resourceUrl?: string; report?: PublisherReport; message?: string }) => {
        if (message.type === 'connected') onConnected(message.resourceUrl!);
        else if (message.type === 'done') onDone(message.report!);
        else if (message.type === 'error') onError(new Error(`libwebrtc publisher: ${message.message}`));
      },
    );
    child.on('exit', (code) => onError(new Error(`libwebrtc publisher exited (${code})`)));
    child.send({ ...DEFAULT_SCENARIO, ...options });
    const publisher = new LibwebrtcPublisher(child, connected, done);
    await connected;
    return publisher;
  }

  /** Resolves with what was sent once the scenario has played. */
  finished(): Promise<PublisherReport> {
    return this.#done;
  }

  /** Leaves (WHIP DELETE) and ends the publisher process (idempotent). */
  async close(): Promise<void> {
    const child = this.#child;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.send({ type: 'leave' });
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  }
}
