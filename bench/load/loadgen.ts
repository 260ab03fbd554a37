/**
 * A load-generator process: werift publishers and subscribers driven by the bench harness over
 * IPC (LoadRequest). Several run side by side so the load is spread and never measured as part
 * of the studio; the harness reads this process's CPU from /proc.
 */
import { installWeriftFixes } from '../../src/main/rooms/weriftFixes';
import { NodeSubscriber } from '../../test/helpers/subscriber';
import type { LoadCollect, LoadRequest, LoadResponse, LoadStatus } from './protocol';
import { DirectSubscriber, LIBWEBRTC_PACING, nowMs, ReplayPublisher, type Pacing } from './ReplayPublisher';
import { loadRtpClip, type RtpClip } from './rtpClip';
import { Tally } from './Tally';

const TICK_MS = 2;

// The studio's werift fixes here too: this process's peers are DTLS clients when they answer
// the studio's offers, its subscribers decrypt every forwarded packet (the faster receive path:
// the load then takes less of the machine the studio shares with it), and its sockets get the
// same receive buffers (a drop here would be counted against the studio).
installWeriftFixes();

const tally = new Tally();
let clip: RtpClip | null = null;
let pacing: Pacing = LIBWEBRTC_PACING;
const publishers: ReplayPublisher[] = [];
/** WHIP session of each publisher (by connection id), to end it when it leaves. */
const sessions = new Map<string, { location: string; token: string }>();
const subscribers: Array<{ packets: number; close(): Promise<void> }> = [];
let directPublisher: ReplayPublisher | null = null;
let lags: number[] = [];

const scheduler = setInterval(() => {
  const now = nowMs();
  for (const p of publishers) {
    const lag = p.tick(now);
    if (tally.sending && lag >= 0) lags.push(lag);
  }
}, TICK_MS);

function needClip(): RtpClip {
  if (clip === null) throw new Error('no clip loaded (send op "clip" first)');
  return clip;
}

async function handle(request: LoadRequest): Promise<unknown> {
  switch (request.op) {
    case 'clip':
      clip = loadRtpClip(request.capture, request.fps);
      pacing = request.pacing ?? LIBWEBRTC_PACING;
      return { packets: clip.packets.length, durationMs: clip.durationMs };
    case 'publish': {
      const publisher = new ReplayPublisher(needClip(), tally, pacing);
      let response: Response;
      let body: string;
      try {
        response = await fetch(request.whipUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/sdp', authorization: `Bearer ${request.token}` },
          body: await publisher.offer(),
          signal: AbortSignal.timeout(30_000),
        });
        body = await response.text();
        if (response.status !== 201) throw new Error(`WHIP POST answered ${response.status}: ${body}`);
      } catch (error) {
        await publisher.close();
        throw error;
      }
      const location = new URL(response.headers.get('location')!, request.whipUrl).toString();
      publisher.key = location.split('/').pop()!;
      try {
        await publisher.accept(body);
      } catch (error) {
        await publisher.close();
        // End the studio's side too, so a retry does not leave a half-open stream behind.
        await fetch(location, {
          method: 'DELETE',
          headers: { authorization: `Bearer ${request.token}` },
        }).catch(() => {});
        throw error;
      }
      publishers.push(publisher);
      sessions.set(publisher.key, { location, token: request.token });
      publisher.start(nowMs());
      return { connectionId: publisher.key };
    }
    case 'unpublish': {
      const index = publishers.findIndex((p) => p.key === request.connectionId);
      const session = sessions.get(request.connectionId);
      if (index < 0 || session === undefined) throw new Error(`no publisher ${request.connectionId} here`);
      const [publisher] = publishers.splice(index, 1);
      sessions.delete(request.connectionId);
      // What was sent reaches the studio before the session ends: a leave, not a lost link.
      publisher!.pause();
      await new Promise((resolve) => setTimeout(resolve, 300));
      const response = await fetch(session.location, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${session.token}` },
        signal: AbortSignal.timeout(30_000),
      });
      await publisher!.close();
      if (!response.ok) throw new Error(`WHIP DELETE answered ${response.status}`);
      return {};
    }
    case 'subscribe': {
      const received = tally.receiver('sfu');
      const subscriber = await NodeSubscriber.join(request.url, request.token);
      subscriber.onPacket = (connectionId, kind, packet) => received(`${connectionId}/${kind}`, packet);
      subscribers.push(subscriber);
      return {};
    }
    case 'direct-offer': {
      directPublisher = new ReplayPublisher(needClip(), tally, pacing);
      directPublisher.key = 'direct';
      return { sdp: await directPublisher.offer() };
    }
    case 'direct-answer': {
      const subscriber = new DirectSubscriber(tally, 'direct');
      subscribers.push(subscriber);
      return { sdp: await subscriber.answer(request.sdp) };
    }
    case 'direct-accept': {
      if (directPublisher === null) throw new Error('no direct publisher (send op "direct-offer" first)');
      await directPublisher.accept(request.sdp);
      publishers.push(directPublisher);
      directPublisher.start(nowMs());
      return {};
    }
    case 'window':
      if (request.sending !== undefined) {
        tally.sending = request.sending;
        if (request.sending) lags = [];
      }
      if (request.receiving !== undefined) tally.receiving = request.receiving;
      return {};
    case 'pause':
      for (const p of publishers) p.pause();
      return {};
    case 'status':
      return {
        publishers: publishers.length,
        subscriberPackets: subscribers.map((s) => s.packets),
      } satisfies LoadStatus;
    case 'collect': {
      lags.sort((a, b) => a - b);
      const result: LoadCollect = {
        ...tally.take(),
        lagMsP99: lags[Math.floor(lags.length * 0.99)] ?? 0,
        lagMsMax: lags[lags.length - 1] ?? 0,
      };
      lags = [];
      return result;
    }
    case 'close':
      clearInterval(scheduler);
      await Promise.allSettled([...subscribers, ...publishers].map((x) => x.close()));
      setTimeout(() => process.exit(0), 100);
      return {};
  }
}

process.on('message', (message: { id: number; request: LoadRequest }) => {
  handle(message.request).then(
    (result) => process.send!({ id: message.id, ok: true, result } satisfies LoadResponse),
    (error: unknown) =>
      process.send!({
        id: message.id,
        ok: false,
        error: (error as Error).message ?? String(error),
      } satisfies LoadResponse),
  );
});
// The harness gone means the bench is over.
process.on('disconnect', () => process.exit(0));
process.send!({ id: 0, ok: true, result: 'ready' } satisfies LoadResponse);
