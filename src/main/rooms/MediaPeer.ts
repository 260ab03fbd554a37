import type { RTCIceCandidateInit } from 'werift';
import type { TypedEmitter } from '../util/TypedEmitter';
import type { PeerEvents } from './Peer';
import type { Stream } from './Stream';

/**
 * A participant's peer as rooms use it: the in-process `Peer`, or a `WorkerPeer` handle whose
 * peer lives on a media worker (docs/threads.md).
 */
export interface MediaPeer extends TypedEmitter<PeerEvents> {
  readonly closed: boolean;
  publish(stream: Stream, requestId?: string): void;
  unpublish(stream: Stream): void;
  subscribe(stream: Stream): void;
  unsubscribe(streamId: string): void;
  handleAnswer(sdp: string): Promise<void>;
  addCandidate(candidate: RTCIceCandidateInit | null): Promise<void>;
  close(reason?: string): void;
}
