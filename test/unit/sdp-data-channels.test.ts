import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  answerDeclining,
  checkAnswerTakesOffer,
  checkSdp,
  declineDataChannels,
  MAX_MEDIA_SECTIONS,
  MAX_SIGNALED_CANDIDATES,
  normalizeLineEndings,
  sectionKinds,
} from '../../src/main/rooms/sdp';

const section = (kind: string, mid: string, mLine?: string) =>
  [mLine ?? `m=${kind} 9 UDP/TLS/RTP/SAVPF 96`, 'c=IN IP4 0.0.0.0', `a=mid:${mid}`, 'a=sendonly'].join(
    '\r\n',
  );

const offer = (sections: string[], bundle: string) =>
  ['v=0', 'o=- 1 2 IN IP4 127.0.0.1', 's=-', 't=0 0', `a=group:BUNDLE ${bundle}`, ...sections].join('\r\n') +
  '\r\n';

describe('data-channel sections of an offer (the studio uses none)', () => {
  it('takes them out of the offer and its BUNDLE group, and declines each in its place in the answer', () => {
    const dataChannel = 'm=application 9 UDP/DTLS/SCTP webrtc-datachannel';
    const sdp = offer(
      [section('audio', '0'), section('application', '1', dataChannel), section('video', '2')],
      '0 1 2',
    );
    const { sdp: forStack, declined } = declineDataChannels(sdp);
    assert.deepEqual(sectionKinds(forStack), ['audio', 'video']);
    assert.match(forStack, /^a=group:BUNDLE 0 2$/m);
    assert.deepEqual(declined, [{ index: 1, mLine: dataChannel, mid: '1' }]);
    assert.ok(forStack.endsWith('\r\n') && !forStack.includes('a=mid:1'));

    const answer = offer([section('audio', '0'), section('video', '2')], '0 2');
    const full = answerDeclining(answer, declined);
    assert.deepEqual(sectionKinds(full), ['audio', 'application', 'video'], 'one for one with the offer');
    assert.match(
      full,
      /\r\nm=application 0 UDP\/DTLS\/SCTP webrtc-datachannel\r\nc=IN IP4 0\.0\.0\.0\r\na=mid:1\r\nm=video/,
    );
    assert.match(full, /^a=group:BUNDLE 0 2$/m, 'a declined section is in no BUNDLE group');
  });

  it('handles a data channel first (the BUNDLE tag), an old-style one, several, and none', () => {
    const legacy = 'm=application 9 DTLS/SCTP 5000';
    const sdp = offer(
      [
        section('application', 'd', 'm=application 9 UDP/DTLS/SCTP webrtc-datachannel'),
        section('video', 'v'),
        section('application', 'e', legacy),
      ],
      'd v e',
    );
    const { sdp: forStack, declined } = declineDataChannels(sdp);
    assert.deepEqual(sectionKinds(forStack), ['video']);
    assert.match(forStack, /^a=group:BUNDLE v$/m);
    const full = answerDeclining(offer([section('video', 'v')], 'v'), declined);
    assert.deepEqual(sectionKinds(full), ['application', 'video', 'application']);
    assert.match(full, /^m=application 0 DTLS\/SCTP 5000$/m, "the offer's protocol and format echoed");

    // Only data channels: nothing is left to bundle.
    const only = declineDataChannels(offer([section('application', 'x')], 'x'));
    assert.doesNotMatch(only.sdp, /a=group/);

    // No data channel: the offer and the answer pass as they are, byte for byte.
    const plain = offer([section('audio', 'a'), section('video', 'b')], 'a b');
    assert.deepEqual(declineDataChannels(plain), { sdp: plain, declined: [] });
    assert.equal(answerDeclining(plain, []), plain);
  });

  it('keeps an offer with \\n line endings in them', () => {
    const sdp = offer([section('audio', '0'), section('application', '1')], '0 1').replaceAll('\r\n', '\n');
    const { sdp: forStack, declined } = declineDataChannels(sdp);
    assert.ok(!forStack.includes('\r'));
    assert.ok(!answerDeclining(forStack, declined).includes('\r'));
    assert.deepEqual(sectionKinds(answerDeclining(forStack, declined)), ['audio', 'application']);
  });
});

describe('how many media sections an offer may have', () => {
  const withIce = (sections: string[]) =>
    offer(sections, sections.map((_, i) => String(i)).join(' ')).replace(
      't=0 0',
      't=0 0\r\na=ice-ufrag:u\r\na=ice-pwd:p\r\na=fingerprint:sha-256 00',
    );
  it(`takes up to ${MAX_MEDIA_SECTIONS} and refuses more, naming the count (werift's cost grows with each)`, () => {
    // One active section of each kind (a publisher sends one stream), the others rejected by the
    // offerer itself (port 0): werift parses those all the same.
    const many = (n: number) =>
      withIce(
        Array.from({ length: n }, (_, i) =>
          i < 2
            ? section(i === 0 ? 'video' : 'audio', String(i))
            : section('audio', String(i), 'm=audio 0 UDP/TLS/RTP/SAVPF 96'),
        ),
      );
    assert.equal(checkSdp(many(MAX_MEDIA_SECTIONS), { direction: 'send' }).sections, MAX_MEDIA_SECTIONS);
    assert.throws(
      () => checkSdp(many(1000), { direction: 'send' }),
      new RegExp(`has 1000 media sections; at most ${MAX_MEDIA_SECTIONS} are taken`),
    );
  });

  it(`takes up to ${MAX_SIGNALED_CANDIDATES} ICE candidates and refuses more`, () => {
    const withCandidates = (n: number) =>
      withIce([section('video', '0')]).replace(
        'a=mid:0',
        [
          'a=mid:0',
          ...Array.from({ length: n }, (_, i) => `a=candidate:${i} 1 udp 1 127.0.0.1 ${1000 + i} typ host`),
        ].join('\r\n'),
      );
    assert.equal(checkSdp(withCandidates(MAX_SIGNALED_CANDIDATES), { direction: 'send' }).sections, 1);
    assert.throws(
      () => checkSdp(withCandidates(MAX_SIGNALED_CANDIDATES + 1), { direction: 'send' }),
      new RegExp(`has ${MAX_SIGNALED_CANDIDATES + 1} ICE candidates; at most ${MAX_SIGNALED_CANDIDATES}`),
    );
  });
});

describe('what a publisher offer may ask for (RFC 9725 §4.4: what cannot be done whole is refused, 422)', () => {
  const publisherOffer = (sections: string[]) =>
    offer(sections, sections.map((_, i) => String(i)).join(' ')).replace(
      't=0 0',
      't=0 0\r\na=ice-ufrag:u\r\na=ice-pwd:p\r\na=fingerprint:sha-256 00',
    );
  const refusal = (code: string, message: RegExp) => (error: unknown) => {
    assert.equal((error as { code: string }).code, code);
    assert.match((error as Error).message, message);
    return true;
  };

  it('no a=setup:active, at session or media level', () => {
    const av = publisherOffer([section('audio', '0'), section('video', '1')]);
    assert.deepEqual(checkSdp(av.replace('a=mid:1', 'a=mid:1\r\na=setup:actpass'), { direction: 'send' }), {
      audio: true,
      video: true,
      sections: 2,
    });
    for (const sdp of [
      av.replace('a=mid:1', 'a=mid:1\r\na=setup:active'),
      av.replace('t=0 0', 't=0 0\r\na=setup:active'),
    ])
      assert.throws(
        () => checkSdp(sdp, { direction: 'send' }),
        refusal('Unprocessable', /a=setup:active is not supported .*: offer actpass$/),
      );
  });

  it('one active audio and one active video section at most; sections the offer rejects do not count', () => {
    assert.throws(
      () => checkSdp(publisherOffer([section('video', '0'), section('video', '1')]), { direction: 'send' }),
      refusal('Unprocessable', /the offer has 2 active video sections/),
    );
    const bundleOnly = section('audio', '1', 'm=audio 0 UDP/TLS/RTP/SAVPF 96').replace(
      'a=mid:1',
      'a=mid:1\r\na=bundle-only',
    );
    assert.throws(
      () => checkSdp(publisherOffer([section('audio', '0'), bundleOnly]), { direction: 'send' }),
      refusal('Unprocessable', /2 active audio sections/),
    );
    const rejected = section('audio', '1', 'm=audio 0 UDP/TLS/RTP/SAVPF 96');
    assert.equal(
      checkSdp(publisherOffer([section('audio', '0'), rejected]), { direction: 'send' }).audio,
      true,
    );
  });

  it('an answer that takes every audio and video section of the offer, or a 422 naming the codecs', () => {
    const withCodec = (kind: string, mid: string, codec: string) =>
      section(kind, mid).replace('a=sendonly', `a=sendonly\r\na=rtpmap:96 ${codec}\r\na=rtpmap:97 rtx/90000`);
    const sent = offer(
      [withCodec('audio', 'a', 'opus/48000/2'), withCodec('video', 'v', 'H265/90000')],
      'a v',
    );
    const answer = (video: string) =>
      offer([section('audio', 'a').replace('sendonly', 'recvonly'), video], 'a v');
    const supported = {
      audio: [{ mimeType: 'audio/opus' }],
      video: [{ mimeType: 'video/VP8' }, { mimeType: 'video/H264' }, { mimeType: 'video/H264' }],
    };
    checkAnswerTakesOffer(sent, answer(section('video', 'v').replace('sendonly', 'recvonly')), supported);
    for (const video of [
      section('video', 'v', 'm=video 0 UDP/TLS/RTP/SAVPF 0'),
      section('video', 'v').replace('sendonly', 'inactive'),
    ])
      assert.throws(
        () => checkAnswerTakesOffer(sent, answer(video), supported),
        refusal(
          'Unprocessable',
          /^SDP: no video codec of the offer is supported \(offered: H265\); the studio takes VP8, H264$/,
        ),
      );
  });

  it('line endings made CRLF throughout', () => {
    assert.equal(normalizeLineEndings('v=0\no=-\r\ns=-\n'), 'v=0\r\no=-\r\ns=-\r\n');
  });
});
