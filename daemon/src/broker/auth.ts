/**
 * Who may connect to the broker. Today one secret, the cluster token, admits nodes and
 * operators alike (password = token, any user name, which MQTT 3.1.1 requires with a password);
 * anonymous clients are refused.
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

/** MQTT 3.1.1 CONNACK return codes a login can be refused with. */
export const CONNACK_BAD_USER_NAME_OR_PASSWORD = 4;
export const CONNACK_NOT_AUTHORIZED = 5;

export type ConnectVerdict =
  | { ok: true; identity: Identity }
  | { ok: false; returnCode: typeof CONNACK_BAD_USER_NAME_OR_PASSWORD | typeof CONNACK_NOT_AUTHORIZED; reason: string };

/**
 * The broker's login rule on top of an Authenticator. `username` is undefined when the CONNECT
 * has no user-name flag (an empty user name is ''), `password` likewise.
 * - A password without the user-name flag breaks MQTT 3.1.1 §3.1.2.9 [MQTT-3.1.2-22]: return
 *   code 4, "bad user name or password" (in 3.1.1: the user name or password data is malformed).
 * - A missing or wrong token: return code 5, "not authorized" (MQTT 5 would say 0x87).
 */
export function checkConnect(auth: Authenticator, username: string | undefined, password: Buffer | undefined): ConnectVerdict {
  if (username === undefined && password !== undefined) {
    return { ok: false, returnCode: CONNACK_BAD_USER_NAME_OR_PASSWORD, reason: 'password without the user-name flag (MQTT 3.1.1 §3.1.2.9)' };
  }
  const identity = auth.authenticate(username, password);
  if (!identity) {
    return { ok: false, returnCode: CONNACK_NOT_AUTHORIZED, reason: password && password.length > 0 ? 'wrong token' : 'no token' };
  }
  return { ok: true, identity };
}
