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
import type { Bus } from '../broker/client.js';
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
  /** Every member's broker (client.yaml `servers`); only the leader's answers. */
  servers: string[];
  /** Every member's peer channel (client.yaml `peers`): asked why, when no broker answers. */
  peers: string[];
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

interface ClientFile { server?: string; servers?: string[]; peers?: string[]; token?: string; cluster?: string }

function readClientConfig(dir: string): ClientFile | undefined {
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
  const strings = (v: unknown): string[] | undefined => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : undefined);
  return {
    ...(typeof c.server === 'string' ? { server: c.server } : {}),
    ...(strings(c.servers) ? { servers: strings(c.servers) } : {}),
    ...(strings(c.peers) ? { peers: strings(c.peers) } : {}),
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
  let servers: string[] = [];
  let peers: string[] = [];
  const dirs = opts.stateDir ? [opts.stateDir] : env.PIFLEET_STATE_DIR ? [env.PIFLEET_STATE_DIR] : DEFAULT_STATE_DIRS;
  if (!server || !token || !cluster) {
    for (const d of dirs) {
      const c = readClientConfig(resolve(d));
      if (!c) continue;
      if (!server) servers = c.servers ?? [];
      peers = c.peers ?? [];
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
  const url = (u: string): string => (/^(mqtts?|wss?):\/\//.test(u) ? u : `mqtt://${u}`);
  server = url(server);
  return { server, servers: [...new Set([server, ...servers.map(url)])], peers, token, cluster: cluster ?? 'pifleet', source: source || 'flags' };
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

  /**
   * Connect to the fleet: every member's broker is tried at once and the first that accepts (the
   * leader: only it runs a broker) is used. When none does, the members' peer channels say why
   * (no quorum, who is reachable) in the error.
   */
  static async connect(conn: ResolvedConnection, timeoutMs = 5000): Promise<ApiClient> {
    // the MQTT client is loaded only to connect: verbs that need no fleet start faster
    const { Bus } = await import('../broker/client.js');
    const base = `cli-${randomBytes(6).toString('hex')}`;
    const candidates = conn.servers.length ? conn.servers : [conn.server];
    // one client id per candidate: two addresses of the same broker must not kick each other out
    const buses = candidates.map((url, k) => new Bus({ url, token: conn.token, clientId: k === 0 ? base : `${base}-${k}`, username: 'pifleet-cli', logger: silentLogger(), reconnectMs: 0, connectTimeoutMs: timeoutMs }));
    let bus: Bus;
    try {
      bus = await Promise.any(buses.map((b) => b.waitConnected(timeoutMs).then(() => b)));
    } catch (err) {
      await Promise.all(buses.map((b) => b.close(true)));
      const errors = (err as AggregateError).errors ?? [err];
      const refused = errors.find((e: Error) => /refused the token/.test(e.message));
      if (refused) throw new CliError(`${(refused as Error).message} (settings from ${conn.source})`);
      const why = conn.peers.length ? await explainNoLeader(conn) : undefined;
      if (why) throw new CliError(`${why} (settings from ${conn.source})`);
      throw new CliError(`${(errors[0] as Error).message} (settings from ${conn.source})`);
    }
    await Promise.all(buses.filter((b) => b !== bus).map((b) => b.close(true)));
    const client = new ApiClient(bus, { ...conn, server: bus.url }, bus.opts.clientId);
    await bus.subscribeAcked(client.topics.responseAll(client.clientId), (topic, payload) => client.#onResponse(topic, payload));
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

export interface PeerView { node: string; role?: string; term?: number; leader?: string; members?: number; readOnly?: string }

/** Ask every member on its peer channel who it is and whom it follows (no broker needed). */
export async function askMembers(conn: ResolvedConnection, timeoutMs = 1500): Promise<Array<{ peer: string; view?: PeerView; error?: string }>> {
  const { peerRequest } = await import('../cluster/peer-request.js');
  const self = `cli-${randomBytes(4).toString('hex')}`;
  return Promise.all(conn.peers.map(async (peer) => {
    const m = /^(.*):(\d+)$/.exec(peer);
    if (!m) return { peer, error: 'not host:port' };
    try {
      const view = await peerRequest({ host: m[1] as string, port: Number(m[2]) }, { cluster: conn.cluster, token: conn.token, self }, { op: 'hello' }, timeoutMs) as PeerView;
      return { peer, view };
    } catch (err) {
      return { peer, error: (err as Error).message };
    }
  }));
}

/** "no leader: no quorum: reachable members a (term 4, no leader); unreachable b, c" */
export async function explainNoLeader(conn: ResolvedConnection): Promise<string | undefined> {
  const answers = await askMembers(conn);
  const reachable = answers.filter((a) => a.view);
  if (reachable.length === 0) return `no member of the fleet answers (${conn.peers.join(', ')}): are the daemons running, and is this machine on their network?`;
  const leaders = [...new Set(reachable.map((a) => a.view?.leader).filter(Boolean))];
  const total = Math.max(...reachable.map((a) => a.view?.members ?? 0), conn.peers.length);
  const names = reachable.map((a) => `${a.view?.node} (${a.view?.role ?? '?'}, term ${a.view?.term ?? '?'}${a.view?.readOnly ? `, store read-only: ${a.view.readOnly}` : ''})`);
  const down = answers.filter((a) => !a.view).map((a) => a.peer);
  if (leaders.length) return `the leader ${leaders.join(', ')} does not answer on MQTT yet (an election just happened?): retry; reachable members ${names.join(', ')}`;
  return `no leader: no quorum: reachable members ${names.join(', ')}${down.length ? `; unreachable ${down.join(', ')}` : ''} (a majority is ${Math.floor(total / 2) + 1} of ${total}); writes are refused until a majority is back, pods keep running`;
}
