import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { StudioError } from '../../shared/errors';
import { loadOrCreateKey } from './keys';

/**
 * Encrypts credentials kept at rest. The headless core uses a SecretBox; the Electron entry
 * can pass one backed by `safeStorage` (`encryptString`/`decryptString` have this shape).
 */
export interface Encryptor {
  encrypt(plaintext: string): Buffer;
  decrypt(ciphertext: Buffer): string;
}

const VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * AES-256-GCM with a key file readable only by the user (`<data>/keys/credentials.key`).
 * Layout: version byte, 12-byte IV, 16-byte tag, ciphertext. The tag makes a damaged or
 * foreign blob fail loudly instead of decrypting to garbage.
 */
export class SecretBox implements Encryptor {
  readonly #key: Buffer;

  constructor(key: Uint8Array) {
    if (key.length !== 32) throw new Error('SecretBox needs a 32-byte key');
    this.#key = Buffer.from(key);
  }

  /** The box of a data folder, creating its key on first use. */
  static forDataDir(dataDir: string): SecretBox {
    return new SecretBox(loadOrCreateKey(dataDir, 'credentials'));
  }

  encrypt(plaintext: string): Buffer {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return Buffer.concat([Buffer.from([VERSION]), iv, cipher.getAuthTag(), body]);
  }

  decrypt(ciphertext: Buffer): string {
    if (ciphertext.length < 1 + IV_BYTES + TAG_BYTES || ciphertext[0] !== VERSION) {
      throw new StudioError('Internal', 'stored credentials are not in a format this studio reads');
    }
    const iv = ciphertext.subarray(1, 1 + IV_BYTES);
    const tag = ciphertext.subarray(1 + IV_BYTES, 1 + IV_BYTES + TAG_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', this.#key, iv);
    decipher.setAuthTag(tag);
    try {
      return Buffer.concat([
        decipher.update(ciphertext.subarray(1 + IV_BYTES + TAG_BYTES)),
        decipher.final(),
      ]).toString('utf8');
    } catch {
      throw new StudioError(
        'Internal',
        'stored credentials cannot be decrypted (the credentials key changed?); enter them again',
      );
    }
  }
}
