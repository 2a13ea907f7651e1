/**
 * Who may connect to the broker. Today one secret, the cluster token, admits nodes and
 * operators alike (password = token, any user name); anonymous clients are refused.
 * Roles and per-topic ACLs plug in here (canPublish/canSubscribe) without touching the broker.
 */
import { timingSafeEqual, createHash } from 'node:crypto';

export interface Identity {
  user: string;
  role: 'admin' | 'node';
}

export interface Authenticator {
  authenticate(username: string | undefined, password: Buffer | undefined): Identity | undefined;
  canPublish(who: Identity, topic: string): boolean;
  canSubscribe(who: Identity, topic: string): boolean;
}

function digest(b: Buffer | string): Buffer {
  return createHash('sha256').update(b).digest();
}

export function createTokenAuthenticator(token: string): Authenticator {
  const expected = digest(token);
  return {
    authenticate(username, password) {
      if (!password || password.length === 0) return undefined;
      if (!timingSafeEqual(digest(password), expected)) return undefined;
      return { user: username || 'anonymous-with-token', role: 'admin' };
    },
    canPublish: () => true,
    canSubscribe: () => true,
  };
}
