/**
 * The CLI's connection to the fleet: an MQTT client that sends requests on
 * pifleet/<cluster>/api/<client>/request/<op> and reads responses (one, or a stream) on its
 * own response topics. Finds the local daemon's address and token by itself (the daemon writes
 * <stateDir>/client.yaml, 0600) unless --server/--token-file say otherwise.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { Bus } from '../broker/client.js';
import { topicsFor, type ApiErrorBody, type ApiResponse, type Topics } from '../broker/topics.js';
import { silentLogger } from '../lib/logger.js';

export interface ConnectionOptions {
  server?: string;
  tokenFile?: string;
  token?: string;
  cluster?: string;
  stateDir?: string;
  timeoutMs?: number;
}

export interface ResolvedConnection {
  server: string;
  token: string;
  cluster: string;
  /** Where the settings came from, for error messages. */
  source: string;
}

/** Default places a local daemon keeps its state: `npm start` (./.pifleet) and the systemd unit. */
export const DEFAULT_STATE_DIRS = ['.pifleet', '/var/lib/pifleet'];

export class CliError extends Error {
  constructor(message: string, readonly exitCode = 1, readonly reason?: string, readonly details?: string[]) {
    super(message);
    this.name = 'CliError';
  }
}

function readClientConfig(dir: string): { server?: string; token?: string; cluster?: string } | undefined {
  let text: string;
  try {
    text = readFileSync(join(dir, 'client.yaml'), 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EACCES') throw new CliError(`cannot read ${join(dir, 'client.yaml')}: permission denied (it is 0600: run as the daemon's user, e.g. with sudo)`);
    return undefined;
  }
  const c = parseYaml(text) as Record<string, unknown> | null;
  if (!c || typeof c !== 'object') return undefined;
  return {
    ...(typeof c.server === 'string' ? { server: c.server } : {}),
    ...(typeof c.token === 'string' ? { token: c.token } : {}),
    ...(typeof c.cluster === 'string' ? { cluster: c.cluster } : {}),
  };
}

export function resolveConnection(opts: ConnectionOptions, env: Record<string, string | undefined> = process.env): ResolvedConnection {
  let token = opts.token ?? env.PIFLEET_TOKEN;
  let source = opts.token ? 'flags' : env.PIFLEET_TOKEN ? 'PIFLEET_TOKEN' : '';
  const tokenFile = opts.tokenFile ?? env.PIFLEET_TOKEN_FILE;
  if (!token && tokenFile) {
    try {
      token = readFileSync(tokenFile, 'utf8').trim();
      source = tokenFile;
    } catch (err) {
      throw new CliError(`cannot read the token file ${tokenFile}: ${(err as Error).message}`);
    }
  }
  let server = opts.server ?? env.PIFLEET_SERVER;
  let cluster = opts.cluster ?? env.PIFLEET_CLUSTER;
  const dirs = opts.stateDir ? [opts.stateDir] : env.PIFLEET_STATE_DIR ? [env.PIFLEET_STATE_DIR] : DEFAULT_STATE_DIRS;
  if (!server || !token || !cluster) {
    for (const d of dirs) {
      const c = readClientConfig(resolve(d));
      if (!c) continue;
      server ??= c.server;
      token ??= c.token;
      cluster ??= c.cluster;
      source ||= join(resolve(d), 'client.yaml');
      break;
    }
  }
  if (!server || !token) {
    throw new CliError(`no pifleet daemon found: no client config in ${dirs.map((d) => join(d, 'client.yaml')).join(' or ')}.\n` +
      'Start one with `npm start` (or `pifleet daemon`), run this from the directory it runs in, or pass --server mqtt://HOST:PORT --token-file FILE.');
  }
  if (!/^(mqtts?|wss?):\/\//.test(server)) server = `mqtt://${server}`;
  return { server, token, cluster: cluster ?? 'pifleet', source: source || 'flags' };
}

export interface StreamHandle {
  done: Promise<void>;
  cancel(): Promise<void>;
}

export class ApiCallError extends CliError {
  constructor(readonly body: ApiErrorBody) {
    super(body.message, 1, body.reason, body.details);
  }
}

export class ApiClient {
  readonly clientId: string;
  readonly topics: Topics;
  #pending = new Map<string, { resolve: (d: unknown) => void; reject: (e: Error) => void; onData?: (d: unknown) => void; seq: number }>();

  private constructor(readonly bus: Bus, readonly conn: ResolvedConnection, clientId: string) {
    this.clientId = clientId;
    this.topics = topicsFor(conn.cluster);
  }

  static async connect(conn: ResolvedConnection, timeoutMs = 5000): Promise<ApiClient> {
    const clientId = `cli-${randomBytes(6).toString('hex')}`;
    const bus = new Bus({ url: conn.server, token: conn.token, clientId, username: 'pifleet-cli', logger: silentLogger(), reconnectMs: 0, connectTimeoutMs: timeoutMs });
    const client = new ApiClient(bus, conn, clientId);
    try {
      await bus.waitConnected(timeoutMs);
    } catch (err) {
      await bus.close(true);
      throw new CliError(`${(err as Error).message} (settings from ${conn.source})`);
    }
    await bus.subscribeAcked(client.topics.responseAll(clientId), (topic, payload) => client.#onResponse(topic, payload));
    // the CLI does not reconnect: a lost connection ends every request at once
    bus.on('offline', () => client.#lost());
    return client;
  }

  #lost(): void {
    for (const p of this.#pending.values()) {
      p.reject(new CliError(`lost the connection to ${this.conn.server} before the answer came (the request may or may not have taken effect)`));
    }
    this.#pending.clear();
  }

  #onResponse(_topic: string, payload: unknown): void {
    const res = payload as ApiResponse | undefined;
    if (!res || typeof res.id !== 'string') return;
    const p = this.#pending.get(res.id);
    if (!p) return;
    if (res.status === 'error') {
      this.#pending.delete(res.id);
      p.reject(new ApiCallError(res.error ?? { reason: 'Unknown', message: 'unknown error' }));
      return;
    }
    if (res.more) {
      p.onData?.(res.data);
      return;
    }
    this.#pending.delete(res.id);
    if (p.onData && res.data !== undefined) p.onData(res.data);
    p.resolve(res.data);
  }

  #send(op: string, params: Record<string, unknown>, onData?: (d: unknown) => void): { id: string; result: Promise<unknown> } {
    const id = randomBytes(8).toString('hex');
    const result = new Promise<unknown>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, ...(onData ? { onData } : {}), seq: 0 });
    });
    this.bus.publish(this.topics.request(this.clientId, op), { ...params, id }).catch((err: Error) => {
      const p = this.#pending.get(id);
      this.#pending.delete(id);
      p?.reject(new CliError(`cannot send the request: ${err.message}`));
    });
    return { id, result };
  }

  /** One request, one response. */
  async request<T = unknown>(op: string, params: Record<string, unknown> = {}, timeoutMs = 30_000): Promise<T> {
    const { id, result } = this.#send(op, params);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new CliError(`no answer to ${op} within ${Math.round(timeoutMs / 1000)} s from ${this.conn.server}: is the leader busy or gone?`));
      }, timeoutMs);
    });
    try {
      return (await Promise.race([result, timeout])) as T;
    } finally {
      clearTimeout(timer);
    }
  }

  /** A stream of responses (watch, logs -f, logs); onData gets each chunk. */
  stream(op: string, params: Record<string, unknown>, onData: (d: unknown) => void): StreamHandle {
    const { id, result } = this.#send(op, params, onData);
    return {
      done: result.then(() => undefined),
      cancel: async () => {
        this.#pending.delete(id);
        await this.request('cancel', { target: id }, 5000).catch(() => undefined);
      },
    };
  }

  async close(): Promise<void> {
    for (const p of this.#pending.values()) p.reject(new CliError('connection closed'));
    this.#pending.clear();
    await this.bus.close(true);
  }
}
