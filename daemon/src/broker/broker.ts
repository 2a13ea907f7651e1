/**
 * The embedded MQTT broker (aedes) of the leader: plain TCP and MQTT over WebSocket,
 * token authentication, no anonymous access. In-memory persistence only: retained
 * messages are actual state that nodes republish, so nothing is written to the SD card.
 */
import { createServer, type Server, type AddressInfo } from 'node:net';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { Aedes, type AuthenticateError } from 'aedes';
import { WebSocketServer, createWebSocketStream } from 'ws';
import type { Logger } from '../lib/logger.js';
import type { Authenticator, Identity } from './auth.js';

export interface BrokerOptions {
  host: string;
  port: number;
  /** 0 = no WebSocket listener. */
  wsPort: number;
  auth: Authenticator;
  logger: Logger;
  /** Largest accepted packet; bigger ones close the connection. */
  maxPacketBytes?: number;
}

const identities = new WeakMap<object, Identity>();

export class EmbeddedBroker {
  private constructor(
    readonly aedes: Aedes,
    private readonly tcp: Server,
    private readonly http: HttpServer | undefined,
    private readonly wss: WebSocketServer | undefined,
    private readonly logger: Logger,
  ) {}

  static async start(opts: BrokerOptions): Promise<EmbeddedBroker> {
    const log = opts.logger.child({ component: 'broker' });
    const aedes = await Aedes.createBroker({
      id: 'pifleet',
      heartbeatInterval: 60_000,
      connectTimeout: 10_000,
      authenticate(client, username, password, done) {
        const who = opts.auth.authenticate(username, password);
        if (!who) {
          log.warn({ client: client.id, user: username, hasPassword: Boolean(password?.length) }, 'MQTT client refused: missing or wrong token');
          const err = new Error('bad user name or password') as AuthenticateError;
          err.returnCode = 4;
          done(err, false);
          return;
        }
        identities.set(client, who);
        done(null, true);
      },
      authorizePublish(client, packet, done) {
        if (!client) { done(null); return; }
        const who = identities.get(client);
        if (!who || !opts.auth.canPublish(who, packet.topic)) { done(new Error(`not allowed to publish to ${packet.topic}`)); return; }
        done(null);
      },
      authorizeSubscribe(client, sub, done) {
        const who = identities.get(client);
        if (!who || !opts.auth.canSubscribe(who, sub.topic)) { done(new Error(`not allowed to subscribe to ${sub.topic}`)); return; }
        done(null, sub);
      },
    });
    aedes.on('clientError', (client, err) => log.debug({ client: client.id, err: err.message }, 'client error'));
    aedes.on('connectionError', (client, err) => log.debug({ client: client?.id, err: err.message }, 'connection error'));

    const maxPacket = opts.maxPacketBytes ?? 8 * 1024 * 1024;
    const tcp = createServer({ noDelay: true }, (socket) => {
      socket.setNoDelay(true);
      aedes.handle(socket);
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
      http = createHttpServer((_req, res) => { res.writeHead(426, { 'content-type': 'text/plain' }); res.end('MQTT over WebSocket only\n'); });
      wss = new WebSocketServer({ server: http, maxPayload: maxPacket });
      wss.on('connection', (ws, req) => {
        const stream = createWebSocketStream(ws);
        stream.on('error', () => undefined);
        aedes.handle(stream, req);
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
    const b = new EmbeddedBroker(aedes, tcp, http, wss, log);
    log.info({ host: opts.host, port: b.port, wsPort: b.wsPort }, 'MQTT broker listening');
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

  async close(): Promise<void> {
    this.wss?.close();
    await Promise.all([
      new Promise<void>((r) => this.tcp.close(() => r())),
      this.http ? new Promise<void>((r) => this.http!.close(() => r())) : Promise.resolve(),
      new Promise<void>((r) => this.aedes.close(() => r())),
    ]);
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
