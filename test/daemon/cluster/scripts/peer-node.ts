/**
 * A lab board running only the peer channel (run inside a lab node by peer.lab.test.ts):
 *   node --import tsx peer-node.ts '{"self":"n1","port":7100,"peers":{"n2":"10.79.0.2:7100"},...}'
 * Sends a heartbeat {hb, t} to every peer every heartbeatMs, as the election layer does.
 * Prints JSON lines with an "ev" field on stdout (logs go to stderr):
 *   ready {port, pid} | link {peer, connected} | resume {from, gapMs} | burst {ms, ...} |
 *   stats {stats, latency} | reply {ok, res | code, message, ms}
 * Reads JSON commands on stdin: burst {to, n, bytes} | stats | request {to, req, timeoutMs} | exit.
 * Every event carries t = Date.now(): the lab nodes share the host's clock.
 */
import { createInterface } from 'node:readline';
import { PeerTransport, PeerRequestError } from '../../../../daemon/src/cluster/peer.js';
import { createSystemClock } from '../../../../daemon/src/lib/clock.js';
import { createLogger } from '../../../../daemon/src/lib/logger.js';
import { createRandom } from '../../../../daemon/src/lib/random.js';

interface Config {
  self: string; port: number; peers: Record<string, string>; cluster?: string; token?: string;
  heartbeatMs?: number; idleTimeoutMs?: number; connectTimeoutMs?: number; maxQueueBytes?: number; logLevel?: string;
}

const cfg = JSON.parse(process.argv[2] ?? '{}') as Config;
const out = (ev: string, o: Record<string, unknown> = {}): void => { process.stdout.write(`${JSON.stringify({ ev, t: Date.now(), ...o })}\n`); };

const tr = await PeerTransport.listen({
  self: cfg.self, cluster: cfg.cluster ?? 'lab', token: cfg.token ?? 'lab-token-0123456789abcdef', host: '0.0.0.0', port: cfg.port,
  logger: createLogger({ level: (cfg.logLevel ?? 'info') as 'info', destination: process.stderr }),
  clock: createSystemClock(), random: createRandom(),
  ...(cfg.idleTimeoutMs ? { idleTimeoutMs: cfg.idleTimeoutMs } : {}),
  ...(cfg.connectTimeoutMs ? { connectTimeoutMs: cfg.connectTimeoutMs } : {}),
  ...(cfg.maxQueueBytes ? { maxQueueBytes: cfg.maxQueueBytes } : {}),
});
for (const [node, a] of Object.entries(cfg.peers)) {
  const [host, port] = a.split(':');
  tr.setPeer(node, { host: host!, port: Number(port) });
}

const lastRx = new Map<string, number>();
const latency = new Map<string, number[]>();
tr.onMessage((from, m) => {
  const now = Date.now();
  const prev = lastRx.get(from);
  if (prev !== undefined && now - prev > 500) out('resume', { from, gapMs: now - prev });
  if (prev === undefined) out('first', { from });
  lastRx.set(from, now);
  const msg = m as { hb?: number; t?: number };
  if (typeof msg.t === 'number' && typeof msg.hb === 'number') {
    const l = latency.get(from) ?? [];
    l.push(now - msg.t);
    if (l.length > 200) l.shift();
    latency.set(from, l);
  }
});
tr.onRequest(async (from, req) => ({ from, req, at: cfg.self }));

let seq = 0;
const hb = setInterval(() => {
  seq++;
  for (const node of Object.keys(cfg.peers)) tr.send(node, { hb: seq, t: Date.now() });
}, cfg.heartbeatMs ?? 100);

const connected = new Map<string, boolean>();
const poll = setInterval(() => {
  for (const [peer, s] of Object.entries(tr.stats())) {
    if (connected.get(peer) !== s.connected) {
      connected.set(peer, s.connected);
      out('link', { peer, connected: s.connected });
    }
  }
}, 10);

const median = (xs: number[]): number | undefined => (xs.length ? [...xs].sort((a, b) => a - b)[xs.length >> 1] : undefined);

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  let c: { cmd: string; [k: string]: unknown };
  try { c = JSON.parse(line) as typeof c; } catch { return; }
  if (c.cmd === 'burst') {
    const payload = { pad: 'x'.repeat(Number(c.bytes ?? 1000)) };
    const t0 = performance.now();
    for (let i = 0; i < Number(c.n ?? 1000); i++) tr.send(String(c.to), payload);
    out('burst', { ms: performance.now() - t0, stats: tr.stats()[String(c.to)] });
  } else if (c.cmd === 'stats') {
    out('stats', { stats: tr.stats(), latency: Object.fromEntries([...latency].map(([k, v]) => [k, median(v)])), rss: process.memoryUsage().rss });
  } else if (c.cmd === 'request') {
    const t0 = performance.now();
    tr.request(c.to as string, c.req, Number(c.timeoutMs ?? 2000)).then(
      (res) => out('reply', { ok: true, res, ms: performance.now() - t0 }),
      (err: unknown) => out('reply', { ok: false, code: err instanceof PeerRequestError ? err.code : 'E?', message: (err as Error).message, ms: performance.now() - t0 }),
    );
  } else if (c.cmd === 'exit') {
    clearInterval(hb);
    clearInterval(poll);
    rl.close();
    void tr.close().then(() => process.exit(0));
  }
});
out('ready', { port: tr.port, pid: process.pid });
