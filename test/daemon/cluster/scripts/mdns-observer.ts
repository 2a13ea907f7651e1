/**
 * Watches mDNS in a lab node (discovery.lab.test.ts):
 *   node --import tsx mdns-observer.ts '{"token":"...","plain":{"cluster":"a","node":"plain"}}'
 * - a raw UDP socket on 5353 reports any datagram containing the token bytes: token-seen {from};
 * - bonjour-service's decoder reports every A/AAAA record and every _pifleet record: rr {from, name, type, ttl, data};
 * - with "plain": also publishes a _pifleet service with bonjour-service as it is (every
 *   interface's address, docker0 included): the control showing what our filter prevents.
 * Stdin: stop.
 */
import { createSocket } from 'node:dgram';
import { createInterface } from 'node:readline';
import { Bonjour } from 'bonjour-service';

interface Config { token?: string; plain?: { cluster: string; node: string } }
interface Rec { name: string; type: string; ttl: number; data: unknown }

const cfg = JSON.parse(process.argv[2] ?? '{}') as Config;
const address = process.env.LAB_IP ?? '';
const out = (ev: string, o: Record<string, unknown> = {}): void => { process.stdout.write(`${JSON.stringify({ ev, t: Date.now(), ...o })}\n`); };

const raw = createSocket({ type: 'udp4', reuseAddr: true });
const token = cfg.token ? Buffer.from(cfg.token) : undefined;
let datagrams = 0;
raw.on('message', (buf, rinfo) => {
  datagrams++;
  if (token && buf.includes(token)) out('token-seen', { from: rinfo.address });
});
raw.on('error', (err) => out('error', { err: err.message }));
raw.bind(5353, '0.0.0.0', () => raw.addMembership('224.0.0.251', address));

const b = new Bonjour({ interface: address, bind: '0.0.0.0' } as unknown as ConstructorParameters<typeof Bonjour>[0]);
const mdns = (b as unknown as { server: { mdns: { on(ev: string, fn: (p: { answers?: Rec[]; additionals?: Rec[] }, r: { address: string }) => void): void } } }).server.mdns;
mdns.on('packet', (p, rinfo) => {
  for (const r of [...(p.answers ?? []), ...(p.additionals ?? [])]) {
    if (r.type !== 'A' && r.type !== 'AAAA' && !String(r.name).includes('_pifleet')) continue;
    const data = r.type === 'TXT' && Array.isArray(r.data) ? (r.data as Buffer[]).map((x) => x.toString()) : r.data;
    out('rr', { from: rinfo.address, name: r.name, type: r.type, ttl: r.ttl, data });
  }
});
if (cfg.plain) {
  b.publish({ name: `${cfg.plain.cluster}-${cfg.plain.node}`, type: 'pifleet', port: 7999, txt: { cluster: cfg.plain.cluster, node: cfg.plain.node, peer: '7999', v: 'plain' } });
}

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  if (!line.includes('stop')) return;
  rl.close();
  out('stats', { datagrams });
  b.unpublishAll(() => b.destroy(() => { raw.close(); out('stopped'); process.exit(0); }));
});
out('ready', { address, pid: process.pid });
