import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Demuxer, LineSplitter, createDockerRuntime, engineMessage, labelFilters, parseDockerHost, toCreateOptions, toRuntimeEvent,
} from '../../../daemon/src/runtime/docker.js';
import { RuntimeError, type ContainerSpec } from '../../../daemon/src/runtime/types.js';
import { FakeClock, createSystemClock } from '../../../daemon/src/lib/clock.js';
import { silentLogger } from '../../../daemon/src/lib/logger.js';

const frame = (stream: number, text: string): Buffer => {
  const data = Buffer.from(text);
  const h = Buffer.alloc(8);
  h[0] = stream;
  h.writeUInt32BE(data.length, 4);
  return Buffer.concat([h, data]);
};

const spec = (over: Partial<ContainerSpec> = {}): ContainerSpec => ({
  name: 'c1', image: 'img:1', env: ['A=1'], labels: { 'pifleet.pod.uid': 'u1' }, network: { mode: 'bridge' }, ports: [], mounts: [], ...over,
});

t.test('Docker host strings are parsed into a unix socket or a tcp endpoint, and nonsense is refused with the accepted forms', async (t) => {
  t.same(parseDockerHost('unix:///run/d.sock'), { kind: 'unix', socketPath: '/run/d.sock', display: 'unix:///run/d.sock' });
  t.same(parseDockerHost('/var/run/docker.sock'), { kind: 'unix', socketPath: '/var/run/docker.sock', display: 'unix:///var/run/docker.sock' });
  t.same(parseDockerHost('tcp://10.0.0.2:2375'), { kind: 'tcp', host: '10.0.0.2', port: 2375, display: 'tcp://10.0.0.2:2375' });
  t.same(parseDockerHost('tcp://pi4'), { kind: 'tcp', host: 'pi4', port: 2375, display: 'tcp://pi4:2375' });
  t.throws(() => parseDockerHost('ftp://x'), { code: 'Unavailable', message: /unix:\/\/\/path.*tcp:\/\/host:port/ });
});

t.test('the demuxer reassembles stdout and stderr frames split at arbitrary chunk boundaries', async (t) => {
  const all = Buffer.concat([frame(1, 'hello '), frame(2, 'oops\n'), frame(1, 'world\n'), frame(1, '')]);
  for (let cut = 1; cut < all.length; cut += 3) {
    const got: string[] = [];
    const d = new Demuxer((s, data) => got.push(`${s}:${data.toString()}`));
    d.push(all.subarray(0, cut));
    d.push(all.subarray(cut));
    t.same(got, ['stdout:hello ', 'stderr:oops\n', 'stdout:world\n'], `cut at ${cut}`);
    t.equal(d.pending, 0);
  }
  const raw: string[] = [];
  const d = new Demuxer((s, data) => raw.push(`${s}:${data.toString()}`));
  d.push(Buffer.from('plain tty output\n'));
  t.same(raw, ['stdout:plain tty output\n'], 'a non-multiplexed (TTY) stream passes through as stdout');
});

t.test('the line splitter keeps a partial last line until more data or the end, and strips CR', async (t) => {
  const lines: string[] = [];
  const s = new LineSplitter((l) => lines.push(l), 8);
  s.push('a\r\nb');
  t.same(lines, ['a']);
  s.push('c\nd');
  t.same(lines, ['a', 'bc']);
  s.flush();
  t.same(lines, ['a', 'bc', 'd']);
  s.push('0123456789ab');
  t.same(lines.slice(3), ['01234567'], 'a runaway line is emitted in bounded pieces');
  s.flush();
  t.same(lines.slice(4), ['89ab']);
});

t.test('a spec with an entrypoint and no args drops the image CMD, as Kubernetes does', async (t) => {
  t.same(toCreateOptions(spec({ entrypoint: ['/bin/app'] })).Cmd, []);
  t.same(toCreateOptions(spec({ entrypoint: ['/bin/app'], cmd: ['-v'] })).Cmd, ['-v']);
  const o = toCreateOptions(spec({ cmd: ['run'] }));
  t.same(o.Cmd, ['run']);
  t.equal(o.Entrypoint, undefined, 'args alone keep the image entrypoint');
  t.equal(toCreateOptions(spec()).Cmd, undefined);
});

t.test('the host config carries the agent-owned restart policy, capped json-file logs, limits without swap and mounts', async (t) => {
  const o = toCreateOptions(spec({
    memoryBytes: 64 << 20, nanoCpus: 500_000_000, hostname: 'web-1', dns: ['10.0.0.1'], extraHosts: ['db:10.0.0.9'],
    ports: [{ containerPort: 80, hostPort: 8080, protocol: 'tcp' }, { containerPort: 53, hostPort: 0, protocol: 'udp' }, { containerPort: 9000, protocol: 'tcp' }],
    mounts: [
      { type: 'bind', source: '/srv', target: '/data', readOnly: true },
      { type: 'volume', source: 'v1', target: '/v' },
      { type: 'tmpfs', target: '/secrets', sizeBytes: 1 << 20, mode: 0o700 },
    ],
  }));
  const h = o.HostConfig!;
  t.same(h.RestartPolicy, { Name: 'no' });
  t.equal(h.Init, false);
  t.same(h.LogConfig, { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '2' } });
  t.equal(h.Memory, 64 << 20);
  t.equal(h.MemorySwap, 64 << 20, 'no swap beyond the limit');
  t.equal(h.NanoCpus, 500_000_000);
  t.equal(h.NetworkMode, 'bridge');
  t.same(h.PortBindings, { '80/tcp': [{ HostPort: '8080', HostIp: '' }], '53/udp': [{ HostPort: '', HostIp: '' }] });
  t.same(Object.keys(o.ExposedPorts!).sort(), ['53/udp', '80/tcp', '9000/tcp'], 'a port without hostPort is exposed, not published');
  t.same(h.Mounts, [
    { Type: 'bind', Source: '/srv', Target: '/data', ReadOnly: true },
    { Type: 'volume', Source: 'v1', Target: '/v', ReadOnly: false },
    { Type: 'tmpfs', Source: '', Target: '/secrets', TmpfsOptions: { SizeBytes: 1 << 20, Mode: 0o700 } },
  ]);
  t.equal(o.Hostname, 'web-1');
  t.same(h.Dns, ['10.0.0.1']);
  t.same(h.ExtraHosts, ['db:10.0.0.9']);
  t.same(o.Env, ['A=1']);
  t.same(o.Labels, { 'pifleet.pod.uid': 'u1' });
});

t.test('a container joining another network namespace gets no ports, hostname, dns or extra hosts', async (t) => {
  const o = toCreateOptions(spec({
    network: { mode: 'container', id: 'abc' }, hostname: 'x', dns: ['1.1.1.1'], extraHosts: ['a:1.2.3.4'],
    ports: [{ containerPort: 80, hostPort: 8080, protocol: 'tcp' }],
  }));
  t.equal(o.HostConfig!.NetworkMode, 'container:abc');
  t.equal(o.Hostname, undefined);
  t.equal(o.ExposedPorts, undefined);
  t.equal(o.HostConfig!.PortBindings, undefined);
  t.equal(o.HostConfig!.Dns, undefined);
  t.equal(o.HostConfig!.ExtraHosts, undefined);
  const host = toCreateOptions(spec({ network: { mode: 'host' }, ports: [{ containerPort: 80, hostPort: 80, protocol: 'tcp' }] }));
  t.equal(host.HostConfig!.NetworkMode, 'host');
  t.equal(host.HostConfig!.PortBindings, undefined, 'host network: nothing to publish');
});

t.test('engine events become runtime events with labels, exit code and millisecond time', async (t) => {
  const ev = toRuntimeEvent({
    Type: 'container', Action: 'die', Actor: { ID: 'abc', Attributes: { exitCode: '137', image: 'x', name: 'n', 'pifleet.pod.uid': 'u' } },
    time: 1700000000, timeNano: 1700000000123456789,
  });
  t.same(ev, { action: 'die', id: 'abc', labels: { 'pifleet.pod.uid': 'u' }, time: 1700000000123, exitCode: 137 });
  t.equal(toRuntimeEvent({ Type: 'container' }), undefined, 'an event without action or id is dropped');
  t.same(labelFilters({ a: '1', 'b.c': 'x=y' }), ['a=1', 'b.c=x=y']);
});

t.test("Docker's JSON error message is preferred over the HTTP wrapper text", async (t) => {
  t.equal(engineMessage({ statusCode: 404, json: { message: 'No such image: x:1' }, message: '(HTTP code 404) no such container' }), 'No such image: x:1');
  t.equal(engineMessage({ statusCode: 500, json: Buffer.from('plain text\n'), message: 'wrapped' }), 'plain text');
  t.equal(engineMessage(new Error('boom')), 'boom');
});

t.test('every call against a missing socket fails fast with Unavailable and tells where and what to check', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pifleet-nosock-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const host = `unix://${join(dir, 'docker.sock')}`;
  const rt = createDockerRuntime({ logger: silentLogger(), clock: createSystemClock(), host });
  t.teardown(() => rt.close());
  const calls: Array<[string, () => Promise<unknown>]> = [
    ['info', () => rt.info()],
    ['listContainers', () => rt.listContainers({ a: 'b' })],
    ['inspect', () => rt.inspect('x')],
    ['imagePresent', () => rt.imagePresent('x:1')],
    ['createContainer', () => rt.createContainer(spec())],
    ['startContainer', () => rt.startContainer('x')],
    ['stopContainer', () => rt.stopContainer('x', 1)],
    ['removeContainer', () => rt.removeContainer('x')],
    ['ensureVolume', () => rt.ensureVolume('v', {})],
  ];
  for (const [name, call] of calls) {
    const err = await call().then(() => undefined, (e: unknown) => e);
    t.type(err, RuntimeError, name);
    t.equal((err as RuntimeError).code, 'Unavailable', `${name}: ${(err as Error).message}`);
    t.match((err as Error).message, `Docker is not reachable at ${host}`);
    t.match((err as Error).message, /is dockerd running\? check `systemctl status docker`/);
  }
});

t.test('a lost event stream is retried with exponential backoff on the injected clock until the subscription is closed', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pifleet-nosock-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const clock = new FakeClock();
  const rt = createDockerRuntime({ logger: silentLogger(), clock, host: join(dir, 'docker.sock') });
  t.teardown(() => rt.close());
  const errors: Error[] = [];
  const waitErrors = async (n: number): Promise<void> => {
    for (let i = 0; i < 200 && errors.length < n; i++) await new Promise((r) => setTimeout(r, 10));
    t.equal(errors.length, n, `${n} connection attempts failed`);
  };
  const sub = rt.events({ a: 'b' }, () => t.fail('no event expected'), (e) => errors.push(e));
  await waitErrors(1);
  t.equal((errors[0] as RuntimeError).code, 'Unavailable');
  t.equal(clock.pending(), 1, 'one reconnect timer, no spinning');
  clock.advance(249);
  await new Promise((r) => setTimeout(r, 50));
  t.equal(errors.length, 1, 'not before 250 ms');
  clock.advance(1);
  await waitErrors(2);
  clock.advance(499);
  await new Promise((r) => setTimeout(r, 50));
  t.equal(errors.length, 2, 'the second delay doubles to 500 ms');
  clock.advance(1);
  await waitErrors(3);
  sub.close();
  t.equal(clock.pending(), 0, 'close cancels the pending reconnect');
  clock.advance(60_000);
  await new Promise((r) => setTimeout(r, 50));
  t.equal(errors.length, 3);
});

t.test('a hung engine surfaces as Timeout after the request bound, and the request is aborted', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pifleet-hung-'));
  const sock = join(dir, 'docker.sock');
  const open = new Set<Socket>();
  let accepted = 0;
  // Reads (so it sees the client's EOF) but never answers.
  const server = createServer((c) => { accepted++; open.add(c); c.resume(); c.on('close', () => open.delete(c)); c.on('error', () => {}); });
  await new Promise<void>((r) => server.listen(sock, () => r()));
  t.teardown(async () => {
    for (const c of open) c.destroy();
    await new Promise<void>((r) => server.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  });
  const rt = createDockerRuntime({ logger: silentLogger(), clock: createSystemClock(), host: `unix://${sock}`, requestTimeoutMs: 300 });
  t.teardown(() => rt.close());
  for (const [name, call] of [
    ['info', () => rt.info()],
    ['inspect', () => rt.inspect('x')],
    ['listContainers', () => rt.listContainers({})],
    ['createContainer', () => rt.createContainer(spec())],
    ['imagePresent', () => rt.imagePresent('x:1')],
  ] as Array<[string, () => Promise<unknown>]>) {
    const t0 = Date.now();
    const err = await call().then(() => undefined, (e: unknown) => e);
    const took = Date.now() - t0;
    t.equal((err as RuntimeError).code, 'Timeout', `${name}: ${(err as Error).message}`);
    t.match((err as Error).message, /did not answer .* within 300 ms/);
    t.ok(took >= 250 && took < 5000, `${name} gave up after ${took} ms`);
  }
  t.ok(accepted >= 5, 'each call reached the (hung) engine');
  for (let i = 0; i < 100 && open.size > 0; i++) await new Promise((r) => setTimeout(r, 20));
  t.equal(open.size, 0, 'the aborted requests closed their connections');
});
