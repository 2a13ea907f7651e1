/**
 * The daemon as a process: readiness, the client config, the node, clean stops that leave the
 * workloads running, kill -9 with adoption, sd_notify, the MQTT API from outside clients.
 */
import t from 'tap';
import { spawn, execFile } from 'node:child_process';
import { statSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import mqtt from 'mqtt';
import { startTestDaemon, TestDaemon, apiClient, waitFor, podReady, containerIds, docker, type PodLike } from '../../harness/daemon.js';
import { ensureTestImages } from '../../harness/images.js';
import { sleeperPod } from '../../harness/manifests.js';

t.before(async () => {
  await ensureTestImages();
});

const sleeper = sleeperPod;

function mqttPort(d: TestDaemon): number {
  const cfg = parseYaml(d.clientConfig()) as { server: string };
  return Number(new URL(cfg.server).port);
}

t.test('a fresh daemon shows its node Ready and writes its token and client config 0600', async (t) => {
  const d = await startTestDaemon(t);
  const nodes = await waitFor('node Ready', async () => {
    const r = await d.cli(['get', 'nodes']);
    return r.code === 0 && /node1\s+Ready\s/.test(r.stdout) ? r : undefined;
  }, { timeoutMs: 30_000 });
  t.match(nodes.stdout, /^NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION/m);
  t.equal(statSync(join(d.stateDir, 'client.yaml')).mode & 0o777, 0o600);
  t.equal(statSync(join(d.stateDir, 'token')).mode & 0o777, 0o600);
  const node = await d.json<{ status: { capacity: Record<string, string>; allocatable: Record<string, string> }; metadata: { labels: Record<string, string> } }>(['get', 'node', 'node1']);
  t.ok(node.status.capacity.cpu && node.status.capacity.memory && node.status.capacity.pods, 'capacity has cpu, memory, pods');
  t.equal(node.metadata.labels['kubernetes.io/hostname'], 'node1');
  t.ok(['amd64', 'arm64', 'arm'].includes(node.metadata.labels['kubernetes.io/arch'] ?? ''), 'arch label');
  t.equal(node.metadata.labels['kubernetes.io/os'], 'linux');
});

t.test('SIGTERM stops the daemon cleanly, the workloads keep running and a restart adopts them', async (t) => {
  const d = await startTestDaemon(t);
  const api = await apiClient(t, d);
  t.equal((await d.cli(['apply', '-f', '-'], { input: sleeper('keep') })).code, 0);
  const before = await waitFor('keep ready', async () => {
    const p = await api.request<PodLike>('get', { kind: 'pods', name: 'keep' });
    return podReady(p) ? p : undefined;
  }, { timeoutMs: 60_000 });
  const [cid] = containerIds(before);
  await api.close();
  t.equal(await d.stop(), 0, 'exit code 0 after SIGTERM');
  const inspect = await docker(['inspect', '-f', '{{.State.Running}}', cid!]);
  t.equal(inspect.stdout.trim(), 'true', 'the container still runs while the daemon is stopped');
  await d.start();
  const api2 = await apiClient(t, d);
  const after = await waitFor('keep ready after restart', async () => {
    const p = await api2.request<PodLike>('get', { kind: 'pods', name: 'keep' });
    return podReady(p) ? p : undefined;
  }, { timeoutMs: 60_000 });
  t.same(containerIds(after), [cid], 'the same container was adopted');
  t.equal(after.status!.containerStatuses![0]!.restartCount, 0);
});

t.test('kill -9 twenty times while applying loses no applied object and restarts no container', async (t) => {
  const d = await startTestDaemon(t);
  t.equal((await d.cli(['apply', '-f', '-'], { input: sleeper('steady') })).code, 0);
  const first = await waitFor('steady ready', async () => {
    const r = await d.cli(['get', 'pod', 'steady', '-o', 'json']);
    const p = r.code === 0 ? JSON.parse(r.stdout) as PodLike : undefined;
    return p && podReady(p) ? p : undefined;
  }, { timeoutMs: 60_000 });
  const [cid] = containerIds(first);
  const acknowledged: string[] = [];
  for (let i = 0; i < 20; i++) {
    const name = `cm-${i}`;
    const manifest = `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: ${name} }\ndata: { i: "${i}" }\n`;
    // an apply that completes, then one racing the kill
    const ok = await d.cli(['apply', '-f', '-'], { input: manifest });
    if (ok.code === 0) acknowledged.push(name);
    const racing = d.cli(['apply', '-f', '-'], { input: manifest.replace(name, `${name}-race`), timeoutMs: 15_000 });
    await new Promise((r) => setTimeout(r, 20 + Math.floor(Math.random() * 150)));
    await d.kill9();
    const raced = await racing;
    if (raced.code === 0) acknowledged.push(`${name}-race`);
    await d.start();
  }
  t.ok(acknowledged.length >= 20, `${acknowledged.length} applies were acknowledged`);
  const list = await d.json<{ items: Array<{ metadata: { name: string } }> }>(['get', 'configmaps']);
  const names = new Set(list.items.map((c) => c.metadata.name));
  const lost = acknowledged.filter((n) => !names.has(n));
  t.same(lost, [], 'every acknowledged object survived');
  const now = await waitFor('steady reported after the last restart', async () => {
    const r = await d.cli(['get', 'pod', 'steady', '-o', 'json']);
    const p = r.code === 0 ? JSON.parse(r.stdout) as PodLike : undefined;
    return p && podReady(p) ? p : undefined;
  }, { timeoutMs: 60_000 });
  t.same(containerIds(now), [cid], 'the same container kept running through 20 kill -9');
  t.equal(now.status!.containerStatuses![0]!.restartCount, 0);
  const running = (await docker(['ps', '-q', '--filter', `label=pifleet.cluster=${d.cluster}`])).stdout.trim().split('\n').filter(Boolean);
  t.equal(running.length, 1, 'no extra containers were started');
});

t.test('sends READY=1 and WATCHDOG=1 to the NOTIFY_SOCKET it is given', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pifleet-notify-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const sock = join(dir, 'notify.sock');
  // a datagram receiver the test owns (Node has no AF_UNIX datagram sockets)
  const receiver = spawn('python3', ['-u', '-c', `
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("listening", flush=True)
while True:
    data, anc, flags, addr = s.recvmsg(4096, 1024)
    print(data.decode(errors="replace").replace("\\n", "|"), flush=True)
`, sock], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => { receiver.kill('SIGKILL'); });
  let got = '';
  receiver.stdout.on('data', (b: Buffer) => { got += b.toString(); });
  await waitFor('receiver listening', () => got.includes('listening'), { timeoutMs: 10_000 });
  const d = await startTestDaemon(t, { env: { NOTIFY_SOCKET: sock, WATCHDOG_USEC: '2000000' } });
  await waitFor('READY=1', () => /READY=1/.test(got), { timeoutMs: 10_000 });
  await waitFor('two WATCHDOG=1', () => (got.match(/WATCHDOG=1/g) ?? []).length >= 2, { timeoutMs: 10_000 });
  t.match(got, new RegExp(`MAINPID=${d.pid}`), 'sent on behalf of the daemon\'s PID');
  t.equal(await d.stop(), 0);
  await waitFor('STOPPING=1', () => /STOPPING=1/.test(got), { timeoutMs: 5_000 });
});

t.test('mosquitto_sub with the token sees node status, pod status and events; without it is refused', async (t) => {
  const d = await startTestDaemon(t);
  const port = String(mqttPort(d));
  const token = (parseYaml(d.clientConfig()) as { token: string }).token;
  // start the subscriber first, then make something happen
  const sub = spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', port, '-u', 'watcher', '-P', token, '-t', `pifleet/${d.cluster}/#`, '-v', '-W', '25'], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => { sub.kill('SIGKILL'); });
  let out = '';
  sub.stdout.on('data', (b: Buffer) => { out += b.toString(); });
  t.equal((await d.cli(['apply', '-f', '-'], { input: sleeper('seen') })).code, 0);
  await waitFor('node status, pod status and events on MQTT', () =>
    out.includes(`pifleet/${d.cluster}/nodes/node1/status `)
    && /pifleet\/\S+\/nodes\/node1\/pods .*"name":"seen"/.test(out)
    && /pifleet\/\S+\/events .*"reason":"(Scheduled|Started|Created)"/.test(out), { timeoutMs: 30_000 });
  t.match(out, new RegExp(`pifleet/${d.cluster}/leader .*"node":"node1"`), 'the retained leader announcement');

  const refused = await new Promise<{ code: number | null; stderr: string }>((res) => {
    execFile('mosquitto_sub', ['-h', '127.0.0.1', '-p', port, '-t', `pifleet/${d.cluster}/#`, '-C', '1', '-W', '5'], (err, _o, stderr) => {
      res({ code: err ? (err as { code?: number }).code ?? 1 : 0, stderr: String(stderr) });
    });
  });
  t.not(refused.code, 0, 'anonymous mosquitto_sub fails');
  t.match(refused.stderr, /not authori[sz]ed|Connection Refused|bad user name or password/i);
  const wrong = await new Promise<{ code: number | null; stderr: string }>((res) => {
    execFile('mosquitto_sub', ['-h', '127.0.0.1', '-p', port, '-u', 'x', '-P', 'wrong-token-0000000000', '-t', '#', '-C', '1', '-W', '5'], (err, _o, stderr) => {
      res({ code: err ? (err as { code?: number }).code ?? 1 : 0, stderr: String(stderr) });
    });
  });
  t.not(wrong.code, 0, 'a wrong token is refused');
});

t.test('malformed payloads on the request topics get error responses and never crash the daemon', async (t) => {
  const d = await startTestDaemon(t);
  const port = mqttPort(d);
  const token = (parseYaml(d.clientConfig()) as { token: string }).token;
  const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { username: 'fuzz', password: token, reconnectPeriod: 0 });
  t.teardown(() => c.endAsync());
  const responses: Array<{ topic: string; body: string }> = [];
  c.on('message', (topic, payload) => responses.push({ topic, body: payload.toString() }));
  await c.subscribeAsync(`pifleet/${d.cluster}/api/fuzz/response/#`);
  const base = `pifleet/${d.cluster}/api/fuzz/request`;
  const cases: Array<[string, string | Buffer]> = [
    ['apply', 'not json at all'],
    ['apply', '[1,2,3]'],
    ['apply', '{"id":"a1"}'],
    ['apply', '{"id":"a2","objects":[null,42,{"kind":"Pod"}]}'],
    ['apply', '{"id":"a3","objects":[{"apiVersion":"v1","kind":"Pod","metadata":{"name":"BAD_NAME"},"spec":{"containers":[]}}]}'],
    ['get', '{"id":"g1","kind":42}'],
    ['get', '{"id":"g2","kind":"nonsense"}'],
    ['delete', '{"id":"d1","kind":"pods","name":{"x":1}}'],
    ['nosuchop', '{"id":"n1"}'],
    ['apply', Buffer.from([0xff, 0xfe, 0x00, 0x01])],
    ['patch', '{"id":"p1","kind":"configmaps","name":"x","patch":"nope"}'],
    ['scale', '{"id":"s1","kind":"deployments","name":"nothing","replicas":-4}'],
  ];
  for (const [op, body] of cases) await c.publishAsync(`${base}/${op}`, body);
  const ids = ['a1', 'a2', 'a3', 'g1', 'g2', 'd1', 'n1', 'p1', 's1'];
  await waitFor('an error response per request with an id', () => ids.every((id) => responses.some((r) => r.body.includes(`"id":"${id}"`))), { timeoutMs: 15_000 });
  for (const id of ids) {
    const r = JSON.parse(responses.find((x) => x.body.includes(`"id":"${id}"`))!.body) as { status: string; error?: { reason: string; message: string } };
    t.equal(r.status, 'error', `${id} is an error`);
    t.ok(r.error?.message, `${id} says why: ${r.error?.message}`);
  }
  t.equal(d.proc!.exitCode, null, 'the daemon is still running');
  const nodes = await d.cli(['get', 'nodes']);
  t.equal(nodes.code, 0, 'and still answers');
  const pods = await d.json<{ items: unknown[] }>(['get', 'pods']);
  t.equal(pods.items.length, 0, 'nothing was applied');
});

t.test('an invalid manifest exits non-zero with FILE:LINE:COL field: reason and applies nothing', async (t) => {
  const d = await startTestDaemon(t);
  const dir = mkdtempSync(join(tmpdir(), 'pifleet-bad-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'bad.yaml');
  writeFileSync(file, `apiVersion: v1
kind: ConfigMap
metadata:
  name: good-one
data:
  a: "1"
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: broken
spec:
  replicas: 1
  selector:
    matchLabels: { app: x }
  template:
    metadata:
      labels: { app: x }
    spec:
      containers:
        - name: c
          image: 42
`);
  const r = await d.cli(['apply', '-f', file]);
  t.not(r.code, 0);
  t.match(r.stderr, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:22:(11|18) spec\\.template\\.spec\\.containers\\[0\\]\\.image: `));
  const cms = await d.json<{ items: Array<{ metadata: { name: string } }> }>(['get', 'configmaps']);
  t.notOk(cms.items.some((c) => c.metadata.name === 'good-one'), 'the valid document in the same apply was not applied');
});

t.test('CLI output through a pipe is complete beyond 64 KiB (the process waits for stdout to drain)', async (t) => {
  const d = await startTestDaemon(t);
  const docs = Array.from({ length: 30 }, (_, i) => `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: big-${i} }\ndata: { v: "${'x'.repeat(8000)}" }\n`).join('---\n');
  t.equal((await d.cli(['apply', '-f', '-'], { input: docs })).code, 0);
  const r = await d.cli(['get', 'configmaps', '-o', 'json']); // stdout is a pipe here
  t.equal(r.code, 0, r.stderr);
  t.ok(r.stdout.length > 200_000, `${r.stdout.length} bytes arrived`);
  const list = JSON.parse(r.stdout) as { items: unknown[] };
  t.ok(list.items.length >= 30, 'the whole JSON document parses');
});
