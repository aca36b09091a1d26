/**
 * mysql_native_password, both ways: the DAL checks its clients' scrambled passwords and logs in to
 * its backends with its own. SHA1 from node:crypto (mysql2 does not export its auth helpers).
 *   token = SHA1(password) XOR SHA1(scramble + SHA1(SHA1(password)))
 */
import { createHash, randomBytes } from 'node:crypto';

const sha1 = (...parts: Buffer[]): Buffer => {
  const h = createHash('sha1');
  for (const p of parts) h.update(p);
  return h.digest();
};

/** 20 printable-ish random bytes (no NUL, which would end the greeting's NUL-terminated part). */
export function newScramble(): Buffer {
  const b = randomBytes(20);
  for (let i = 0; i < b.length; i++) b[i] = (b[i] % 94) + 33;
  return b;
}

/** What the server stores: SHA1(SHA1(password)). */
export const passwordHash = (password: string): Buffer => sha1(sha1(Buffer.from(password, 'utf8')));

/** The client's answer to `scramble` for `password` (empty password: empty answer). */
export function nativeToken(password: string, scramble: Buffer): Buffer {
  if (password === '') return Buffer.alloc(0);
  const stage1 = sha1(Buffer.from(password, 'utf8'));
  const mix = sha1(scramble.subarray(0, 20), sha1(stage1));
  const out = Buffer.allocUnsafe(20);
  for (let i = 0; i < 20; i++) out[i] = stage1[i] ^ mix[i];
  return out;
}

/** Does `token` prove the password whose SHA1(SHA1()) is `hash`? (constant time over the 20 bytes) */
export function verifyNativeToken(token: Buffer, scramble: Buffer, hash: Buffer): boolean {
  if (token.length === 0) return hash.equals(passwordHash(''));
  if (token.length !== 20) return false;
  const mix = sha1(scramble.subarray(0, 20), hash);
  const stage1 = Buffer.allocUnsafe(20);
  for (let i = 0; i < 20; i++) stage1[i] = token[i] ^ mix[i];
  const got = sha1(stage1);
  let diff = 0;
  for (let i = 0; i < 20; i++) diff |= got[i] ^ hash[i];
  return diff === 0;
}
