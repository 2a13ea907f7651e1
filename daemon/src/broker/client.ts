/**
 * The daemon's and the CLI's MQTT connection: one owner of the mqtt.js client.
 * JSON in and out, topic-filter dispatch to handlers, Nagle off (else ~40 ms per message),
 * reconnects with backoff by itself, re-subscribes after a reconnect.
 */
import mqtt, { type MqttClient, type IClientOptions } from 'mqtt';
import { EventEmitter } from 'node:events';
import type { Logger } from '../lib/logger.js';

export type MessageHandler = (topic: string, payload: unknown, raw: Buffer) => void;

export interface BusOptions {
  url: string;
  token: string;
  clientId: string;
  username?: string;
  logger: Logger;
  keepaliveSeconds?: number;
  /** Retained last will, published by the broker when this client vanishes. */
  will?: { topic: string; payload: unknown; retain?: boolean };
  /** Reconnect delay in ms (default 1000). 0 = do not reconnect (CLI). */
  reconnectMs?: number;
  connectTimeoutMs?: number;
}

export interface PublishOptions {
  retain?: boolean;
  qos?: 0 | 1;
}

/** MQTT topic filter matching (+ one level, # the rest). */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

export class Bus extends EventEmitter {
  readonly client: MqttClient;
  #handlers = new Map<string, Set<MessageHandler>>();
  #log: Logger;

  constructor(readonly opts: BusOptions) {
    super();
    this.#log = opts.logger.child({ component: 'mqtt', url: opts.url });
    const options: IClientOptions = {
      clientId: opts.clientId,
      username: opts.username ?? opts.clientId,
      password: opts.token,
      protocolVersion: 4,
      keepalive: opts.keepaliveSeconds ?? 10,
      reconnectPeriod: opts.reconnectMs ?? 1000,
      connectTimeout: opts.connectTimeoutMs ?? 5000,
      clean: true,
      resubscribe: true,
      ...(opts.will ? { will: { topic: opts.will.topic, payload: Buffer.from(JSON.stringify(opts.will.payload)), qos: 1, retain: opts.will.retain ?? true } } : {}),
    };
    this.client = mqtt.connect(opts.url, options);
    this.client.on('connect', () => {
      const s = this.client.stream as unknown as { setNoDelay?: (v: boolean) => void };
      s.setNoDelay?.(true);
      this.#log.debug('connected');
      this.emit('connect');
    });
    this.client.on('close', () => this.emit('offline'));
    this.client.on('error', (err) => {
      this.#log.debug({ err: err.message }, 'MQTT error');
      this.emit('mqttError', err);
    });
    this.client.on('message', (topic, raw) => this.#dispatch(topic, raw));
  }

  get connected(): boolean {
    return this.client.connected;
  }

  /** Resolves once connected; rejects with the broker's reason (e.g. bad token) or on timeout. */
  waitConnected(timeoutMs = 5000): Promise<void> {
    if (this.client.connected) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { cleanup(); reject(new Error(`no connection to the MQTT broker at ${this.opts.url} within ${timeoutMs} ms: is the daemon running there?`)); }, timeoutMs);
      const onConnect = (): void => { cleanup(); resolve(); };
      const onError = (err: Error & { code?: number | string }): void => {
        if (err.code === 4 || err.code === 5 || /Not authorized|Bad username or password/i.test(err.message)) {
          cleanup();
          reject(new Error(`the MQTT broker at ${this.opts.url} refused the token (${err.message}): check --token-file or the client config`));
        } else if (this.opts.reconnectMs === 0 && typeof err.code === 'string') {
          // a client that does not reconnect (the CLI) fails at once: nothing listens there
          cleanup();
          reject(new Error(`cannot connect to the MQTT broker at ${this.opts.url} (${err.code}): is the daemon running there?`));
        }
      };
      const cleanup = (): void => { clearTimeout(timer); this.off('connect', onConnect); this.off('mqttError', onError); };
      this.on('connect', onConnect);
      this.on('mqttError', onError);
    });
  }

  publish(topic: string, payload: unknown, opts: PublishOptions = {}): Promise<void> {
    const body = payload === null ? '' : Buffer.isBuffer(payload) ? payload : JSON.stringify(payload);
    return new Promise((resolve, reject) => {
      this.client.publish(topic, body, { qos: opts.qos ?? 1, retain: opts.retain ?? false }, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** Clear a retained message. */
  clearRetained(topic: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.client.publish(topic, '', { qos: 1, retain: true }, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** Subscribe a handler; returns the unsubscribe function. Payloads are parsed JSON (undefined when empty or invalid). */
  subscribe(filter: string, handler: MessageHandler): () => void {
    let set = this.#handlers.get(filter);
    if (!set) {
      set = new Set();
      this.#handlers.set(filter, set);
      this.client.subscribe(filter, { qos: 1 }, (err) => {
        if (err) this.#log.error({ filter, err: err.message }, 'subscribe failed');
      });
    }
    set.add(handler);
    return () => {
      const s = this.#handlers.get(filter);
      if (!s) return;
      s.delete(handler);
      if (s.size === 0) {
        this.#handlers.delete(filter);
        if (this.client.connected) this.client.unsubscribe(filter);
      }
    };
  }

  /** Resolves when the subscription of filter is acknowledged by the broker. */
  subscribeAcked(filter: string, handler: MessageHandler): Promise<() => void> {
    return new Promise((resolve, reject) => {
      const set = this.#handlers.get(filter) ?? new Set<MessageHandler>();
      set.add(handler);
      this.#handlers.set(filter, set);
      this.client.subscribe(filter, { qos: 1 }, (err, granted) => {
        if (err) { reject(err); return; }
        if (granted?.some((g) => g.qos === 128)) { reject(new Error(`the broker refused the subscription to ${filter}`)); return; }
        resolve(() => {
          set.delete(handler);
          if (set.size === 0) {
            this.#handlers.delete(filter);
            if (this.client.connected) this.client.unsubscribe(filter);
          }
        });
      });
    });
  }

  #dispatch(topic: string, raw: Buffer): void {
    let payload: unknown;
    if (raw.length > 0) {
      try {
        payload = JSON.parse(raw.toString('utf8'));
      } catch {
        payload = undefined;
      }
    }
    for (const [filter, set] of this.#handlers) {
      if (!topicMatches(filter, topic)) continue;
      for (const h of set) {
        try {
          h(topic, payload, raw);
        } catch (err) {
          this.#log.error({ err, topic }, 'message handler failed');
        }
      }
    }
  }

  close(force = false): Promise<void> {
    return new Promise((resolve) => this.client.end(force, {}, () => resolve()));
  }
}
