/** Requests the bench harness sends to a load-generator process, and their results. */
import type { Pacing } from './ReplayPublisher';
import type { TallyReport } from './Tally';

export type LoadRequest =
  /**
   * Load a pre-packetized clip (captureRtpClip) every publisher of this process replays, and how
   * they pace it (libwebrtc's pacing when left out).
   */
  | { op: 'clip'; capture: string; fps: number; pacing?: Pacing }
  /** A publisher over WHIP; answers with the studio's connection id. */
  | { op: 'publish'; whipUrl: string; token: string }
  /** A publisher of this process leaves: stops sending, then ends its WHIP session (DELETE). */
  | { op: 'unpublish'; connectionId: string }
  /** A subscriber over the studio's signaling protocol. */
  | { op: 'subscribe'; url: string; token: string }
  /** The direct path's publisher: makes an offer. */
  | { op: 'direct-offer' }
  /** The direct path's subscriber: answers the offer. */
  | { op: 'direct-answer'; sdp: string }
  /** The direct path's publisher: applies the answer and starts sending. */
  | { op: 'direct-accept'; sdp: string }
  /** Opens or closes the measurement window for sending and/or receiving. */
  | { op: 'window'; sending?: boolean; receiving?: boolean }
  /** Every publisher of this process stops sending. */
  | { op: 'pause' }
  | { op: 'status' }
  /** The tally of the window, and the scheduler's lag since the last collect. */
  | { op: 'collect' }
  | { op: 'close' };

export interface LoadStatus {
  publishers: number;
  /** Packets received so far by each subscriber of this process (direct one included). */
  subscriberPackets: number[];
}

export interface LoadCollect extends TallyReport {
  /** How late packets left the scheduler, p99 and max, ms (a busy load process sends late). */
  lagMsP99: number;
  lagMsMax: number;
}

export interface LoadResponse {
  id: number;
  ok: boolean;
  error?: string;
  result?: unknown;
}
