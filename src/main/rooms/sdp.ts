import { StudioError } from '../../shared/errors';

export interface SdpSummary {
  audio: boolean;
  video: boolean;
  /** Number of media sections. */
  sections: number;
}

const invalid = (message: string) => new StudioError('InvalidArgument', `SDP: ${message}`, 'sdp');
/** Well-formed, but asking for what the studio does not do (RFC 9725 §4.4: 422). */
const unprocessable = (message: string) => new StudioError('Unprocessable', `SDP: ${message}`, 'sdp');

/**
 * The SDP with every line ending CRLF (RFC 8866 §5). Clients that build offers by hand mix CRLF
 * and LF; the section rewriting here splits on one ending, and werift refused what it left with
 * "exception".
 */
export function normalizeLineEndings(sdp: string): string {
  return sdp.replace(/\r?\n/g, '\r\n');
}

/**
 * Media sections an offer may have. A publisher sends one stream (its audio and video, maybe a
 * data channel, which is declined); werift spends ~1.5 ms and tens of KB per section (1,000
 * minimal sections in a 114 KB offer held the thread 1.45 s).
 */
export const MAX_MEDIA_SECTIONS = 16;

/**
 * ICE candidates a session may be told of (offer and trickle together): werift pairs and sorts
 * them all, at a cost that grows faster than their number. Clients signal a few dozen at most
 * (every interface × UDP/TCP × IPv4/IPv6).
 */
export const MAX_SIGNALED_CANDIDATES = 100;

/** The `a=candidate:` lines of an SDP or SDP fragment. */
export function candidateLines(sdp: string): string[] {
  return sdp.split(/\r?\n/).filter((line) => line.startsWith('a=candidate:'));
}

/**
 * Checks that an SDP offer or answer is well-formed enough to hand to the WebRTC stack and says
 * what is wrong otherwise. `direction` is what the remote side must be able to do: `send` for a
 * publisher's offer.
 */
export function checkSdp(sdp: string, options: { direction?: 'send' } = {}): SdpSummary {
  if (typeof sdp !== 'string' || sdp.trim() === '') throw invalid('the body is empty; send an SDP offer');
  if (sdp.length > 200_000) throw invalid('the SDP is too large');
  const lines = sdp.split(/\r?\n/).filter((l) => l !== '');
  if (lines[0] !== 'v=0') throw invalid('must start with "v=0"');
  for (const [i, line] of lines.entries()) {
    if (!/^[a-z]=/.test(line)) throw invalid(`line ${i + 1} is not "<letter>=<value>": ${line.slice(0, 60)}`);
  }
  const sections: string[][] = [];
  const session: string[] = [];
  for (const line of lines) {
    if (line.startsWith('m=')) sections.push([line]);
    else (sections.at(-1) ?? session).push(line);
  }
  if (sections.length === 0) throw invalid('has no media section (m=audio or m=video)');
  const candidates = lines.filter((line) => line.startsWith('a=candidate:')).length;
  if (candidates > MAX_SIGNALED_CANDIDATES) {
    throw invalid(`has ${candidates} ICE candidates; at most ${MAX_SIGNALED_CANDIDATES} are taken`);
  }
  if (sections.length > MAX_MEDIA_SECTIONS) {
    throw invalid(
      `has ${sections.length} media sections; at most ${MAX_MEDIA_SECTIONS} are taken (a publisher sends one stream: its audio and video)`,
    );
  }
  let audio = 0;
  let video = 0;
  const hasAttr = (section: string[], name: string) =>
    section.some((l) => l.startsWith(`a=${name}`)) || session.some((l) => l.startsWith(`a=${name}`));
  const sessionSetup = session.find((l) => l.startsWith('a=setup:'));
  for (const [index, section] of sections.entries()) {
    const match = /^m=(\w+) (\d+) (\S+)( .*)?$/.exec(section[0]!);
    if (match === null) throw invalid(`media section ${index + 1} has a malformed m= line`);
    const [, kind, port] = match;
    if (kind !== 'audio' && kind !== 'video' && kind !== 'application') {
      throw invalid(`media section ${index + 1} has unsupported media "${kind}"`);
    }
    // A bundled section may carry port 0 with a=bundle-only (RFC 8843); it is still in use.
    const rejected = port === '0' && !section.includes('a=bundle-only');
    if (rejected || kind === 'application') continue;
    if (!hasAttr(section, 'ice-ufrag') || !hasAttr(section, 'ice-pwd')) {
      throw invalid(`media section ${index + 1} (${kind}) has no ICE credentials (a=ice-ufrag / a=ice-pwd)`);
    }
    if (!hasAttr(section, 'fingerprint'))
      throw invalid(`media section ${index + 1} (${kind}) has no DTLS fingerprint`);
    const direction =
      section.find((l) => /^a=(sendrecv|sendonly|recvonly|inactive)$/.test(l))?.slice(2) ?? 'sendrecv';
    if (options.direction === 'send' && direction !== 'sendrecv' && direction !== 'sendonly') {
      throw invalid(`media section ${index + 1} (${kind}) is ${direction}; a publisher must send (sendonly)`);
    }
    if (options.direction === 'send') {
      // werift takes its DTLS role from a remote answer only: to an offer's a=setup:active it
      // answers active too, both ends wait for a ClientHello and the session times out
      // (RFC 9725 §4.4.4: refuse what cannot be done, 422).
      const setup = (section.find((l) => l.startsWith('a=setup:')) ?? sessionSetup)?.slice('a=setup:'.length);
      if (setup?.trim() === 'active') {
        throw unprocessable(
          `the offer's a=setup:active is not supported (media section ${index + 1}, ${kind}): offer actpass`,
        );
      }
    }
    if (kind === 'audio') audio++;
    if (kind === 'video') video++;
  }
  if (audio === 0 && video === 0) throw invalid('has no active audio or video section');
  if (options.direction === 'send' && (audio > 1 || video > 1)) {
    // A stream has one track of each kind: the others would be dropped without a word (RFC 9725 §4.4.2).
    const [count, kind] = audio > 1 ? [audio, 'audio'] : [video, 'video'];
    throw unprocessable(
      `the offer has ${count} active ${kind} sections; a WHIP publisher sends one stream: at most one audio and one video section`,
    );
  }
  return { audio: audio > 0, video: video > 0, sections: sections.length };
}

/**
 * Rewrites bundle-only media sections (port 0 with a=bundle-only, RFC 8843), as GStreamer and
 * other WHIP clients send them, into ordinary bundled sections: werift would otherwise take
 * port 0 as a rejected section and drop that track.
 */
export function acceptBundleOnly(sdp: string): string {
  const eol = sdp.includes('\r\n') ? '\r\n' : '\n';
  const sections = sdp.split(new RegExp(`${eol}(?=m=)`));
  return sections
    .map((section) => {
      const lines = section.split(eol);
      if (!lines[0]!.startsWith('m=') || !lines.includes('a=bundle-only')) return section;
      lines[0] = lines[0]!.replace(/^(m=\w+) 0 /, '$1 9 ');
      return lines.filter((l) => l !== 'a=bundle-only').join(eol);
    })
    .join(eol);
}

/** A media section taken out of an offer before the WebRTC stack sees it, declined in the answer. */
export interface DeclinedSection {
  /** Its place among the offer's media sections. */
  index: number;
  /** The offer's m= line, e.g. `m=application 9 UDP/DTLS/SCTP webrtc-datachannel`. */
  mLine: string;
  mid: string | null;
}

/** An SDP as its session part and its media sections (each from its m= line), and its line ending. */
function splitSections(sdp: string): { eol: string; session: string[]; sections: string[][] } {
  const eol = sdp.includes('\r\n') ? '\r\n' : '\n';
  const session: string[] = [];
  const sections: string[][] = [];
  const lines = sdp.split(eol);
  if (lines.at(-1) === '') lines.pop();
  for (const line of lines) {
    if (line.startsWith('m=')) sections.push([line]);
    else (sections.at(-1) ?? session).push(line);
  }
  return { eol, session, sections };
}

function joinSections(parts: { eol: string; session: string[]; sections: string[][] }): string {
  return [...parts.session, ...parts.sections.flat()].join(parts.eol) + parts.eol;
}

/**
 * Takes the data-channel sections (`m=application`) out of an offer, and their mids out of its
 * BUNDLE groups. The studio uses no data channel, and werift would otherwise run an SCTP
 * association for whoever offers one — a protocol stack no feature needs, fed by a guest (deny
 * by default). `answerDeclining` puts them back into the answer, rejected.
 */
export function declineDataChannels(offer: string): { sdp: string; declined: DeclinedSection[] } {
  const parts = splitSections(offer);
  const declined: DeclinedSection[] = [];
  const kept: string[][] = [];
  for (const [index, section] of parts.sections.entries()) {
    if (!section[0]!.startsWith('m=application ')) {
      kept.push(section);
      continue;
    }
    const mid =
      section
        .find((l) => l.startsWith('a=mid:'))
        ?.slice('a=mid:'.length)
        .trim() ?? null;
    declined.push({ index, mLine: section[0]!, mid });
  }
  if (declined.length === 0) return { sdp: offer, declined };
  const declinedMids = new Set(declined.flatMap((d) => (d.mid === null ? [] : [d.mid])));
  const session = parts.session.flatMap((line) => {
    if (!line.startsWith('a=group:BUNDLE')) return [line];
    const [semantics, ...mids] = line.slice('a=group:'.length).trim().split(/\s+/);
    const left = mids.filter((m) => !declinedMids.has(m));
    return left.length === 0 ? [] : [`a=group:${[semantics, ...left].join(' ')}`];
  });
  return { sdp: joinSections({ eol: parts.eol, session, sections: kept }), declined };
}

/**
 * The answer with each declined section back in its place, rejected (port 0, RFC 3264 §6; its mid
 * kept and out of any BUNDLE group, RFC 8843 §7.3.3), so the answer has the offer's sections one
 * for one.
 */
export function answerDeclining(answer: string, declined: readonly DeclinedSection[]): string {
  if (declined.length === 0) return answer;
  const parts = splitSections(answer);
  for (const section of [...declined].sort((a, b) => a.index - b.index)) {
    const [, , proto = 'UDP/DTLS/SCTP', ...formats] = section.mLine.split(/\s+/);
    const lines = [
      `m=application 0 ${proto} ${formats.join(' ') || 'webrtc-datachannel'}`,
      'c=IN IP4 0.0.0.0',
    ];
    if (section.mid !== null) lines.push(`a=mid:${section.mid}`);
    parts.sections.splice(Math.min(section.index, parts.sections.length), 0, lines);
  }
  return joinSections(parts);
}

/**
 * The video bitrate (kbit/s) a libwebrtc sender (Chrome, Edge, libwebrtc WHIP clients) starts at.
 * The studio gives it no bandwidth feedback of its own (no transport-cc, no REMB: werift sends
 * neither), so the sender's estimate grows from its 300 kbit/s default by its loss-based rule
 * alone: measured, a Chromium guest's 1280×720 camera was sent at 640×360 and below for its first
 * 28 s, all of it recorded so. A studio on the same machine or LAN has the bandwidth; a sender on
 * a weaker link backs off at its first losses, as it would from any start.
 */
export const START_BITRATE_KBPS = 2500;

/** Video payload formats that carry media (not retransmissions or protection). */
const MEDIA_VIDEO_CODECS = /^(VP8|VP9|H264|H265|AV1)$/i;

/**
 * The SDP with `x-google-start-bitrate` on each video codec's `a=fmtp` line (one added where a
 * codec has none): libwebrtc reads it from the remote description and starts its estimate there
 * (as mediasoup-client's `videoGoogleStartBitrate`). Other stacks ignore the parameter.
 */
export function withStartBitrate(sdp: string, kbps = START_BITRATE_KBPS): string {
  const parts = splitSections(sdp);
  for (const section of parts.sections) {
    if (!section[0]!.startsWith('m=video')) continue;
    for (let i = 0; i < section.length; i++) {
      const rtpmap = /^a=rtpmap:(\d+) ([^/\s]+)/.exec(section[i]!);
      if (rtpmap === null || !MEDIA_VIDEO_CODECS.test(rtpmap[2]!)) continue;
      const prefix = `a=fmtp:${rtpmap[1]} `;
      const at = section.findIndex((l) => l.startsWith(prefix));
      if (at < 0) section.splice(i + 1, 0, `${prefix}x-google-start-bitrate=${kbps}`);
      else if (!section[at]!.includes('x-google-start-bitrate='))
        section[at] = `${section[at]};x-google-start-bitrate=${kbps}`;
    }
  }
  return joinSections(parts);
}

/** The ICE ufrag of an SDP or a trickle fragment (session or first media level), if any. */
export const iceUfrag = (sdp: string): string | null => /^a=ice-ufrag:(\S+)/m.exec(sdp)?.[1] ?? null;
/** The ICE password of an SDP or a trickle fragment (session or first media level), if any. */
export const icePwd = (sdp: string): string | null => /^a=ice-pwd:(\S+)/m.exec(sdp)?.[1] ?? null;

/** The media kinds of an SDP's sections, in order (`audio`, `video`, `application`…). */
export function sectionKinds(sdp: string): string[] {
  return [...sdp.matchAll(/^m=(\S+)/gm)].map((m) => m[1]!);
}

/** RTP payload formats that repair or protect media rather than carry it: not named as codecs. */
const REPAIR_FORMATS = new Set(['rtx', 'red', 'ulpfec', 'flexfec-03', 'cn', 'telephone-event']);

/** The codec names of a media section's `a=rtpmap` lines (`VP8`, `opus`…), repair formats left out. */
function codecNames(section: readonly string[]): string[] {
  const names = section.flatMap((l) => {
    const name = /^a=rtpmap:\d+ ([^/\s]+)/.exec(l)?.[1];
    return name === undefined || REPAIR_FORMATS.has(name.toLowerCase()) ? [] : [name];
  });
  return [...new Set(names)];
}

/**
 * Refuses an answer that takes less than the offer's audio and video: a section the WebRTC stack
 * rejected (port 0) or made inactive because none of its codecs is supported. The publisher would
 * be told 201 and think it is live while that track is never received (RFC 9725 §4.4.3: a
 * partially successful answer is refused, 422). `offer` is what the stack was given (data-channel
 * sections already taken out); `supported` the codecs the studio takes, by kind (MIME types).
 */
export function checkAnswerTakesOffer(
  offer: string,
  answer: string,
  supported: { audio?: ReadonlyArray<{ mimeType: string }>; video?: ReadonlyArray<{ mimeType: string }> },
): void {
  const offered = splitSections(normalizeLineEndings(offer)).sections;
  const answered = splitSections(normalizeLineEndings(answer)).sections;
  const midOf = (section: readonly string[]) =>
    section
      .find((l) => l.startsWith('a=mid:'))
      ?.slice('a=mid:'.length)
      .trim();
  for (const [index, section] of offered.entries()) {
    const [, kind, port] = /^m=(\w+) (\d+)/.exec(section[0]!) ?? [];
    if (kind !== 'audio' && kind !== 'video') continue;
    // A section the offer itself rejected (port 0 without bundle-only) asks for nothing.
    if (port === '0' && !section.includes('a=bundle-only')) continue;
    const mid = midOf(section);
    const reply = (mid === undefined ? undefined : answered.find((s) => midOf(s) === mid)) ?? answered[index];
    const taken = reply !== undefined && !/^m=\w+ 0 /.test(reply[0]!) && !reply.includes('a=inactive');
    if (taken) continue;
    const names = [...new Set((supported[kind] ?? []).map((c) => c.mimeType.replace(/^\w+\//, '')))];
    throw unprocessable(
      `no ${kind} codec of the offer is supported (offered: ${codecNames(section).join(', ') || 'none'}); the studio takes ${names.join(', ')}`,
    );
  }
}
