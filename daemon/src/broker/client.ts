/**
 * The daemon's and the CLI's MQTT connection: one owner of the mqtt.js client.
 * JSON in and out, topic-filter dispatch to handlers, Nagle off (else ~40 ms per message).
 * The broker lives in whichever member leads, so the address can change (setUrl): the Bus then
 * drops its connection and connects to the new one. It reconnects by itself with jittered
 * exponential backoff (mqtt.js only knows a fixed period, which makes every node of a fleet
 * reconnect in lockstep) and subscribes its filters again on every connect.
 */
import mqtt, { type MqttClient, type IClientOptions } from 'mqtt';
import { EventEmitter } from 'node:events';
import type { Logger } from '../lib/logger.js';
import { backoffDelay, jittered } from '../lib/backoff.js';
import type { TimerHandle } from '../lib/clock.js';

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
  /** First reconnect delay in ms (default 200), doubling up to reconnectMaxMs with +-50 % jitter. 0 = do not reconnect (CLI). */
  reconnectMs?: number;
  /** Longest reconnect delay (default 5000). */
  reconnectMaxMs?: number;
  connectTimeoutMs?: number;
  /** Jitter source (default Math.random). */
  random?: () => number;
  /** Timers (default the global ones, unref'ed). */
  setTimeout?: (fn: () => void, ms: number) => TimerHandle;
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
  #client!: MqttClient;
  #url: string;
  #handlers = new Map<string, Set<MessageHandler>>();
  #log: Logger;
  #attempt = 0;
  #retry: TimerHandle | undefined;
  #closed = false;

  constructor(readonly opts: BusOptions) {
    super();
    this.#url = opts.url;
    this.#log = opts.logger.child({ component: 'mqtt' });
    this.#connect();
  }

  get client(): MqttClient {
    return this.#client;
  }

  get url(): string {
    return this.#url;
  }

  #connect(): void {
    const opts = this.opts;
    const options: IClientOptions = {
      clientId: opts.clientId,
      username: opts.username ?? opts.clientId,
      password: opts.token,
      protocolVersion: 4,
      keepalive: opts.keepaliveSeconds ?? 10,
      reconnectPeriod: 0, // ours, with jitter: #scheduleReconnect
      connectTimeout: opts.connectTimeoutMs ?? 5000,
      clean: true,
      ...(opts.will ? { will: { topic: opts.will.topic, payload: Buffer.from(JSON.stringify(opts.will.payload)), qos: 1, retain: opts.will.retain ?? true } } : {}),
    };
    const client = mqtt.connect(this.#url, options);
    this.#client = client;
    client.on('connect', () => {
      if (client !== this.#client) return;
      const s = client.stream as unknown as { setNoDelay?: (v: boolean) => void };
      s.setNoDelay?.(true);
      this.#attempt = 0;
      for (const filter of this.#handlers.keys()) {
        client.subscribe(filter, { qos: 1 }, (err) => {
          if (err && client.connected) this.#log.error({ filter, err: err.message }, 'subscribe failed');
        });
      }
      this.#log.debug({ url: this.#url }, 'connected');
      this.emit('connect');
    });
    client.on('close', () => {
      if (client !== this.#client) return;
      this.emit('offline');
      this.#scheduleReconnect();
    });
    client.on('error', (err) => {
      if (client !== this.#client) return;
      this.#log.debug({ err: err.message, url: this.#url }, 'MQTT error');
      this.emit('mqttError', err);
    });
    client.on('message', (topic, raw) => {
      if (client === this.#client) this.#dispatch(topic, raw);
    });
  }

  #scheduleReconnect(): void {
    if (this.#closed || this.opts.reconnectMs === 0 || this.#retry) return;
    this.#attempt++;
    const base = backoffDelay(this.#attempt, this.opts.reconnectMs ?? 200, this.opts.reconnectMaxMs ?? 5000);
    const delay = jittered(base, 0.5, this.opts.random ?? Math.random);
    const fire = (): void => {
      this.#retry = undefined;
      if (this.#closed || this.#client.connected) return;
      this.#client.reconnect();
    };
    if (this.opts.setTimeout) this.#retry = this.opts.setTimeout(fire, delay);
    else {
      const t = setTimeout(fire, delay);
      t.unref();
      this.#retry = { cancel: () => clearTimeout(t) };
    }
  }

  /** Follow the broker to another address (the new leader): reconnect there at once. */
  setUrl(url: string): void {
    if (url === this.#url || this.#closed) return;
    this.#log.info({ from: this.#url, to: url }, 'following the broker to the new leader');
    this.#url = url;
    this.#retry?.cancel();
    this.#retry = undefined;
    this.#attempt = 0;
    const old = this.#client;
    old.removeAllListeners('message');
    old.end(true);
    this.#connect();
  }

  get connected(): boolean {
    return this.#client.connected;
  }

  /** Resolves once connected; rejects with the broker's reason (e.g. bad token) or on timeout. */
  waitConnected(timeoutMs = 5000): Promise<void> {
    if (this.#client.connected) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { cleanup(); reject(new Error(`no connection to the MQTT broker at ${this.#url} within ${timeoutMs} ms: is the daemon running there?`)); }, timeoutMs);
      const onConnect = (): void => { cleanup(); resolve(); };
      const onError = (err: Error & { code?: number | string }): void => {
        if (err.code === 4 || err.code === 5 || /Not authorized|Bad username or password/i.test(err.message)) {
          cleanup();
          reject(new Error(`the MQTT broker at ${this.#url} refused the token (${err.message}): check --token-file or the client config`));
        } else if (this.opts.reconnectMs === 0 && typeof err.code === 'string') {
          // a client that does not reconnect (the CLI) fails at once: nothing listens there
          cleanup();
          reject(new Error(`cannot connect to the MQTT broker at ${this.#url} (${err.code}): is the daemon running there?`));
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
      this.#client.publish(topic, body, { qos: opts.qos ?? 1, retain: opts.retain ?? false }, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** Clear a retained message. */
  clearRetained(topic: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#client.publish(topic, '', { qos: 1, retain: true }, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** Subscribe a handler; returns the unsubscribe function. Payloads are parsed JSON (undefined when empty or invalid). */
  subscribe(filter: string, handler: MessageHandler): () => void {
    let set = this.#handlers.get(filter);
    if (!set) {
      set = new Set();
      this.#handlers.set(filter, set);
      // while disconnected, the next connect subscribes every filter
      if (this.#client.connected) {
        this.#client.subscribe(filter, { qos: 1 }, (err) => {
          if (err && this.#client.connected) this.#log.error({ filter, err: err.message }, 'subscribe failed');
        });
      }
    }
    set.add(handler);
    return () => {
      const s = this.#handlers.get(filter);
      if (!s) return;
      s.delete(handler);
      if (s.size === 0) {
        this.#handlers.delete(filter);
        if (this.#client.connected) this.#client.unsubscribe(filter);
      }
    };
  }

  /** Resolves when the subscription of filter is acknowledged by the broker. */
  subscribeAcked(filter: string, handler: MessageHandler): Promise<() => void> {
    return new Promise((resolve, reject) => {
      const set = this.#handlers.get(filter) ?? new Set<MessageHandler>();
      set.add(handler);
      this.#handlers.set(filter, set);
      this.#client.subscribe(filter, { qos: 1 }, (err, granted) => {
        if (err) { reject(err); return; }
        if (granted?.some((g) => g.qos === 128)) { reject(new Error(`the broker refused the subscription to ${filter}`)); return; }
        resolve(() => {
          set.delete(handler);
          if (set.size === 0) {
            this.#handlers.delete(filter);
            if (this.#client.connected) this.#client.unsubscribe(filter);
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
    this.#closed = true;
    this.#retry?.cancel();
    this.#retry = undefined;
    return new Promise((resolve) => this.#client.end(force, {}, () => resolve()));
  }
}
