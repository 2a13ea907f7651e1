/**
 * Discovery on an in-process LAN: real bonjour-service, multicast-dns and dns-packet, with the
 * UDP socket replaced by a fake that delivers every datagram to every member of the fake LAN
 * (multicast-dns accepts an `opts.socket`). No multicast leaves this process, so these tests
 * are safe in the root network namespace; the lab tests do the same over real multicast.
 */
import t, { type Test } from 'tap';
import { EventEmitter } from 'node:events';
import type { NetworkInterfaceInfo } from 'node:os';
import { Bonjour } from 'bonjour-service';
import { Discovery, MAX_PEERS, decodeTxt, instanceName, type DiscoveredPeer, type DiscoveryOptions } from '../../../daemon/src/cluster/discovery.js';
import { createSystemClock } from '../../../daemon/src/lib/clock.js';
import { createLogger, type Logger } from '../../../daemon/src/lib/logger.js';

interface Rec { name: string; type: string; ttl: number; data: unknown }
interface Packet { type?: string; answers?: Rec[]; additionals?: Rec[] }
interface Datagram { from: string; buf: Buffer; packet: Packet }
/** bonjour-service's socket (multicast-dns): encodes with dns-packet on respond, decodes into 'packet' events. */
interface Mdns extends EventEmitter { respond(r: { answers: Rec[] }, cb?: () => void): void }
const mdnsOf = (b: Bonjour): Mdns => (b as unknown as { server: { mdns: Mdns } }).server.mdns;

class FakeLan {
  readonly sockets = new Set<FakeSocket>();
  readonly log: Datagram[] = [];
  socket(address: string): FakeSocket {
    const s = new FakeSocket(this, address);
    this.sockets.add(s);
    return s;
  }
  deliver(from: string, buf: Buffer): void {
    const d: Datagram = { from, buf, packet: {} };
    this.log.push(d);
    for (const s of this.sockets) {
      setImmediate(() => {
        s.current = d;
        s.emit('message', buf, { address: from, family: 'IPv4', port: 5353, size: buf.length });
        s.current = undefined;
      });
    }
  }
  /** Every record of every datagram seen so far (decoded by the observer). */
  records(): Array<Rec & { from: string }> {
    return this.log.flatMap((d) => [...(d.packet.answers ?? []), ...(d.packet.additionals ?? [])].map((r) => ({ ...r, from: d.from })));
  }
}

/** A listener on the LAN that decodes every datagram into lan.log (through bonjour-service's own socket). */
function observe(t: Test, lan: FakeLan): void {
  const sock = lan.socket('10.79.0.250');
  const b = new Bonjour({ socket: sock, interface: '10.79.0.250', bind: '0.0.0.0' } as unknown as ConstructorParameters<typeof Bonjour>[0]);
  t.teardown(() => new Promise<void>((r) => b.destroy(() => r())));
  mdnsOf(b).on('packet', (packet: Packet) => { if (sock.current) sock.current.packet = packet; });
}

class FakeSocket extends EventEmitter {
  /** The datagram being delivered (multicast-dns decodes it synchronously in its 'message' handler). */
  current: Datagram | undefined;
  constructor(private readonly lan: FakeLan, readonly addr: string) { super(); }
  #closed = false;
  bind(_port: number, _addr: string, cb?: () => void): void { setImmediate(() => { if (this.#closed) return; this.emit('listening'); cb?.(); }); }
  address(): { address: string; port: number; family: string } { return { address: '0.0.0.0', port: 5353, family: 'IPv4' }; }
  addMembership(): void {}
  dropMembership(): void {}
  setMulticastTTL(): void {}
  setMulticastLoopback(): void {}
  setMulticastInterface(): void {}
  send(msg: Buffer, offset: number, length: number, _port: number, _address: string, cb?: (err: Error | null) => void): void {
    this.lan.deliver(this.addr, Buffer.from(msg.subarray(offset, offset + length)));
    setImmediate(() => cb?.(null));
  }
  close(cb?: () => void): void { this.#closed = true; this.lan.sockets.delete(this); setImmediate(() => cb?.()); }
}

interface LogLine { level: string; msg: string; [k: string]: unknown }

function capture(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  return { lines, logger: createLogger({ level: 'debug', destination: { write: (s: string) => { lines.push(JSON.parse(s) as LogLine); } } }) };
}

function bonjourOn(t: Test, lan: FakeLan, address: string): Bonjour {
  const b = new Bonjour({ socket: lan.socket(address), interface: address, bind: '0.0.0.0' } as unknown as ConstructorParameters<typeof Bonjour>[0]);
  t.teardown(() => new Promise<void>((r) => b.destroy(() => r())));
  return b;
}

const ifaces = (address: string, extra: NodeJS.Dict<NetworkInterfaceInfo[]> = {}) => (): NodeJS.Dict<NetworkInterfaceInfo[]> => ({
  lo: [{ address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal: true, cidr: '127.0.0.1/8' }],
  eth0: [{ address, netmask: '255.255.255.0', family: 'IPv4', mac: '02:00:00:00:00:01', internal: false, cidr: `${address}/24` }],
  ...extra,
});

const DOCKER0: NodeJS.Dict<NetworkInterfaceInfo[]> = {
  docker0: [{ address: '172.17.0.1', netmask: '255.255.0.0', family: 'IPv4', mac: '02:42:00:00:00:01', internal: false, cidr: '172.17.0.1/16' }],
};

function start(t: Test, lan: FakeLan, o: Partial<DiscoveryOptions> & { node: string; address: string }): Discovery & { lines: LogLine[]; events: DiscoveredPeer[] } {
  const { logger, lines } = capture();
  const d = Discovery.start({
    cluster: 'a', peerPort: 7000, version: '0.1.0', logger, clock: createSystemClock(),
    bonjour: bonjourOn(t, lan, o.address), networkInterfaces: ifaces(o.address, DOCKER0), ...o,
  });
  const events: DiscoveredPeer[] = [];
  d.on('peer', (p: DiscoveredPeer) => events.push(p));
  t.teardown(() => d.stop());
  return Object.assign(d, { lines, events });
}

async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<number> {
  const t0 = performance.now();
  while (!cond()) {
    if (performance.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return performance.now() - t0;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

t.test('two boards of a cluster find each other with the TXT they advertise, and never report themselves', async (t) => {
  const lan = new FakeLan();
  observe(t, lan);
  const n1 = start(t, lan, { node: 'n1', address: '10.79.0.1', peerPort: 7001, txt: { fleet: 'f1', leader: 'n1' } });
  const n2 = start(t, lan, { node: 'n2', address: '10.79.0.2', peerPort: 7002 });
  const ms = await waitFor(() => n1.peers().length === 1 && n2.peers().length === 1, 5000, 'both peers');
  t.comment(`found each other after ${ms.toFixed(0)} ms (bonjour-service probes for ~0.5-1 s first)`);
  const at2 = n2.peers()[0]!;
  t.match(at2, { node: 'n1', cluster: 'a', host: '10.79.0.1', peerPort: 7001, version: '0.1.0', fleet: 'f1', leader: 'n1' });
  t.match(n1.peers()[0], { node: 'n2', cluster: 'a', host: '10.79.0.2', peerPort: 7002, version: '0.1.0' });
  t.notOk('fleet' in n1.peers()[0]!, 'no empty TXT fields');
  t.ok(at2.seenAt > Date.now() - 10_000);
  t.equal(n2.events.length, 1, "one 'peer' event per new peer, none for repeats");
  // the TXT on the wire: exactly these keys, nothing else (and so never a secret)
  const txts = lan.records().filter((r) => r.type === 'TXT' && r.name.startsWith('a-n1.'));
  t.ok(txts.length > 0);
  for (const r of txts) t.same([...decodeTxt(r.data).keys()].sort(), ['cluster', 'fleet', 'leader', 'node', 'peer', 'v']);
});

t.test('a board of another cluster is not reported', async (t) => {
  const lan = new FakeLan();
  observe(t, lan);
  const a1 = start(t, lan, { node: 'n1', address: '10.79.0.1' });
  const a2 = start(t, lan, { node: 'n2', address: '10.79.0.2' });
  const b3 = start(t, lan, { node: 'n3', address: '10.79.0.3', cluster: 'b' });
  await waitFor(() => a1.peers().length === 1 && a2.peers().length === 1, 5000, 'cluster a');
  await sleep(1500); // b3's announcements went out meanwhile
  t.ok(lan.records().some((r) => r.type === 'TXT' && r.name.startsWith('b-n3.')), "b's service was on the wire");
  t.same(a1.peers().map((p) => p.node), ['n2']);
  t.same(a2.peers().map((p) => p.node), ['n1']);
  t.same(b3.peers(), []);
});

t.test('only the LAN address is advertised: never docker0 (172.17.0.1) or veth addresses', async (t) => {
  const lan = new FakeLan();
  observe(t, lan);
  start(t, lan, {
    node: 'n1', address: '10.79.0.1',
    networkInterfaces: ifaces('10.79.0.1', { ...DOCKER0, veth1a2b: [{ address: '169.254.3.3', netmask: '255.255.0.0', family: 'IPv4', mac: '02:00:00:00:00:09', internal: false, cidr: '169.254.3.3/16' }] }),
  });
  const n2 = start(t, lan, { node: 'n2', address: '10.79.0.2' });
  await waitFor(() => n2.peers().length === 1, 5000, 'n1 found');
  const ours = lan.records().filter((r) => r.from === '10.79.0.1' && (r.type === 'A' || r.type === 'AAAA'));
  t.ok(ours.length > 0);
  t.same([...new Set(ours.map((r) => `${r.type} ${String(r.data)}`))], ['A 10.79.0.1'], 'one A record, the LAN address');
  // control: plain bonjour-service on the same machine advertises every interface of this host
  t.ok(new Bonjour.Service({ name: 'x', type: 'pifleet', port: 1 }, () => {}, () => {}).records().some((r) => r.type === 'A' || r.type === 'AAAA'),
    "bonjour-service's own record set lists the host's interfaces (what our record set replaces)");
});

t.test('an address on a container bridge is refused at start', async (t) => {
  const lan = new FakeLan();
  observe(t, lan);
  t.throws(() => Discovery.start({
    cluster: 'a', node: 'n1', peerPort: 7000, version: '1', address: '172.17.0.1', logger: capture().logger, clock: createSystemClock(),
    bonjour: bonjourOn(t, lan, '172.17.0.1'), networkInterfaces: ifaces('10.79.0.1', DOCKER0),
  }), /docker0, a container or virtual interface/);
  t.throws(() => Discovery.start({
    cluster: 'a', node: 'n1', peerPort: 7000, version: '1', address: '127.0.0.1', logger: capture().logger, clock: createSystemClock(), bonjour: bonjourOn(t, lan, '127.0.0.1'),
  }), /LAN IPv4/);
});

/** A crafted response, as a hostile or misconfigured board could send it (encoded by bonjour-service's socket at `from`). */
const senders = new Map<string, Mdns>();
function craft(t: Test, lan: FakeLan, from: string, o: { name?: string; txt?: Array<string | Buffer>; port?: number; a?: string[]; ttl?: number }): void {
  const key = `${from}`;
  let m = senders.get(key);
  if (!m || ![...lan.sockets].some((s) => s.addr === from)) { m = mdnsOf(bonjourOn(t, lan, from)); senders.set(key, m); }
  const name = `${o.name ?? 'a-x'}._pifleet._tcp.local`;
  const host = `${o.name ?? 'a-x'}.local`;
  const ttl = o.ttl ?? 120;
  m.respond({
    answers: [
      { name: '_pifleet._tcp.local', type: 'PTR', ttl, data: name },
      { name, type: 'SRV', ttl, data: { port: o.port ?? 7000, target: host } },
      { name, type: 'TXT', ttl, data: o.txt ?? ['cluster=a', 'node=x', 'peer=7000', 'v=1'] },
      ...(o.a ?? []).map((a) => ({ name: host, type: 'A', ttl, data: a })),
    ],
  });
}

t.test('addresses off our LAN subnet are never accepted; the source address is used when no A record fits', async (t) => {
  const lan = new FakeLan();
  observe(t, lan);
  const n1 = start(t, lan, { node: 'n1', address: '10.79.0.1' });
  await sleep(50);
  craft(t, lan, '10.79.0.3', { name: 'a-x3', txt: ['cluster=a', 'node=x3', 'peer=7003'], a: ['172.17.0.1', '10.79.0.3'] });
  craft(t, lan, '10.79.0.4', { name: 'a-x4', txt: ['cluster=a', 'node=x4', 'peer=7004'], a: ['172.17.0.1'] });
  craft(t, lan, '172.17.0.1', { name: 'a-x5', txt: ['cluster=a', 'node=x5', 'peer=7005'], a: ['172.17.0.1', '192.168.1.5'] });
  craft(t, lan, '10.80.0.6', { name: 'a-x6', txt: ['cluster=a', 'node=x6', 'peer=7006'], a: ['10.80.0.6'] });
  await waitFor(() => n1.peers().length >= 2, 2000, 'x3 and x4');
  await sleep(100);
  const hosts = Object.fromEntries(n1.peers().map((p) => [p.node, p.host]));
  t.same(hosts, { x3: '10.79.0.3', x4: '10.79.0.4' }, 'docker0 and other subnets never accepted');
});

t.test('malformed and hostile responses are ignored, and the peer table is capped', async (t) => {
  const lan = new FakeLan();
  observe(t, lan);
  const n1 = start(t, lan, { node: 'n1', address: '10.79.0.1' });
  await sleep(50);
  lan.deliver('10.79.0.9', Buffer.from('not a dns packet at all'));
  const bad: Array<Array<string | Buffer>> = [
    ['cluster=a', 'peer=7000'], // no node
    ['cluster=a', 'node=bad name', 'peer=7000'],
    ['cluster=a', 'node=y', 'peer=99999'],
    ['cluster=a', 'node=y', 'peer=abc'],
    ['node=y', 'peer=7000'], // no cluster
    ['cluster=A', 'node=y', 'peer=7000'],
    [Buffer.from([0xff, 0xfe, 0x3d, 0x00]), 'cluster=a'],
  ];
  for (const txt of bad) craft(t, lan, '10.79.0.9', { name: 'a-y', txt, a: ['10.79.0.9'] });
  craft(t, lan, '10.79.0.9', { name: 'a-gone', txt: ['cluster=a', 'node=gone', 'peer=7000'], a: ['10.79.0.9'], ttl: 0 });
  craft(t, lan, '10.79.0.9', { name: 'a-z', txt: ['cluster=a', 'node=z', 'peer=7000', `v=${'x'.repeat(100)}`, 'leader=not a name', `fleet=${'\u0001'}`], a: ['10.79.0.9'] });
  await waitFor(() => n1.peers().length === 1, 2000, 'z');
  t.same(n1.peers().map((p) => [p.node, p.version, p.leader, p.fleet]), [['z', undefined, undefined, undefined]], 'bad optional fields dropped');
  // our own name from another address (after our probing, else bonjour-service gives our name up): not reported, warned about
  await sleep(1200);
  craft(t, lan, '10.79.0.8', { name: 'a-n1', txt: ['cluster=a', 'node=n1', 'peer=7000'], a: ['10.79.0.8'] });
  await waitFor(() => n1.lines.some((l) => l.msg.startsWith('another board announces our node name')), 2000, 'duplicate warning');
  // a flood of distinct boards
  for (let i = 0; i < MAX_PEERS + 50; i++) craft(t, lan, '10.79.0.7', { name: `a-f${i}`, txt: ['cluster=a', `node=f${i}`, 'peer=7000'], a: ['10.79.0.7'] });
  await sleep(300);
  t.equal(n1.peers().length, MAX_PEERS, `table capped at ${MAX_PEERS}`);
  t.ok(n1.peers().some((p) => p.node === `f${MAX_PEERS + 49}`), 'the newest is kept');
});

t.test('update() re-announces the TXT when it changed, and only then', async (t) => {
  const lan = new FakeLan();
  observe(t, lan);
  const n1 = start(t, lan, { node: 'n1', address: '10.79.0.1', txt: { fleet: 'rev1' } });
  const n2 = start(t, lan, { node: 'n2', address: '10.79.0.2' });
  await waitFor(() => n2.peers().length === 1, 5000, 'n1 found');
  await sleep(1200); // past bonjour-service's own second announcement
  const txtPackets = (): number => lan.log.filter((d) => d.from === '10.79.0.1' && d.packet.type === 'response'
    && (d.packet.answers ?? []).some((r) => r.type === 'TXT' && r.name.startsWith('a-n1.'))).length;
  const before = txtPackets();
  n1.update({ fleet: 'rev1' });
  n1.update({ fleet: 'rev1', leader: undefined });
  await sleep(300);
  t.equal(txtPackets(), before, 'no announcement for an unchanged TXT');
  const t0 = performance.now();
  n1.update({ fleet: 'rev2', leader: 'n2' });
  const ms = await waitFor(() => n2.peers()[0]?.leader === 'n2', 2000, 'new TXT at n2');
  t.comment(`TXT change seen by the other board after ${ms.toFixed(1)} ms`);
  t.match(n2.peers()[0], { fleet: 'rev2', leader: 'n2' });
  t.match(n2.events.at(-1), { node: 'n1', fleet: 'rev2', leader: 'n2' }, "a 'peer' event for the change");
  await sleep(1200);
  t.ok(performance.now() - t0 > 1000);
  t.equal(txtPackets(), before + 2, 'announced twice (at once and 1 s later)');
  // answers to queries carry the new TXT too
  const late = start(t, lan, { node: 'n3', address: '10.79.0.3' });
  await waitFor(() => late.peers().some((p) => p.node === 'n1'), 3000, 'n3 finds n1');
  t.match(late.peers().find((p) => p.node === 'n1'), { fleet: 'rev2', leader: 'n2' });
  n1.update({ leader: 'bad name!' });
  t.ok(n1.lines.some((l) => l.msg.startsWith('leader is not a valid node name')));
});

t.test('stop() sends a goodbye; the others keep the entry (mDNS says nothing about liveness)', async (t) => {
  const lan = new FakeLan();
  observe(t, lan);
  const n1 = start(t, lan, { node: 'n1', address: '10.79.0.1' });
  const n2 = start(t, lan, { node: 'n2', address: '10.79.0.2' });
  await waitFor(() => n2.peers().length === 1, 5000, 'n1 found');
  await n1.stop();
  await sleep(100);
  t.ok(lan.records().some((r) => r.from === '10.79.0.1' && r.type === 'PTR' && r.name === '_pifleet._tcp.local' && r.ttl === 0), 'goodbye (ttl 0) sent');
  t.same(n2.peers().map((p) => p.node), ['n1'], 'no "gone" semantics');
  await n1.stop(); // idempotent
  n1.update({ leader: 'n1' }); // no-op after stop
});

t.test('stop() during the name probe announces nothing and sends no goodbye', async (t) => {
  const lan = new FakeLan();
  observe(t, lan);
  const logs: unknown[] = [];
  const orig = console.log;
  console.log = (...a: unknown[]) => { logs.push(a); };
  t.teardown(() => { console.log = orig; });
  const n1 = start(t, lan, { node: 'n1', address: '10.79.0.1' });
  await sleep(100);
  await n1.stop();
  await sleep(1500); // past the end of the probe and the first announcement it would have made
  t.same(lan.records().filter((r) => r.from === '10.79.0.1'), [], 'no record of n1 on the wire');
  t.same(logs, [], 'bonjour-service reports no name conflict');
});

t.test('instance names are DNS labels, unique per node', async (t) => {
  t.equal(instanceName('a', 'n1'), 'a-n1');
  const long = instanceName('cluster', 'x'.repeat(100));
  t.ok(long.length <= 63, long);
  t.not(instanceName('c', 'a.b'), instanceName('c', 'a-b'), 'dots do not collide with dashes');
  t.ok(instanceName('c', 'a.b').length <= 63);
});
