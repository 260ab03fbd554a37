import { randomBytes } from 'node:crypto';
import { ProtectionProfileAeadAes128Gcm, SrtpSession } from 'werift';

/**
 * werift SRTP sessions of one random key set: a sender, and a maker of receivers (each new, so
 * its rollover state starts again); one side's local keys are the other's remote keys.
 */
export function srtpPair(profile: number): { sender: SrtpSession; receiver: () => SrtpSession } {
  const saltLength = profile === ProtectionProfileAeadAes128Gcm ? 12 : 14;
  const a = { key: randomBytes(16), salt: randomBytes(saltLength) };
  const b = { key: randomBytes(16), salt: randomBytes(saltLength) };
  const session = (local: typeof a, remote: typeof a) =>
    new SrtpSession({
      keys: {
        localMasterKey: local.key,
        localMasterSalt: local.salt,
        remoteMasterKey: remote.key,
        remoteMasterSalt: remote.salt,
      },
      profile,
    });
  return { sender: session(a, b), receiver: () => session(b, a) };
}
