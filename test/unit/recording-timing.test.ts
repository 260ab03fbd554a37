import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AudioTimeline } from '../../src/main/recording/AudioTimeline';
import { OPUS_SILENCE_20MS, opusPacketSamples } from '../../src/main/recording/codecs';
import { StreamClock } from '../../src/main/recording/StreamClock';
import { TrackClock } from '../../src/main/recording/TrackClock';

/** A 20 ms Opus packet (CELT fullband, one frame) of `size` bytes. */
const opus = (size: number) => Buffer.concat([Buffer.from([0xfc]), Buffer.alloc(size - 1, 0x55)]);

describe('recording timing', () => {
  it('reads Opus packet durations from the TOC byte', () => {
    assert.equal(opusPacketSamples(Buffer.from([0xfc, 1, 2])), 960);
    assert.equal(opusPacketSamples(OPUS_SILENCE_20MS), 960);
    assert.equal(opusPacketSamples(Buffer.from([0x08])), 960); // SILK NB 20 ms
    assert.equal(opusPacketSamples(Buffer.from([0x0b, 0x03])), 2880); // code 3, three 20 ms frames
    assert.equal(opusPacketSamples(Buffer.alloc(0)), null);
  });

  it('keeps a fast audio clock within 15 ms by leaving out quiet frames, times strictly increasing', () => {
    const timeline = new AudioTimeline();
    const out: number[] = [];
    for (let i = 0; i < 3000; i++) {
      // 0.5 % fast: 20 ms frames that take 19.9 ms of real time; a loud frame every 10.
      const time = 1000 + i * 19.9;
      const placed = timeline.place(time, opus(i % 10 === 0 ? 120 : 20));
      for (const p of placed) {
        out.push(p.timeMs);
        if (!p.inserted)
          assert.ok(Math.abs(p.timeMs - time) <= 15, `frame ${i}: ${time} written at ${p.timeMs}`);
      }
    }
    for (let i = 1; i < out.length; i++) assert.ok(out[i]! > out[i - 1]!);
    // 3000 frames 0.1 ms short: 300 ms, 15 frames.
    assert.ok(timeline.removed >= 14 && timeline.removed <= 16, `removed ${timeline.removed}`);
    assert.equal(timeline.late, 0);
  });

  it('fills a pause with whole silence frames and repeats quiet frames for a slow clock', () => {
    const timeline = new AudioTimeline();
    let written = 0;
    for (let i = 0; i < 300; i++) written += timeline.place(i * 20.1, opus(20)).length;
    assert.ok(timeline.inserted >= 1, 'a slow clock repeats frames');
    const before = timeline.inserted;
    const placed = timeline.place(300 * 20.1 + 3000, opus(20));
    const silence = placed.filter((p) => p.inserted && p.data.equals(OPUS_SILENCE_20MS));
    assert.ok(silence.length >= 148 && silence.length <= 151, `silence frames ${silence.length}`);
    assert.ok(timeline.inserted - before >= 148);
    // The frame after the pause is written where its time says (±15 ms).
    const last = placed[placed.length - 1]!;
    assert.ok(Math.abs(last.timeMs - (300 * 20.1 + 3000)) <= 15, `${last.timeMs}`);
    assert.ok(written > 0);
  });

  it('drops a frame that comes after its place was filled, and counts it late', () => {
    const timeline = new AudioTimeline();
    timeline.place(0, opus(20));
    timeline.fill(1000);
    assert.equal(timeline.place(20, opus(20)).length, 0);
    assert.equal(timeline.late, 1);
  });

  it('fills silence for every slot that starts by the time the interleaver writes through', () => {
    const timeline = new AudioTimeline();
    timeline.place(0, opus(20));
    // Written through 95 ms: slots at 20, 40, 60 and 80 start by then (80 ends after 95).
    const filled = timeline.fillThrough(95);
    assert.deepEqual(
      filled.map((f) => f.timeMs),
      [20, 40, 60, 80],
    );
    assert.equal(timeline.cursor, 100);
  });

  it('finds a pause where the RTP clock stood still, at its place and length', () => {
    const timed: Array<{ rtp: number; time: number }> = [];
    const clock = new TrackClock<number>('audio', 48000, (rtp, time) => timed.push({ rtp, time }));
    let rtp = 0;
    let now = 10_000;
    for (let i = 0; i < 200; i++, rtp += 960, now += 20) clock.push(rtp, now + (i % 3), rtp);
    // 3 s without capture: the RTP clock continues where it stopped.
    now += 3000;
    for (let i = 0; i < 50; i++, rtp += 960, now += 20) {
      clock.push(rtp, now + (i % 3), rtp);
      clock.tick(now);
    }
    clock.flush();
    assert.equal(clock.pauses.length, 1, JSON.stringify(clock.pauses));
    assert.ok(Math.abs(clock.pauses[0]!.length - 3000) <= 3, JSON.stringify(clock.pauses));
    assert.ok(Math.abs(clock.pauses[0]!.at - (10_000 + 200 * 20)) <= 3, JSON.stringify(clock.pauses));
    const after = timed.find((t) => t.rtp === 200 * 960)!;
    assert.ok(Math.abs(after.time - (10_000 + 200 * 20 + 3000)) <= 3, `${after.time}`);
    for (let i = 1; i < timed.length; i++) assert.ok(timed[i]!.time > timed[i - 1]!.time);
  });

  it('does not take a burst of frames that were only held up for a pause', () => {
    const clock = new TrackClock<number>('audio', 48000, () => {});
    let rtp = 0;
    let now = 0;
    for (let i = 0; i < 200; i++, rtp += 960, now += 20) clock.push(rtp, now, rtp);
    // The network holds 400 ms of packets, then delivers them at once and carries on.
    const burstAt = now + 400;
    for (let i = 0; i < 20; i++, rtp += 960, now += 20) clock.push(rtp, burstAt, rtp);
    for (let i = 0; i < 40; i++, rtp += 960, now += 20) {
      clock.push(rtp, Math.max(now, burstAt), rtp);
      clock.tick(Math.max(now, burstAt));
    }
    clock.flush();
    assert.deepEqual(clock.pauses, []);
  });

  it('does not take a sender that stalls and then catches up at twice real time for a pause', () => {
    const clock = new TrackClock<number>('audio', 48000, () => {});
    let rtp = 0;
    let now = 0;
    for (let i = 0; i < 200; i++, rtp += 960, now += 20) clock.push(rtp, now, rtp);
    // 800 ms without packets, then the 800 ms of media and more come two frames per 20 ms.
    let arrival = now + 800;
    for (let i = 0; i < 120; i++, rtp += 960, now += 20) {
      arrival = Math.max(now, arrival + (i % 2 === 0 ? 20 : 0));
      clock.push(rtp, arrival, rtp);
      clock.tick(arrival);
    }
    for (let i = 0; i < 100; i++, rtp += 960, now += 20) {
      clock.push(rtp, now, rtp);
      clock.tick(now);
    }
    assert.deepEqual(clock.pauses, []);
  });

  it('takes a frozen audio clock for a pause only while the video kept time', () => {
    for (const videoStalls of [false, true]) {
      const stream = new StreamClock<number>(() => {});
      stream.addTrack('audio', 48000);
      stream.addTrack('video', 90000);
      let rtpA = 0;
      for (let ms = 0; ms < 8000; ms += 20) {
        const gap = ms >= 4000 && ms < 6000;
        if (!gap) {
          // libwebrtc: audio RTP counts captured samples; a stalled sender delivers late instead.
          stream.push('audio', rtpA, 50_000 + ms + 30, ms);
          rtpA += 960;
        }
        if (ms % 40 === 0 && !gap) {
          const videoRtp = videoStalls ? (ms < 6000 ? ms : ms - 2000) * 90 : ms * 90;
          stream.push('video', videoRtp, 50_000 + ms + 40, ms);
        }
        stream.tick(50_000 + ms + 30);
      }
      stream.flush();
      const pauses = stream.timing('audio')!.pauses;
      if (videoStalls) assert.deepEqual(pauses, [], 'a stall of every track is no pause');
      else assert.ok(pauses.length === 1 && Math.abs(pauses[0]!.length - 2000) < 30, JSON.stringify(pauses));
    }
  });

  it('measures a drifting audio clock from sender reports and gives audio and video one offset', () => {
    const times: Record<'audio' | 'video', number[]> = { audio: [], video: [] };
    const stream = new StreamClock<number>((kind, _payload, time) => times[kind].push(time));
    stream.addTrack('audio', 48000);
    stream.addTrack('video', 90000);
    const ntpBase = 3_900_000_000_000;
    // The audio device runs 0.5 % fast: 48,240 samples per second of wall time.
    for (let ms = 0; ms <= 30_000; ms += 20) {
      const arrival = 50_000 + ms;
      stream.push('audio', Math.round(ms * 48.24), arrival + 30, ms);
      if (ms % 40 === 0) stream.push('video', ms * 90, arrival + 60, ms);
      if (ms % 1000 === 0) stream.senderReport('video', ms * 90, ntpBase + ms, arrival + 5);
      if (ms % 3000 === 1500) stream.senderReport('audio', Math.round(ms * 48.24), ntpBase + ms, arrival + 5);
      stream.tick(arrival);
    }
    const audio = stream.timing('audio')!;
    assert.ok(Math.abs(audio.driftPpm - 5000) < 50, `driftPpm ${audio.driftPpm}`);
    // Late in the run, audio and video of the same instant have the same time (±2 ms).
    const a = times.audio[times.audio.length - 1]!;
    const v = times.video[times.video.length - 1]!;
    assert.ok(Math.abs(a - v) <= 2, `audio ${a} video ${v}`);
  });

  it('times a sender whose reports are stamped in whole seconds (werift) by arrival, audio and video together', () => {
    const times: Record<'audio' | 'video', Array<{ ms: number; time: number }>> = { audio: [], video: [] };
    const stream = new StreamClock<number>((kind, ms, time) => times[kind].push({ ms, time }));
    stream.addTrack('audio', 48000);
    stream.addTrack('video', 90000);
    const ntpBase = 3_900_000_000_000;
    // werift truncates the NTP fraction: a report names its RTP time with the second it is in.
    const truncated = (ms: number) => Math.floor((ntpBase + ms) / 1000) * 1000;
    let nextReport = 700;
    // werift sends reports 500–1,500 ms apart at random (a fixed pseudo-random sequence here).
    let seed = 12345;
    const interval = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return 500 + (seed % 1000);
    };
    for (let ms = 0; ms <= 20_000; ms += 20) {
      const arrival = 50_000 + ms;
      stream.push('audio', ms * 48, arrival, ms);
      if (ms % 40 === 0) stream.push('video', ms * 90, arrival, ms);
      if (ms >= nextReport) {
        stream.senderReport('audio', ms * 48, truncated(ms) - 20, arrival);
        stream.senderReport('video', ms * 90, truncated(ms), arrival);
        nextReport += interval();
      }
      stream.tick(arrival);
    }
    stream.flush();
    assert.equal(stream.track('audio')!.srMode, false);
    assert.equal(stream.track('video')!.srMode, false);
    assert.ok(stream.track('audio')!.reportsIgnored > 5);
    for (const kind of ['audio', 'video'] as const) {
      const list = times[kind];
      for (let i = 1; i < list.length; i++) {
        const step = list[i]!.time - list[i - 1]!.time;
        const expected = list[i]!.ms - list[i - 1]!.ms;
        assert.ok(Math.abs(step - expected) < 1, `${kind} at ${list[i]!.ms}: step ${step}`);
      }
    }
    const audioAt = times.audio.find((t) => t.ms === 10_000)!.time;
    const videoAt = times.video.find((t) => t.ms === 10_000)!.time;
    assert.ok(Math.abs(audioAt - videoAt) <= 2, `audio ${audioAt} video ${videoAt}`);
    assert.deepEqual(stream.timing('audio')!.pauses, []);
  });

  it('ignores sender reports whose clocks disagree with the time between them', () => {
    const times: number[] = [];
    const stream = new StreamClock<number>((kind, _payload, time) => kind === 'audio' && times.push(time));
    stream.addTrack('audio', 48000);
    stream.addTrack('video', 90000);
    for (let ms = 0; ms <= 10_000; ms += 20) {
      const arrival = 50_000 + ms;
      stream.push('audio', ms * 48, arrival, ms);
      stream.push('video', ms * 90, arrival, ms);
      // A relay that fills its reports with unrelated clocks.
      if (ms % 1000 === 0) {
        stream.senderReport('audio', (ms * 7919) % 2 ** 31, 1e12 + ((ms * 104729) % 1e9), arrival);
        stream.senderReport('video', (ms * 15485) % 2 ** 31, 2e12 - ms * 3, arrival);
      }
      stream.tick(arrival);
    }
    for (let i = 1; i < times.length; i++) assert.ok(Math.abs(times[i]! - times[i - 1]! - 20) < 1, `${i}`);
    assert.deepEqual(stream.timing('audio')!.pauses, []);
  });
});
