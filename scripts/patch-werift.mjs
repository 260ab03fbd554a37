// Changes to werift 0.25.2 that no runtime patch can reach, made in its files after each install
// (`postinstall`): two per-packet costs, three ways a forged DTLS record ended a session, and a
// DTLS buffer without bound. All are module-internal: werift's `Event` defines `execute` as an
// instance field (nothing on the prototype to replace), the receiver's statistics are a class
// werift does not export, and the DTLS record parser is a module function (the fragment buffer is
// a method, but patched where its siblings are). The rest of the faster packet path is put in place at
// run time (src/main/rooms/weriftPackets.ts, docs/threads.md "Per-packet cost"); the ICE checks
// too (src/main/rooms/iceGuard.ts).
//
//   node scripts/patch-werift.mjs           apply (idempotent)
//   node scripts/patch-werift.mjs --check   exit 1 unless every patch is in place
//
// A werift whose text differs (another version) fails the install with the patch named: the
// patch must then be looked at again, not skipped.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const MARK = '/* spool-studio */ ';

/**
 * Each patch: the files it changes and, in each, the exact text and what replaces it.
 * - `Event.execute` starts an async function and a `.catch` for its queued listeners on every
 *   call, even when there are none (four events per received packet: two promises each).
 * - The receiver's jitter statistics take the arrival time's integer part with `parseInt`,
 *   which formats the number as a string first (~2 % of a media worker's time).
 */
const PATCHES = [
  {
    name: 'Event.execute without a promise when no listener is queued',
    files: {
      'lib/index.mjs': [
        '    for (const item of this.event.stack) {\n      item.execute(...args);\n    }\n    (async () => {',
        `    for (const item of this.event.stack) {\n      item.execute(...args);\n    }\n    ${MARK}if (this.event.promiseStack.length === 0) return;\n    (async () => {`,
      ],
      'lib/common/src/event.js': [
        '                for (const item of this.event.stack) {\n                    item.execute(...args);\n                }\n                (async () => {',
        `                for (const item of this.event.stack) {\n                    item.execute(...args);\n                }\n                ${MARK}if (this.event.promiseStack.length === 0) return;\n                (async () => {`,
      ],
    },
  },
  {
    name: "the receiver statistics' arrival time without parseInt",
    files: {
      'lib/index.mjs': [
        'const arrival = int(now * this.clockRate);',
        `const arrival = ${MARK}Math.trunc(now * this.clockRate);`,
      ],
      'lib/webrtc/src/media/receiver/statistics.js': [
        'const arrival = (0, common_1.int)(now * this.clockRate);',
        `const arrival = ${MARK}Math.trunc(now * this.clockRate);`,
      ],
    },
  },
  {
    // RFC 6347 §4.1.2.7: invalid records are discarded. werift took an alert record in plaintext
    // whatever its epoch (an encrypted one only when its first two bytes did not already read as
    // a known alert), and closed the session on any alert: a forged 15-byte record ended it.
    name: 'DTLS alerts only in the clear before the handshake, authenticated after',
    files: {
      'lib/index.mjs': [
        '      let alert = Alert.deSerialize(plain.fragment);\n      if (AlertDesc[alert.description] == void 0) {\n        const dec = cipher.decryptPacket(plain);\n        alert = Alert.deSerialize(dec);\n      }',
        `      ${MARK}if (plain.recordLayerHeader.epoch === 0 && dtls.epoch > 0) return [];\n      const alert = Alert.deSerialize(plain.recordLayerHeader.epoch > 0 ? cipher.decryptPacket(plain) : plain.fragment);`,
      ],
      'lib/dtls/src/record/receive.js': [
        '            let alert = alert_1.Alert.deSerialize(plain.fragment);\n            // TODO impl more better about handle encrypted alert\n            if (const_1.AlertDesc[alert.description] == undefined) {\n                const dec = cipher.decryptPacket(plain);\n                alert = alert_1.Alert.deSerialize(dec);\n            }',
        `            ${MARK}if (plain.recordLayerHeader.epoch === 0 && dtls.epoch > 0) return [];\n            const alert = alert_1.Alert.deSerialize(plain.recordLayerHeader.epoch > 0 ? cipher.decryptPacket(plain) : plain.fragment);`,
      ],
    },
  },
  {
    // A record of a content type DTLS does not define was taken as an alert (the session closed).
    name: 'DTLS records of an unknown content type discarded',
    files: {
      'lib/index.mjs': [
        '    default: {\n      return [{ type: 21 /* alert */, data: void 0 }];\n    }',
        `    default: {\n      ${MARK}return [];\n    }`,
      ],
      'lib/dtls/src/record/receive.js': [
        '        default: {\n            return [{ type: const_1.ContentType.alert, data: undefined }];\n        }',
        `        default: {\n            ${MARK}return [];\n        }`,
      ],
    },
  },
  {
    // A ClientHello after the handshake made werift's DTLS server start over ("renegotiation":
    // new keys, epoch 0 again), so a replayed one reopened the way for plaintext alerts. WebRTC
    // never renegotiates DTLS (a new handshake comes with a new transport): ignore it.
    name: 'no DTLS renegotiation on a ClientHello after the handshake',
    files: {
      'lib/index.mjs': [
        '            if (this.connected) {\n              this.renegotiation();\n            }',
        `            if (this.connected) {\n              ${MARK}break;\n            }`,
      ],
      'lib/dtls/src/server.js': [
        '                                if (this.connected) {\n                                    this.renegotiation();\n                                }',
        `                                if (this.connected) {\n                                    ${MARK}break;\n                                }`,
      ],
    },
  },
  {
    // A handshake fragment that no last fragment completes stayed in the buffer for good: a peer
    // sending fragments grew its media thread's memory without bound. A real handshake message
    // comes in a few fragments; the newest 64 are kept.
    name: 'DTLS handshake fragments kept within a bound',
    files: {
      'lib/index.mjs': [
        '      if (v.fragment_length !== v.length) {\n        this.bufferFragmentedHandshakes.push(v);',
        `      if (v.fragment_length !== v.length) {\n        ${MARK}if (this.bufferFragmentedHandshakes.length >= 64) this.bufferFragmentedHandshakes.shift();\n        this.bufferFragmentedHandshakes.push(v);`,
      ],
      'lib/dtls/src/socket.js': [
        '            if (v.fragment_length !== v.length) {\n                this.bufferFragmentedHandshakes.push(v);',
        `            if (v.fragment_length !== v.length) {\n                ${MARK}if (this.bufferFragmentedHandshakes.length >= 64) this.bufferFragmentedHandshakes.shift();\n                this.bufferFragmentedHandshakes.push(v);`,
      ],
    },
  },
];

const check = process.argv.includes('--check');
const root = fileURLToPath(new URL('../node_modules/werift/', import.meta.url));
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const occurrences = (text, part) => text.split(part).length - 1;

let failed = false;
const texts = new Map();
const changed = new Set();
for (const patch of PATCHES) {
  for (const [file, [before, after]] of Object.entries(patch.files)) {
    const path = join(root, file);
    const text = texts.get(path) ?? readFileSync(path, 'utf8');
    if (occurrences(text, after) === 1) {
      texts.set(path, text);
      continue;
    }
    if (check || occurrences(text, before) !== 1) {
      console.error(
        `werift ${version}, ${file}: the patch "${patch.name}" ${check ? 'is not applied' : 'does not apply (its text is not there once)'}; see scripts/patch-werift.mjs`,
      );
      failed = true;
      continue;
    }
    texts.set(path, text.replace(before, after));
    changed.add(path);
  }
}
if (failed) process.exit(1);
for (const path of changed) writeFileSync(path, texts.get(path));
