/**
 * mDNS discovery between lab boards (real multicast, inside the lab's namespaces only: never in
 * the root namespace, where it would leave through the machine's NIC). Root; serialized; lock:
 *   flock /tmp/pifleet-lab.lock npx tap --jobs=1 --timeout=300 --disable-coverage test/daemon/cluster/discovery.lab.test.ts
 *
 * Boards: 1-3 cluster "a" (n1..n3), 4 cluster "b", 5 an observer of every mDNS datagram plus a
 * service published with plain bonjour-service (the control: it advertises docker0). Nodes 1, 2
 * and 5 get a fake docker0 (172.17.0.1/16, as Docker makes it on every board).
 */
import t from 'tap';
import { LabProc, SUBNET, cleanup, cleanupOnSignals, gone, lab, labUnavailable, type Ev } from './scripts/lab.js';

interface Peer { node: string; cluster: string; host: string; peerPort: number; version?: string; fleet?: string; leader?: string; seenAt: number }

const skip = labUnavailable();
if (skip) {
  t.plan(0, skip);
} else {
  cleanupOnSignals();
  t.teardown(cleanup);
  const TOKEN = 'discovery-lab-secret-4f2a9c1e77';
  const ip = (i: number): string => `${SUBNET}.${i}`;
  const procs: Record<string, LabProc> = {};
  const peerEvents = (p: LabProc): Peer[] => p.events.filter((e) => e.ev === 'peer').map((e) => e.peer as Peer);
  const sees = (p: LabProc, node: string): Ev | undefined => p.events.find((e) => e.ev === 'peer' && (e.peer as Peer).node === node);
  const board = (i: number, cluster: string, node: string, txt?: { fleet?: string; leader?: string }): LabProc =>
    new LabProc(i, 'discovery-node.ts', { cluster, node, token: TOKEN, version: '0.1.0-lab', ...(txt ? { txt } : {}) });

  t.before(() => {
    lab('down');
    lab('up', '5', '--subnet', SUBNET);
    for (const i of [1, 2, 5]) {
      lab('exec', String(i), 'sh', '-c', 'ip link add docker0 type bridge && ip addr add 172.17.0.1/16 dev docker0 && ip link set docker0 up');
    }
    const ifs = lab('exec', '1', process.execPath, '-e', 'console.log(JSON.stringify(require("os").networkInterfaces()))');
    if (!ifs.includes('172.17.0.1')) throw new Error(`the fake docker0 is not visible to Node in node 1: ${ifs}`);
  });

  t.test('two boards of cluster a find each other within a few seconds, with the right TXT', async (t) => {
    procs.obs = new LabProc(5, 'mdns-observer.ts', { token: TOKEN, plain: { cluster: 'a', node: 'plain' } });
    await procs.obs.waitEvent((e) => e.ev === 'ready', 30_000, 'observer ready');
    procs.b4 = board(4, 'b', 'b4');
    procs.n1 = board(1, 'a', 'n1', { fleet: 'rev1' });
    procs.n2 = board(2, 'a', 'n2');
    const [r1, r2] = await Promise.all([procs.n1, procs.n2].map((p) => p.waitEvent((e) => e.ev === 'ready', 30_000, 'ready')));
    const [s12, s21] = await Promise.all([
      procs.n1.waitEvent((e) => e.ev === 'peer' && (e.peer as Peer).node === 'n2', 10_000, 'n1 finds n2'),
      procs.n2.waitEvent((e) => e.ev === 'peer' && (e.peer as Peer).node === 'n1', 10_000, 'n2 finds n1'),
    ]);
    const both = Math.max(r1!.t, r2!.t);
    t.comment(`found each other ${s12.t - r2!.t} ms (n1 -> n2) and ${s21.t - r1!.t} ms (n2 -> n1) after the other started; both ${Math.max(s12.t, s21.t) - both} ms after the later start (bonjour-service probes ~0.25-1 s before its first announcement)`);
    t.ok(Math.max(s12.t, s21.t) - both < 5000, 'within a few seconds');
    t.match(s21.peer, { node: 'n1', cluster: 'a', host: ip(1), peerPort: r1!.peerPort, version: '0.1.0-lab', fleet: 'rev1' });
    t.match(s12.peer, { node: 'n2', cluster: 'a', host: ip(2), peerPort: r2!.peerPort, version: '0.1.0-lab' });
  });

  t.test('a third board of cluster a joins the others', async (t) => {
    procs.n3 = board(3, 'a', 'n3');
    const r3 = await procs.n3.waitEvent((e) => e.ev === 'ready', 30_000, 'ready');
    const found = await Promise.all([
      procs.n1!.waitEvent((e) => e.ev === 'peer' && (e.peer as Peer).node === 'n3', 10_000, 'n1 finds n3'),
      procs.n2!.waitEvent((e) => e.ev === 'peer' && (e.peer as Peer).node === 'n3', 10_000, 'n2 finds n3'),
      procs.n3.waitEvent((e) => e.ev === 'peer' && (e.peer as Peer).node === 'n1', 10_000, 'n3 finds n1'),
      procs.n3.waitEvent((e) => e.ev === 'peer' && (e.peer as Peer).node === 'n2', 10_000, 'n3 finds n2'),
    ]);
    t.comment(`n3 found by n1/n2 after ${found[0].t - r3.t}/${found[1].t - r3.t} ms; n3 found n1/n2 after ${found[2].t - r3.t}/${found[3].t - r3.t} ms (its first query is answered at once)`);
    t.match((found[2].peer as Peer), { host: ip(1), fleet: 'rev1' });
  });

  t.test('a board of cluster b is not reported to cluster a, nor a to b', async (t) => {
    await new Promise((r) => setTimeout(r, 1500));
    t.ok(procs.obs!.events.some((e) => e.ev === 'rr' && e.type === 'TXT' && String(e.name).startsWith('b-b4.')), "b4's service is on the wire");
    for (const n of ['n1', 'n2', 'n3']) {
      t.notOk(peerEvents(procs[n]!).some((p) => p.cluster !== 'a' || p.node === 'b4'), `${n} never reports b4`);
      t.notOk(sees(procs[n]!, n), `${n} never reports itself`);
    }
    t.same(peerEvents(procs.b4!), [], 'b4 reports nobody');
  });

  t.test('docker0 (172.17.0.1) is never advertised nor accepted; the token is in no TXT and no datagram', async (t) => {
    const rrs = procs.obs!.events.filter((e) => e.ev === 'rr');
    const ours = rrs.filter((e) => (e.type === 'A' || e.type === 'AAAA') && /^(a-n[123]|b-b4)\.local$/.test(String(e.name)));
    t.ok(ours.length > 0, `${ours.length} address records of our boards seen`);
    t.same([...new Set(ours.map((e) => `${String(e.name)} ${String(e.type)} ${String(e.data)}`))].sort(),
      [`a-n1.local A ${ip(1)}`, `a-n2.local A ${ip(2)}`, `a-n3.local A ${ip(3)}`, `b-b4.local A ${ip(4)}`], 'each board advertises exactly its LAN address');
    const plainAddrs = new Set(rrs.filter((e) => e.type === 'A' && e.from === ip(5)).map((e) => String(e.data)));
    t.ok(plainAddrs.has('172.17.0.1'), `control: plain bonjour-service on node 5 advertises ${[...plainAddrs].join(', ')}`);
    const plain = sees(procs.n1!, 'plain');
    t.ok(plain, 'the plain service (cluster a) is reported');
    t.equal((plain?.peer as Peer | undefined)?.host, ip(5), '... with its LAN address, not docker0');
    for (const n of ['n1', 'n2', 'n3']) t.notOk(peerEvents(procs[n]!).some((p) => !p.host.startsWith(`${SUBNET}.`)), `${n}: every reported host is on ${SUBNET}.0/24`);
    const txts = rrs.filter((e) => e.type === 'TXT');
    t.ok(txts.length > 0);
    t.notOk(txts.some((e) => (e.data as string[]).some((v) => v.includes(TOKEN))), 'no TXT value contains the token');
    t.notOk(txts.some((e) => /^(a-n[123]|b-b4)\./.test(String(e.name)) && (e.data as string[]).some((v) => !/^(cluster|node|peer|v|fleet|leader)=/.test(v))), 'our TXT has only cluster, node, peer, v, fleet, leader');
    t.notOk(procs.obs!.events.some((e) => e.ev === 'token-seen'), 'the token bytes are in no mDNS datagram');
  });

  t.test('update() changes the TXT seen by the others', async (t) => {
    const m1 = procs.n1!.events.length;
    const m2 = procs.n2!.events.length;
    const m3 = procs.n3!.events.length;
    procs.n1!.send({ cmd: 'update', txt: { fleet: 'rev2', leader: 'n1' } });
    const t0 = (await procs.n1!.waitEvent((e) => e.ev === 'updated', 5000, 'updated', m1)).t; // when n1 called update()
    const [u2, u3] = await Promise.all([
      procs.n2!.waitEvent((e) => e.ev === 'peer' && (e.peer as Peer).node === 'n1' && (e.peer as Peer).leader === 'n1', 5000, 'n2 sees the new TXT', m2),
      procs.n3!.waitEvent((e) => e.ev === 'peer' && (e.peer as Peer).node === 'n1' && (e.peer as Peer).leader === 'n1', 5000, 'n3 sees the new TXT', m3),
    ]);
    t.comment(`TXT update seen by n2 ${u2.t - t0} ms, by n3 ${u3.t - t0} ms after n1's update() (the 'peer' event's time, as each board prints it)`);
    t.ok(u2.t - t0 < 1500 && u3.t - t0 < 1500, 'the change is announced at once');
    t.match(u2.peer, { fleet: 'rev2', leader: 'n1', host: ip(1) });
    procs.n2!.send({ cmd: 'peers' });
    const ps = await procs.n2!.waitEvent((e) => e.ev === 'peers', 2000, 'peers', m2);
    t.match((ps.peers as Peer[]).find((p) => p.node === 'n1'), { fleet: 'rev2', leader: 'n1' });
    // the same TXT again: no new announcement from n1
    await new Promise((r) => setTimeout(r, 1500)); // past the second announcement of the change
    const countTxt = (): number => procs.obs!.events.filter((e) => e.ev === 'rr' && e.type === 'TXT' && String(e.name).startsWith('a-n1.') && e.from === ip(1)).length;
    const before = countTxt();
    procs.n1!.send({ cmd: 'update', txt: { fleet: 'rev2', leader: 'n1' } });
    await new Promise((r) => setTimeout(r, 1500));
    t.equal(countTxt(), before, 'an unchanged TXT is not re-announced');
  });

  t.test('stop() says goodbye; the processes are gone', async (t) => {
    const mark = procs.obs!.events.length;
    for (const k of ['n1', 'n2', 'n3', 'b4']) procs[k]!.send({ cmd: 'stop' });
    await Promise.all(['n1', 'n2', 'n3', 'b4'].map((k) => procs[k]!.waitEvent((e) => e.ev === 'stopped', 5000, 'stopped')));
    await procs.obs!.waitEvent((e) => e.ev === 'rr' && e.type === 'PTR' && e.ttl === 0 && e.from === ip(1), 3000, 'goodbye from n1', mark);
    procs.obs!.send({ cmd: 'stop' });
    const st = await procs.obs!.waitEvent((e) => e.ev === 'stats', 3000, 'observer stats');
    t.comment(`observer saw ${String(st.datagrams)} mDNS datagrams in total`);
    await Promise.all(Object.values(procs).map((p) => p.exit()));
    t.ok(Object.values(procs).every((p) => p.exited && gone(p.pid)), 'all lab processes exited');
  });
}
