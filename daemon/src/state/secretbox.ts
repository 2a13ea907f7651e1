/**
 * Encryption at rest for Secret data: AES-256-GCM with a key derived (HKDF-SHA256)
 * from the cluster token. The store hands every Secret through this codec before a byte
 * reaches the disk; nothing else in the daemon ever sees ciphertext.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

const VERSION = 'v1';

export interface SecretBox {
  seal(plaintext: string): string;
  /** Throws with a message a person can act on when the key does not fit. */
  open(sealed: string): string;
}

export function createSecretBox(token: string, random: (n: number) => Buffer = randomBytes): SecretBox {
  const key = Buffer.from(hkdfSync('sha256', Buffer.from(token, 'utf8'), Buffer.from('pifleet'), Buffer.from('secrets-at-rest'), 32));
  return {
    seal(plaintext) {
      const iv = random(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      const tag = cipher.getAuthTag();
      return `${VERSION}.${iv.toString('base64')}.${Buffer.concat([ct, tag]).toString('base64')}`;
    },
    open(sealed) {
      const [version, ivB64, body] = sealed.split('.');
      if (version !== VERSION || !ivB64 || body === undefined) {
        throw new Error(`unsupported encrypted value (expected ${VERSION}.<iv>.<data>)`);
      }
      const iv = Buffer.from(ivB64, 'base64');
      const buf = Buffer.from(body, 'base64');
      const decipher = createDecipheriv('aes-256-gcm', key, iv);
      decipher.setAuthTag(buf.subarray(buf.length - 16));
      try {
        return Buffer.concat([decipher.update(buf.subarray(0, buf.length - 16)), decipher.final()]).toString('utf8');
      } catch {
        throw new Error('cannot decrypt: the data was encrypted with another cluster token (was the token changed?)');
      }
    },
  };
}
