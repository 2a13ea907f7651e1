/**
 * Failover in the lab, with a client applying writes all the time: the leader killed (kill -9:
 * power loss) and its cable pulled, in turns; replugged boards; minorities. Checked from every
 * node's log (no term with two leaders) and every member's disk (every acknowledged write).
 */
import t, { type Test } from 'tap';
import { Lab } from '../../harness/lab.js';
import { TestFleet, Writer } from '../../harness/fleet.js';
import { TEST_IMAGE_1 } from '../../harness/images.js';

const lab = await Lab.up(t, { nodes: 5, docker: true, prefix: 'cfo', subnet: '10.88.2' });

const TRIALS = Number(process.env.PIFLEET_FAILOVER_TRIALS ?? 20);

function noTermWithTwoLeaders(t: Test, fleet: TestFleet): void {
  const bad = [...fleet.timeline()].filter(([, s]) => s.size > 1).map(([k, s]) => `${k}: ${[...s].join(', ')}`);
  t.same(bad, [], `no term had two leaders (${fleet.timeline().size} terms seen)`);
}

async function leaderOf(fleet: TestFleet, ids: number[]): Promise<number> {
  const f = await fleet.formed(ids, ids.length, 60_000);
  return fleet.index(f.leader);
}

function checkOnDisk(t: Test, fleet: TestFleet, writer: Writer, ids: number[]): void {
  for (const i of ids) {
    const keys = fleet.keysOnDisk(i);
    const missing = writer.acknowledged.filter((a) => !keys.has(`ConfigMap/default/${a.name}`)).map((a) => a.name);
    t.same(missing, [], `node${i} holds every one of the ${writer.acknowledged.length} acknowledged writes`);
  }
}

t.test('five daemons with only the same token form one fleet with one leader; a minority of 2 of 5 accepts no write, says why, and keeps its pods running', async (t) => {
  const fleet = await TestFleet.create(t, lab);
  const ids = [1, 2, 3, 4, 5];
  await fleet.start(ids);
  const leader = await leaderOf(fleet, ids);
  t.pass(`one fleet of 5, leader node${leader}`);
  const api = await fleet.api();
  t.teardown(() => api.close());
  // a DaemonSet: a pod on every board
  await api.request('apply', { objects: [{
    apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'keep', namespace: 'default' },
    spec: { selector: { matchLabels: { app: 'keep' } }, template: { metadata: { labels: { app: 'keep' } }, spec: { terminationGracePeriodSeconds: 1, containers: [{ name: 'c', image: TEST_IMAGE_1, imagePullPolicy: 'Never', command: ['sleep', '3600'] }] } } },
  }] });
  const running = async (i: number): Promise<string[]> => {
    const r = await lab.exec(i, ['docker', 'ps', '-q', '--filter', `label=pifleet.cluster=${fleet.cluster}`, '--filter', 'label=pifleet.container=c'], { env: { DOCKER_HOST: lab.dockerHost(i) } });
    return r.stdout.trim().split('\n').filter(Boolean);
  };
  for (const i of ids) {
    const until = Date.now() + 60_000;
    while ((await running(i)).length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 300));
  }
  const before = new Map(await Promise.all(ids.map(async (i) => [i, await running(i)] as const)));
  t.ok([...before.values()].every((c) => c.length === 1), 'a daemon pod runs on every board');

  // 2 of 5: the leader and one follower cut off from the other three (they still see each other)
  const minority = [leader, ids.find((i) => i !== leader) as number];
  const majority = ids.filter((i) => !minority.includes(i));
  for (const a of minority) for (const b of majority) await lab.block(a, b);
  const newLeader = await fleet.leaderAmong(majority, 30_000);
  t.ok(majority.includes(newLeader), `the majority elected node${newLeader}`);
  await new Promise((r) => setTimeout(r, 2500)); // more than an election timeout: the old leader stepped down
  const cm = `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: minority-write }\ndata: { a: "1" }\n`;
  for (const i of minority) {
    const r = await fleet.node(i).cli(['apply', '-f', '-'], { input: cm, timeoutMs: 30_000 });
    t.not(r.code, 0, `node${i} (minority) refuses the write`);
    t.match(r.stderr, /no quorum/, `node${i} says why: ${r.stderr.trim().split('\n')[0]}`);
    t.same(await running(i), before.get(i), `node${i} keeps its pod running`);
  }
  const majorityWrite = await fleet.node(majority[0] as number).cli(['apply', '-f', '-'], { input: cm.replace('minority-write', 'majority-write'), timeoutMs: 30_000 });
  t.equal(majorityWrite.code, 0, `the majority takes writes: ${majorityWrite.stderr}`);
  for (const a of minority) for (const b of majority) await lab.unblock(a, b);
  await fleet.formed(ids, 5, 60_000);

  noTermWithTwoLeaders(t, fleet);
});

t.test(`${TRIALS} failovers (leader kill -9 and leader cable pull, in turns) under continuous writes lose no acknowledged write and never have two leaders in a term`, async (t) => {
  const fleet = await TestFleet.create(t, lab);
  const ids = [1, 2, 3];
  await fleet.start(ids);
  await fleet.formed(ids);
  const writer = new Writer(fleet, () => ids);
  writer.start();
  t.teardown(() => writer.stop());
  const gaps: number[] = [];
  for (let k = 0; k < TRIALS; k++) {
    const leader = await leaderOf(fleet, ids);
    await new Promise((r) => setTimeout(r, 150)); // some writes in steady state
    const cable = k % 2 === 1;
    if (cable) await lab.cut(leader); else await fleet.node(leader).kill9();
    // from the moment the cut or the kill is complete: answers already on the wire do not count
    const t0 = Date.now();
    const ack = await new Promise<number | undefined>((resolve) => {
      const until = Date.now() + 30_000;
      const tick = (): void => {
        const a = writer.firstAckAfter(t0);
        if (a !== undefined || Date.now() > until) resolve(a); else setTimeout(tick, 20);
      };
      tick();
    });
    t.ok(ack !== undefined, `trial ${k + 1}: writes resume after the ${cable ? 'cable pull' : 'kill -9'} of node${leader}`);
    if (ack !== undefined) gaps.push(ack - t0);
    t.comment(`trial ${k + 1}: ${cable ? 'cable pull' : 'kill -9'} of node${leader}: next write acknowledged after ${ack === undefined ? '-' : ack - t0} ms`);
    if (cable) await lab.restore(leader); else await fleet.node(leader).start();
  }
  await fleet.formed(ids);
  await writer.stop();
  const sorted = [...gaps].sort((a, b) => a - b);
  t.comment(`leader loss to the next acknowledged write: p50 ${(sorted[Math.floor(sorted.length / 2)]! / 1000).toFixed(2)} s, max ${(sorted.at(-1)! / 1000).toFixed(2)} s over ${gaps.length} trials; ${writer.acknowledged.length} writes acknowledged, ${writer.failures.length} refused or timed out`);
  t.ok(sorted.at(-1)! < 15_000, 'every failover healed within 15 s');
  // every acknowledged write is on every member's disk once the last one back has caught up
  await fleet.caughtUp(ids);
  checkOnDisk(t, fleet, writer, ids);
  t.comment(`terms: ${[...fleet.timeline()].map(([k, v]) => `${k.split('/')[1]}:${[...v].join('+')}`).join(' ')}`);
  noTermWithTwoLeaders(t, fleet);
});

t.test('replugging a board causes no election and no failed write; a board cut off alone refuses writes and says why', async (t) => {
  const fleet = await TestFleet.create(t, lab);
  const ids = [1, 2, 3];
  await fleet.start(ids);
  let leader = await leaderOf(fleet, ids);
  const writer = new Writer(fleet, () => ids);
  writer.start();
  t.teardown(() => writer.stop());
  await new Promise((r) => setTimeout(r, 500));
  const termsBefore = fleet.timeline().size;
  // a follower cut for longer than any election timeout, then back
  const follower = ids.find((i) => i !== leader) as number;
  await lab.cut(follower);
  await new Promise((r) => setTimeout(r, 2000)); // past any election timeout (2 x 800 ms)
  const failuresBefore = writer.failures.length;
  await lab.restore(follower);
  await fleet.formed(ids);
  await new Promise((r) => setTimeout(r, 2000));
  t.equal(fleet.timeline().size, termsBefore, 'the follower\'s return started no election');
  t.equal(writer.failures.length - failuresBefore, 0, 'no write failed when it came back');
  // the old leader of a failover comes back: no second election
  await lab.cut(leader);
  const newLeader = await fleet.leaderAmong(ids.filter((i) => i !== leader));
  t.not(newLeader, leader, 'a new leader took over');
  await new Promise((r) => setTimeout(r, 2000));
  const termsAfterFailover = fleet.timeline().size;
  const failuresAfterFailover = writer.failures.length;
  await lab.restore(leader);
  leader = await leaderOf(fleet, ids);
  await new Promise((r) => setTimeout(r, 2000));
  t.equal(leader, newLeader, 'the healthy leader stays');
  t.equal(fleet.timeline().size, termsAfterFailover, 'the old leader\'s return started no election');
  t.equal(writer.failures.length - failuresAfterFailover, 0, 'no write failed when it came back');
  await writer.stop();
  await fleet.caughtUp(ids);
  checkOnDisk(t, fleet, writer, ids);
  noTermWithTwoLeaders(t, fleet);
  // 1 of 3: a follower's cable pulled
  const cm = `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: lone-write }\ndata: { a: "1" }\n`;
  const small = fleet;
  const l3 = await leaderOf(small, [1, 2, 3]);
  const lone = [1, 2, 3].find((i) => i !== l3) as number;
  await lab.cut(lone);
  await new Promise((r) => setTimeout(r, 2500));
  const r1 = await small.node(lone).cli(['apply', '-f', '-'], { input: cm, timeoutMs: 30_000 });
  t.not(r1.code, 0, 'the cut board refuses the write');
  t.match(r1.stderr, /no quorum/, `and says why: ${r1.stderr.trim().split('\n')[0]}`);
  const st = await small.node(lone).cli(['status']);
  t.match(st.stdout, /none reachable/, 'status says no leader is reachable');
  await lab.restore(lone);
  await small.formed([1, 2, 3]);
  noTermWithTwoLeaders(t, small);
});

