/**
 * Test-only verifier maker (PostgreSQL's stored formats), used until
 * governance/auth/verifiers.ts is on main. Independent of scram.ts on purpose.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';

export function scramVerifierFor(password: string, iterations = 4096): string {
  const salt = randomBytes(16);
  const salted = pbkdf2Sync(password, salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

export function md5VerifierFor(user: string, password: string): string {
  return 'md5' + createHash('md5').update(password + user).digest('hex');
}
