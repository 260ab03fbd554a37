/**
 * Child process of `LibwebrtcPublisher`: a libwebrtc peer (`@roamhq/wrtc`, the WebRTC stack
 * inside Chrome) that publishes by WHIP a black video with a white frame and a 1 kHz beep at the
 * same instants, following a scripted scenario (pauses, a drifting audio clock, a starved bursty
 * audio source). It runs in its own process: libwebrtc's threads stay out of the test process,
 * and its crash on exit cannot take the test down.
 */
import wrtc from '@roamhq/wrtc';
import type { PublisherReport, SyncScenario } from './libwebrtcPublisher';

const { RTCPeerConnection, nonstandard } = wrtc;
const WIDTH = 320;
const HEIGHT = 240;
const RATE = 48000;
/** Samples per onData call: 10 ms at the nominal rate, as libwebrtc's capture path delivers. */
const CHUNK = RATE / 100;
const BEEP_MS = 50;
/**
 * A flash sent later than this (ms; a stalled publisher process) carries the time it was sent:
 * libwebrtc stamps a frame when it gets it, so that flash is no longer at its beep's instant and
 * is left out of the pairs to find.
 */
const FLASH_LATE_MS = 10;

function send(message: unknown): void {
  process.send?.(message);
}

function paused(scenario: SyncScenario, kind: 'audio' | 'video', t: number): boolean {
  return scenario.pauses.some((p) => p[kind] && t >= p.atMs && t < p.atMs + p.lengthMs);
}

async function main(scenario: SyncScenario & { whipUrl: string; token: string }): Promise<void> {
  const pc = new RTCPeerConnection({ iceServers: [] });
  const videoSource = new nonstandard.RTCVideoSource();
  const audioSource = new nonstandard.RTCAudioSource();
  const videoTrack = videoSource.createTrack();
  const audioTrack = audioSource.createTrack();
  pc.addTransceiver(videoTrack, { direction: 'sendonly' });
  pc.addTransceiver(audioTrack, { direction: 'sendonly' });
  const channel = scenario.dataChannel ? pc.createDataChannel('probe') : null;
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise<void>((resolve) => {
    if (pc.iceGatheringState === 'complete') return resolve();
    const timer = setTimeout(resolve, 3000);
    pc.onicegatheringstatechange = () => {
      if (pc.iceGatheringState === 'complete') {
        clearTimeout(timer);
        resolve();
      }
    };
  });
  // Only loopback candidates: the test never sends to another address.
  const offer = pc
    .localDescription!.sdp.split('\r\n')
    .filter((l: string) => !l.startsWith('a=candidate') || / 127\.0\.0\.1 /.test(l))
    .join('\r\n');
  const response = await fetch(scenario.whipUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/sdp', authorization: `Bearer ${scenario.token}` },
    body: offer,
  });
  const answer = await response.text();
  if (response.status !== 201) throw new Error(`WHIP POST answered ${response.status}: ${answer}`);
  const resourceUrl = new URL(response.headers.get('location')!, scenario.whipUrl).toString();
  await pc.setRemoteDescription({ type: 'answer', sdp: answer });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('libwebrtc peer did not connect')), 15_000);
    const check = () => {
      if (pc.connectionState === 'connected') {
        clearTimeout(timer);
        resolve();
      } else if (pc.connectionState === 'failed') {
        clearTimeout(timer);
        reject(new Error('libwebrtc peer connection failed'));
      }
    };
    pc.onconnectionstatechange = check;
    check();
  });
  send({ type: 'connected', resourceUrl });

  // ---- the scripted source -----------------------------------------------------------------
  const black = new Uint8Array((WIDTH * HEIGHT * 3) / 2);
  black.fill(16, 0, WIDTH * HEIGHT);
  black.fill(128, WIDTH * HEIGHT);
  const white = new Uint8Array(black.length);
  white.fill(235, 0, WIDTH * HEIGHT);
  white.fill(128, WIDTH * HEIGHT);
  const frameMs = 1000 / scenario.fps;
  const framesPerFlash = Math.round(scenario.flashPeriodMs / frameMs);
  // The audio device's clock: `audioClock` samples per nominal one (1.005: 0.5 % fast).
  const chunkWallMs = 10 / scenario.audioClock;
  const t0 = performance.now();
  const report: PublisherReport = { flashesMs: [], beepsMs: [], startedAt: Date.now(), answer };
  let frame = 0;
  let chunk = 0; // chunks of the device timeline (captured or not)
  let samplesSent = 0;
  let nextBurst = 0;
  const starved = scenario.starved;
  let burstBudget = 0;

  const audioChunk = (wallMs: number): Int16Array => {
    // Wall time of each sample of this chunk (the device's clock runs at audioClock×).
    const samples = new Int16Array(CHUNK);
    const start = wallMs - chunkWallMs;
    for (let i = 0; i < CHUNK; i++) {
      const t = start + (i * chunkWallMs) / CHUNK;
      const phase = t % scenario.flashPeriodMs;
      const beep = t >= scenario.flashPeriodMs / 2 && phase < BEEP_MS;
      samples[i] = beep ? Math.round(16000 * Math.sin((2 * Math.PI * 1000 * (samplesSent + i)) / RATE)) : 0;
    }
    return samples;
  };

  await new Promise<void>((resolve) => {
    const step = () => {
      const now = performance.now() - t0;
      if (now >= scenario.durationMs) return resolve();
      // Video frames at their instants (late ones are sent at once, as a camera's queue would).
      while (frame * frameMs <= now) {
        const at = frame * frameMs;
        if (!paused(scenario, 'video', at)) {
          const flash = frame > 0 && frame % framesPerFlash === 0;
          videoSource.onFrame({ width: WIDTH, height: HEIGHT, data: flash ? white : black });
          const sentAt = performance.now() - t0;
          if (flash) report.flashesMs.push(report.startedAt + (sentAt - at > FLASH_LATE_MS ? sentAt : at));
        }
        frame++;
      }
      if (starved) {
        // A starved device: bursts of whatever it could capture, short of real time.
        if (now >= nextBurst) {
          const period = starved.burstMs[0] + Math.random() * (starved.burstMs[1] - starved.burstMs[0]);
          const factor = starved.factor[0] + Math.random() * (starved.factor[1] - starved.factor[0]);
          burstBudget += (period * factor) / 10;
          nextBurst = now + period;
          while (burstBudget >= 1) {
            burstBudget--;
            audioSource.onData({ samples: audioChunk(chunk * 10), sampleRate: RATE });
            samplesSent += CHUNK;
            chunk++;
          }
        }
      } else {
        while ((chunk + 1) * chunkWallMs <= now) {
          const at = (chunk + 1) * chunkWallMs;
          if (!paused(scenario, 'audio', at - chunkWallMs)) {
            const samples = audioChunk(at);
            // A beep starts in this chunk: note its instant.
            const onset = Math.ceil((at - chunkWallMs) / scenario.flashPeriodMs) * scenario.flashPeriodMs;
            if (onset > 0 && onset < at) report.beepsMs.push(report.startedAt + onset);
            audioSource.onData({ samples, sampleRate: RATE });
            samplesSent += CHUNK;
          }
          chunk++;
        }
      }
      const nextVideo = frame * frameMs;
      const nextAudio = starved ? nextBurst : (chunk + 1) * chunkWallMs;
      setTimeout(step, Math.max(0, Math.min(nextVideo, nextAudio) - (performance.now() - t0)));
    };
    step();
  });

  if (channel !== null) report.dataChannelState = channel.readyState;
  send({ type: 'done', report });
  // Connected until told to leave: the test stops its archive first.
  await new Promise((resolve) => process.once('message', resolve));
  await fetch(resourceUrl, {
    method: 'DELETE',
    headers: { authorization: `Bearer ${scenario.token}` },
  }).catch(() => {});
  videoTrack.stop();
  audioTrack.stop();
  pc.close();
  // libwebrtc may crash while tearing down its threads: leave before it can.
  process.exit(0);
}

process.once('message', (message: SyncScenario & { whipUrl: string; token: string }) => {
  main(message).catch((error: unknown) => {
    send({ type: 'error', message: error instanceof Error ? error.message : String(error) });
    process.exit(1);
  });
});
