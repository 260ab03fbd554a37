/**
 * The media plane on the main thread (`mediaWorkers: 0`): everything of it that needs werift,
 * in one module the studio loads only then (`Studio.start`, a dynamic import). A studio whose
 * media runs on workers never loads werift on its main thread: no werift object can live there
 * by construction, and the idle studio is ~5 MB smaller (built, one worker: 150 → 145 MB RSS;
 * much of what werift pulls in, Node's crypto and sockets, the main thread loads anyway). The
 * dependency rule is tested (`test/unit/main-thread-imports.test.ts`): nothing else the main
 * thread imports statically may import werift.
 */
import { RTCPeerConnection } from 'werift';

export { Peer } from './Peer';
export { answerWhipOffer, applyTrickleFragment, peerConfig, waitForGathering } from './rtcConfig';
export { StreamHealth } from './StreamHealth';
export { StreamRecorder } from '../recording/StreamRecorder';
export { installWeriftFixes } from './weriftFixes';
export { RTCPeerConnection };
