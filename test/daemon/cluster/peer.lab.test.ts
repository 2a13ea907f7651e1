/**
 * The peer channel between lab boards (network namespaces, a real switch, cables to pull).
 * Root; run serialized and under the lab lock:
 *   flock /tmp/pifleet-lab.lock npx tap --jobs=1 --timeout=300 --disable-coverage test/daemon/cluster/peer.lab.test.ts
 */
import t from 'tap';
import { LabProc, SUBNET, cleanup, cleanupOnSignals, gone, lab, labUnavailable, type Ev } from './scripts/lab.js';

const skip = labUnavailable();
if (skip) {
  t.plan(0, skip);
} else {
  cleanupOnSignals();
  t.teardown(cleanup);
  const PORT = 7100;
  const IDLE = 3000;
  const CONNECT = 1000;
  const names = ['n1', 'n2', 'n3'];
  const ip = (i: number): string => `${SUBNET}.${i}`;
  let nodes: LabProc[] = [];

  const start = (): void => {
    nodes = names.map((self, i) => new LabProc(i + 1, 'peer-node.ts', {
      self, port: PORT, heartbeatMs: 100, idleTimeoutMs: IDLE, connectTimeoutMs: CONNECT, maxQueueBytes: 1024 * 1024,
      peers: Object.fromEntries(names.filter((n) => n !== self).map((n) => [n, `${ip(names.indexOf(n) + 1)}:${PORT}`])),
    }));
  };
  const link = (e: Ev, peer: string, connected: boolean): boolean => e.ev === 'link' && e.peer === peer && e.connected === connected;

  t.before(() => {
    lab('down');
    lab('up', '3', '--subnet', SUBNET);
  });

  t.test('three boards connect, authenticate and exchange heartbeats over the lab switch', async (t) => {
    const t0 = Date.now();
    start();
    for (const n of nodes) await n.waitEvent((e) => e.ev === 'ready', 30_000, 'ready');
    t.ok(nodes.every((n) => /peer-node\.ts/.test(n.cmdline())), 'each spawned PID is the node process itself');
    const ready = Math.max(...nodes.map((n) => n.events.find((e) => e.ev === 'ready')!.t));
    for (const [i, n] of nodes.entries()) {
      for (const other of names.filter((x) => x !== names[i])) await n.waitEvent((e) => link(e, other, true), 5000, `link to ${other}`);
    }
    const up = Math.max(...nodes.flatMap((n) => n.events.filter((e) => e.ev === 'link').map((e) => e.t)));
    t.comment(`node processes ready ${ready - t0} ms after spawn (tsx start-up); full mesh authenticated ${up - ready} ms after the last was ready`);
    await new Promise((r) => setTimeout(r, 1500));
    nodes[0]!.send({ cmd: 'stats' });
    const st = await nodes[0]!.waitEvent((e) => e.ev === 'stats', 2000, 'stats');
    t.comment(`one-way heartbeat latency node1 <- others (median of 200, host clock): ${JSON.stringify(st.latency)} ms`);
    const lat = st.latency as Record<string, number>;
    t.ok(lat.n2! < 50 && lat.n3! < 50, 'heartbeats flow with low latency');
    nodes[0]!.send({ cmd: 'request', to: 'n2', req: { q: 'status' }, timeoutMs: 2000 });
    const rep = await nodes[0]!.waitEvent((e) => e.ev === 'reply', 3000, 'reply');
    t.match(rep, { ok: true, res: { from: { node: 'n1', address: ip(1) }, at: 'n2' } }, 'request answered with the requester\'s LAN address');
    const byAddr: number[] = [];
    const byName: number[] = [];
    for (let i = 0; i < 10; i++) {
      const m = nodes[0]!.events.length;
      nodes[0]!.send({ cmd: 'request', to: { host: ip(2), port: PORT }, req: { i }, timeoutMs: 2000 });
      byAddr.push((await nodes[0]!.waitEvent((e) => e.ev === 'reply', 3000, 'reply', m)).ms as number);
      const m2 = nodes[0]!.events.length;
      nodes[0]!.send({ cmd: 'request', to: 'n2', req: { i }, timeoutMs: 2000 });
      byName.push((await nodes[0]!.waitEvent((e) => e.ev === 'reply', 3000, 'reply', m2)).ms as number);
    }
    const med = (xs: number[]): string => [...xs].sort((a, b) => a - b)[xs.length >> 1]!.toFixed(2);
    t.comment(`node1 -> node2: request on the open link median ${med(byName)} ms; by address (connect + handshake + request) median ${med(byAddr)} ms (10 each)`);
  });

  t.test('a pulled cable: sends do not block, the dead link is detected within idleTimeoutMs, and traffic resumes after the replug', async (t) => {
    const [n1, n2, n3] = nodes as [LabProc, LabProc, LabProc];
    const mark1 = n1.events.length;
    const mark2 = n2.events.length;
    const mark3 = n3.events.length;
    const tCut = Date.now();
    lab('cut', '2');
    t.comment(`cut 2 took ${Date.now() - tCut} ms`);

    // sends towards the cut node never block; the queue is bounded (1 MiB here)
    n1.send({ cmd: 'burst', to: 'n2', n: 3000, bytes: 1000 });
    const burst = await n1.waitEvent((e) => e.ev === 'burst', 3000, 'burst', mark1);
    const bs = burst.stats as { queuedBytes: number; dropped: number };
    t.ok((burst.ms as number) < 150, `3,000 sends of 1 KB to the cut node took ${(burst.ms as number).toFixed(1)} ms`);
    t.ok(bs.queuedBytes <= 1024 * 1024 && bs.dropped > 0, `queued ${bs.queuedBytes} bytes (cap 1 MiB), dropped ${bs.dropped}`);

    // a connect to the cut node gives up after connectTimeoutMs
    n1.send({ cmd: 'request', to: { host: ip(2), port: PORT }, req: {}, timeoutMs: 10_000 });
    const rep = await n1.waitEvent((e) => e.ev === 'reply', 5000, 'reply from the cut node', mark1);
    t.match(rep, { ok: false, code: 'ECONNECT', message: /connect timeout after 1000 ms/ });
    t.ok((rep.ms as number) >= CONNECT - 20 && (rep.ms as number) < CONNECT + 500, `connect to the cut node gave up after ${(rep.ms as number).toFixed(0)} ms (connectTimeoutMs ${CONNECT})`);

    const down1 = await n1.waitEvent((e) => link(e, 'n2', false), IDLE + 2000, 'n1 sees n2 down', mark1);
    const down3 = await n3.waitEvent((e) => link(e, 'n2', false), IDLE + 2000, 'n3 sees n2 down', mark3);
    const down2 = await n2.waitEvent((e) => link(e, 'n1', false), IDLE + 2000, 'n2 sees n1 down', mark2);
    const d1 = down1.t - tCut;
    const d3 = down3.t - tCut;
    const d2 = down2.t - tCut;
    t.comment(`cut detected after: n1 ${d1} ms, n3 ${d3} ms, on the cut node itself ${d2} ms (idleTimeoutMs ${IDLE})`);
    for (const d of [d1, d2, d3]) t.ok(d >= IDLE - 1000 && d <= IDLE + 500, `detected within idleTimeoutMs + 500 ms (${d} ms)`);
    t.notOk(n1.events.slice(mark1).some((e) => link(e, 'n3', false)), 'the n1 <-> n3 link is untouched');

    await new Promise((r) => setTimeout(r, 500));
    const tRestore = Date.now();
    lab('restore', '2');
    const r12 = await n2.waitEvent((e) => e.ev === 'resume' && e.from === 'n1', 6000, 'n2 hears n1 again', mark2);
    const r21 = await n1.waitEvent((e) => e.ev === 'resume' && e.from === 'n2', 6000, 'n1 hears n2 again', mark1);
    const r23 = await n3.waitEvent((e) => e.ev === 'resume' && e.from === 'n2', 6000, 'n3 hears n2 again', mark3);
    const up = Math.max(r12.t, r21.t, r23.t) - tRestore;
    t.comment(`after restore 2 (cut lasted ${tRestore - tCut} ms): n2 hears n1 after ${r12.t - tRestore} ms, n1 hears n2 after ${r21.t - tRestore} ms, n3 hears n2 after ${r23.t - tRestore} ms`);
    t.ok(up < 2500, `messages flow both ways again within ${up} ms of the replug`);
  });

  t.test('a cut lasting longer than the backoff cap still recovers', async (t) => {
    const [n1, n2] = nodes as [LabProc, LabProc];
    const mark1 = n1.events.length;
    const tCut = Date.now();
    lab('cut', '2');
    await n1.waitEvent((e) => link(e, 'n2', false), IDLE + 2000, 'n1 sees n2 down', mark1);
    await new Promise((r) => setTimeout(r, 12_000 - (Date.now() - tCut)));
    const tRestore = Date.now();
    lab('restore', '2');
    const r21 = await n1.waitEvent((e) => e.ev === 'resume' && e.from === 'n2', 10_000, 'n1 hears n2 again', mark1);
    const up = await n1.waitEvent((e) => link(e, 'n2', true), 10_000, 'n1 link to n2 up', mark1);
    t.comment(`12 s cut: n1 hears n2 ${r21.t - tRestore} ms and its own link is up ${up.t - tRestore} ms after the replug (bounded by the 5 s backoff cap + connect timeout; the peer that redials first resets the other's backoff)`);
    t.ok(r21.t - tRestore < 6500);
    void n2;
  });

  t.test('a board that loses power (SIGKILL) is gone, and the others notice', async (t) => {
    const [n1, , n3] = nodes as [LabProc, LabProc, LabProc];
    const mark1 = n1.events.length;
    const pid = n3.pid;
    const tKill = Date.now();
    await n3.kill();
    t.ok(gone(pid), `PID ${pid} is gone`);
    const d = await n1.waitEvent((e) => link(e, 'n3', false), IDLE + 2000, 'n1 sees n3 down', mark1);
    t.comment(`power loss of n3 noticed by n1 after ${d.t - tKill} ms (its kernel still answers with RST: the namespace lives on)`);
    n1.send({ cmd: 'stats' });
    const st = await n1.waitEvent((e) => e.ev === 'stats', 2000, 'stats', mark1);
    t.comment(`n1 RSS ${((st.rss as number) / 1048576).toFixed(0)} MiB; stats ${JSON.stringify(st.stats)}`);
    for (const n of nodes) n.send({ cmd: 'exit' });
    await Promise.all(nodes.map((n) => n.exit()));
    t.ok(nodes.every((n) => n.exited && gone(n.pid)), 'all node processes exited');
  });
}
