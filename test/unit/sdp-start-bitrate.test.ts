import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { START_BITRATE_KBPS, withStartBitrate } from '../../src/main/rooms/sdp';

const SDP = [
  'v=0',
  'o=- 1 1 IN IP4 127.0.0.1',
  's=-',
  't=0 0',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111',
  'a=rtpmap:111 opus/48000/2',
  'a=fmtp:111 minptime=10;useinbandfec=1',
  'm=video 9 UDP/TLS/RTP/SAVPF 96 97 102 45',
  'a=rtpmap:96 VP8/90000',
  'a=rtpmap:97 rtx/90000',
  'a=fmtp:97 apt=96',
  'a=rtpmap:102 H264/90000',
  'a=fmtp:102 profile-level-id=42e01f;packetization-mode=1',
  'a=rtpmap:45 AV1/90000',
  '',
].join('\r\n');

describe('the start bitrate a libwebrtc sender is given', () => {
  it('goes on every video codec, a new fmtp line where it has none; not on audio or rtx', () => {
    const out = withStartBitrate(SDP);
    const lines = out.split('\r\n');
    const param = `x-google-start-bitrate=${START_BITRATE_KBPS}`;
    assert.ok(lines.includes(`a=fmtp:96 ${param}`), 'VP8 had no fmtp line: one is added');
    assert.equal(lines.indexOf(`a=fmtp:96 ${param}`), lines.indexOf('a=rtpmap:96 VP8/90000') + 1);
    assert.ok(lines.includes(`a=fmtp:102 profile-level-id=42e01f;packetization-mode=1;${param}`));
    assert.ok(lines.includes(`a=fmtp:45 ${param}`));
    assert.ok(lines.includes('a=fmtp:97 apt=96'), 'rtx untouched');
    assert.ok(lines.includes('a=fmtp:111 minptime=10;useinbandfec=1'), 'audio untouched');
    assert.ok(out.endsWith('\r\n'));
    assert.equal(withStartBitrate(out), out, 'given once');
  });
});
