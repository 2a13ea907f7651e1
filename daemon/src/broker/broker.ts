/**
 * The embedded MQTT broker (aedes) of the leader: plain TCP and MQTT over WebSocket,
 * token authentication, no anonymous access. In-memory persistence only: retained
 * messages are actual state that nodes republish, so nothing is written to the SD card.
 *
 * Limits before anything is buffered (limits.ts), the same on both ports: every connection goes
 * through a PacketLimitStream that closes it as soon as a fixed header announces a packet over
 * the limit (maxConnectPacketBytes until the client has logged in, then maxPacketBytes); a
 * connection must be logged in within connectTimeoutSeconds of its TCP accept; at most
 * maxPendingConnectionsPerAddress connections per remote address may be not logged in yet. Each
 * closed or refused connection is logged once at warn with its address (at most a few lines per
 * address and minute), user-controlled strings cut to a fixed length.
 */
import { createServer, type Server, type AddressInfo, type Socket } from 'node:net';
import { createServer as createHttpServer, type Server as HttpServer, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { Aedes, type AuthenticateError, type Client } from 'aedes';
import { WebSocketServer, createWebSocketStream } from 'ws';
import type { Logger } from '../lib/logger.js';
import { clip } from '../lib/clip.js';
import { checkConnect, type Authenticator, type Identity } from './auth.js';
import {
  DEFAULT_BROKER_LIMITS, MQTT_MAX_PACKET_BYTES, PacketLimitError, PacketLimitStream, PendingConnections,
  PerKeyRateLimiter, normalizeAddress, type BrokerLimits, type HeaderViolation,
} from './limits.js';

export type { BrokerLimits } from './limits.js';

export interface BrokerOptions {
  host: string;
  port: number;
  /** 0 = no WebSocket listener. */
  wsPort: number;
  auth: Authenticator;
  logger: Logger;
  /** Defaults: DEFAULT_BROKER_LIMITS. Extra keys are ignored, so the `mqtt` config section can be passed as it is. */
  limits?: Partial<BrokerLimits>;
}

/**
 * Before login, a WebSocket client's frames are counted on the raw socket: `ws` assembles a whole
 * message (up to maxPacketBytes) before the packet stage sees its first byte, so a
 * not-logged-in WebSocket connection may receive at most maxConnectPacketBytes plus this much
 * for WebSocket framing.
 */
export const WS_FRAMING_ALLOWANCE = 4096;

/** Warn lines about refused or closed connections: at most this many per address and minute. */
const WARN_BURST = 5;
const WARN_WINDOW_MS = 60_000;

const identities = new WeakMap<object, Identity>();

const CONNECT_TIMEOUT_MESSAGE = 'connect did not arrive in time';

/** Resolve and check limits; throws on a value the broker cannot work with. */
export function resolveLimits(given: Partial<BrokerLimits> = {}): BrokerLimits {
  const pick = <K extends keyof BrokerLimits>(k: K): number => given[k] ?? DEFAULT_BROKER_LIMITS[k];
  const limits: BrokerLimits = {
    maxPacketBytes: pick('maxPacketBytes'),
    maxConnectPacketBytes: pick('maxConnectPacketBytes'),
    connectTimeoutSeconds: pick('connectTimeoutSeconds'),
    maxPendingConnectionsPerAddress: pick('maxPendingConnectionsPerAddress'),
  };
  const bad = (k: keyof BrokerLimits, why: string): never => { throw new Error(`MQTT broker limit ${k}=${limits[k]}: ${why}`); };
  if (!Number.isInteger(limits.maxPacketBytes) || limits.maxPacketBytes < 2 || limits.maxPacketBytes > MQTT_MAX_PACKET_BYTES) bad('maxPacketBytes', `must be an integer from 2 to ${MQTT_MAX_PACKET_BYTES}`);
  if (!Number.isInteger(limits.maxConnectPacketBytes) || limits.maxConnectPacketBytes < 2 || limits.maxConnectPacketBytes > limits.maxPacketBytes) bad('maxConnectPacketBytes', 'must be an integer from 2 to maxPacketBytes');
  if (!(limits.connectTimeoutSeconds > 0) || !Number.isFinite(limits.connectTimeoutSeconds)) bad('connectTimeoutSeconds', 'must be a positive number');
  if (!Number.isInteger(limits.maxPendingConnectionsPerAddress) || limits.maxPendingConnectionsPerAddress < 1) bad('maxPendingConnectionsPerAddress', 'must be a positive integer');
  return limits;
}

type Transport = 'tcp' | 'ws';

/** The limits of one connection from TCP accept until it closes. */
class Guard {
  loggedIn = false;
  stage: PacketLimitStream | undefined;
  user: string | undefined;
  client: Client | undefined;
  private reported = false;
  private readonly timer: NodeJS.Timeout;
  private readonly onLogin: Array<() => void> = [];

  constructor(
    private readonly broker: GuardHost,
    readonly raw: Socket,
    readonly address: string,
    readonly transport: Transport,
    private readonly release: () => void,
  ) {
    const seconds = broker.limits.connectTimeoutSeconds;
    this.timer = setTimeout(() => this.close('MQTT connection closed: not logged in in time', { timeoutSeconds: seconds }), seconds * 1000);
    this.timer.unref();
    raw.once('close', () => {
      clearTimeout(this.timer);
      this.release();
      broker.guards.delete(this);
    });
  }

  /** Log the reason this connection is refused or closed, once per connection. */
  report(msg: string, fields: Record<string, unknown> = {}): void {
    if (this.reported) return;
    this.reported = true;
    this.broker.warn(this.address, {
      transport: this.transport,
      ...(this.client?.id ? { client: clip(this.client.id) } : {}),
      ...(this.user !== undefined ? { user: clip(this.user) } : {}),
      ...fields,
    }, msg);
  }

  close(msg: string, fields: Record<string, unknown> = {}): void {
    this.report(msg, fields);
    this.stage?.destroy();
    this.raw.destroy();
  }

  violation(v: HeaderViolation): void {
    const phase = this.loggedIn ? {} : { loggedIn: false };
    if (v.kind === 'too-large') this.report(`MQTT connection closed: ${v.type} packet over the size limit`, { packet: v.type, packetBytes: v.packetBytes, limit: v.limit, ...phase });
    else this.report(`MQTT connection closed: ${v.type} packet with a malformed length`, { packet: v.type, ...phase });
    this.raw.destroy();
  }

  whenLoggedIn(fn: () => void): void {
    this.onLogin.push(fn);
  }

  login(): void {
    if (this.loggedIn) return;
    this.loggedIn = true;
    clearTimeout(this.timer);
    this.release();
    if (this.stage) this.stage.limit = this.broker.limits.maxPacketBytes;
    for (const fn of this.onLogin.splice(0)) fn();
  }
}

interface GuardHost {
  readonly limits: BrokerLimits;
  readonly guards: Set<Guard>;
  warn(address: string, fields: Record<string, unknown>, msg: string): void;
}

export class EmbeddedBroker {
  private constructor(
    readonly aedes: Aedes,
    private readonly tcp: Server,
    private readonly http: HttpServer | undefined,
    private readonly wss: WebSocketServer | undefined,
    private readonly logger: Logger,
    readonly limits: BrokerLimits,
    private readonly host: GuardHost,
  ) {}

  static async start(opts: BrokerOptions): Promise<EmbeddedBroker> {
    const log = opts.logger.child({ component: 'broker' });
    const limits = resolveLimits(opts.limits);
    const pending = new PendingConnections(limits.maxPendingConnectionsPerAddress);
    const warnLimiter = new PerKeyRateLimiter({ burst: WARN_BURST, windowMs: WARN_WINDOW_MS, maxKeys: 1024 });
    const host: GuardHost = {
      limits,
      guards: new Set(),
      warn(address, fields, msg) {
        const ok = warnLimiter.take(address);
        if (!ok) return;
        log.warn({ address, ...fields, ...(ok.dropped ? { suppressed: ok.dropped } : {}) }, msg);
      },
    };
    const clientGuards = new WeakMap<Client, Guard>();

    /** A Guard for a new TCP connection, or undefined when its address has too many pending ones (then it is closed). */
    const admit = (raw: Socket, transport: Transport): Guard | undefined => {
      raw.on('error', () => undefined); // errors end the connection; the stage and aedes see them too
      const address = normalizeAddress(raw.remoteAddress);
      const release = pending.acquire(address);
      if (!release) {
        host.warn(address, { transport, limit: limits.maxPendingConnectionsPerAddress }, 'MQTT connection refused: too many connections from this address not logged in yet');
        raw.destroy();
        return undefined;
      }
      const guard = new Guard(host, raw, address, transport, release);
      host.guards.add(guard);
      return guard;
    };

    const attach = (guard: Guard, inner: Duplex, req?: IncomingMessage): void => {
      const stage = new PacketLimitStream(inner, limits.maxConnectPacketBytes, (v) => guard.violation(v));
      guard.stage = stage;
      const client = req ? aedes.handle(stage, req) : aedes.handle(stage);
      guard.client = client;
      clientGuards.set(client, guard);
    };

    const aedes = await Aedes.createBroker({
      id: 'pifleet',
      heartbeatInterval: 60_000,
      connectTimeout: limits.connectTimeoutSeconds * 1000,
      authenticate(client, username, password, done) {
        const guard = clientGuards.get(client);
        const verdict = checkConnect(opts.auth, username, password);
        if (!verdict.ok) {
          if (guard) {
            guard.user = username;
            guard.report(`MQTT client refused: ${verdict.reason}`, { returnCode: verdict.returnCode });
          }
          const err = new Error(verdict.returnCode === 5 ? 'not authorized' : 'bad user name or password') as AuthenticateError;
          err.returnCode = verdict.returnCode;
          done(err, false);
          return;
        }
        identities.set(client, verdict.identity);
        if (guard) {
          guard.user = username;
          guard.login();
        }
        done(null, true);
      },
      authorizePublish(client, packet, done) {
        if (!client) { done(null); return; }
        const who = identities.get(client);
        if (!who || !opts.auth.canPublish(who, packet.topic)) { done(new Error(`not allowed to publish to ${clip(packet.topic)}`)); return; }
        done(null);
      },
      authorizeSubscribe(client, sub, done) {
        const who = identities.get(client);
        if (!who || !opts.auth.canSubscribe(who, sub.topic)) { done(new Error(`not allowed to subscribe to ${clip(sub.topic)}`)); return; }
        done(null, sub);
      },
    });
    const onAedesError = (what: string) => (client: Client | undefined, err: Error): void => {
      if (err instanceof PacketLimitError) return; // reported by the guard
      const guard = client ? clientGuards.get(client) : undefined;
      if (guard && !guard.loggedIn && err.message === CONNECT_TIMEOUT_MESSAGE) {
        guard.close('MQTT connection closed: not logged in in time', { timeoutSeconds: limits.connectTimeoutSeconds });
        return;
      }
      log.debug({ client: clip(client?.id), address: guard?.address, err: clip(err.message, 200) }, what);
    };
    aedes.on('clientError', onAedesError('client error'));
    aedes.on('connectionError', onAedesError('connection error'));

    const tcp = createServer({ noDelay: true }, (socket) => {
      socket.setNoDelay(true);
      const guard = admit(socket, 'tcp');
      if (guard) attach(guard, socket);
    });
    try {
      await listen(tcp, opts.port, opts.host, 'MQTT');
    } catch (err) {
      await new Promise<void>((r) => aedes.close(() => r()));
      throw err;
    }
    let http: HttpServer | undefined;
    let wss: WebSocketServer | undefined;
    if (opts.wsPort > 0) {
      const wsGuards = new WeakMap<Socket, Guard>();
      http = createHttpServer((_req, res) => {
        res.writeHead(426, { 'content-type': 'text/plain', connection: 'close' });
        res.end('MQTT over WebSocket only\n');
      });
      http.on('connection', (raw: Socket) => {
        const guard = admit(raw, 'ws');
        if (guard) wsGuards.set(raw, guard);
      });
      wss = new WebSocketServer({ server: http, maxPayload: limits.maxPacketBytes });
      wss.on('connection', (ws, req) => {
        const guard = wsGuards.get(req.socket);
        if (!guard || req.socket.destroyed) { ws.terminate(); return; }
        // ws buffers whole messages: bound what a client may send before login on the raw socket.
        const budget = limits.maxConnectPacketBytes + WS_FRAMING_ALLOWANCE;
        let received = 0;
        const count = (chunk: Buffer): void => {
          received += chunk.length;
          if (received > budget && !guard.loggedIn) {
            guard.close('MQTT connection closed: too much data before login', { receivedBytes: received, limit: budget });
          }
        };
        req.socket.on('data', count);
        guard.whenLoggedIn(() => req.socket.off('data', count));
        const stream = createWebSocketStream(ws);
        stream.on('error', () => undefined);
        attach(guard, stream, req);
      });
      try {
        await listen(http, opts.wsPort, opts.host, 'MQTT over WebSocket');
      } catch (err) {
        wss.close();
        await new Promise<void>((r) => tcp.close(() => r()));
        await new Promise<void>((r) => aedes.close(() => r()));
        throw err;
      }
    }
    const b = new EmbeddedBroker(aedes, tcp, http, wss, log, limits, host);
    log.info({ host: opts.host, port: b.port, wsPort: b.wsPort, ...limits }, 'MQTT broker listening');
    return b;
  }

  get port(): number {
    return (this.tcp.address() as AddressInfo).port;
  }

  get wsPort(): number | undefined {
    return this.http ? (this.http.address() as AddressInfo).port : undefined;
  }

  get connectedClients(): number {
    return this.aedes.connectedClients;
  }

  /** Connections open at the TCP level (logged in or not) on both ports. */
  get openConnections(): number {
    return this.host.guards.size;
  }

  async close(): Promise<void> {
    this.wss?.close();
    const closed = Promise.all([
      new Promise<void>((r) => this.tcp.close(() => r())),
      this.http ? new Promise<void>((r) => this.http!.close(() => r())) : Promise.resolve(),
      new Promise<void>((r) => this.aedes.close(() => r())),
    ]);
    // aedes closes its logged-in clients; connections still logging in are ours to end.
    for (const g of [...this.host.guards]) if (!g.loggedIn) g.raw.destroy();
    await closed;
    this.logger.info('MQTT broker stopped');
  }
}

function listen(server: Server | HttpServer, port: number, host: string, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      reject(new Error(err.code === 'EADDRINUSE'
        ? `cannot listen for ${what} on ${host}:${port}: the port is in use (another pifleet or mosquitto?); set mqtt.port/mqtt.wsPort or --mqtt-port`
        : `cannot listen for ${what} on ${host}:${port}: ${err.message}`));
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}
