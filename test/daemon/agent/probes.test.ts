import t from 'tap';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { ContainerProbes, httpProbe, resolvePort, tcpProbe, type ProbeKind, type ProbeResult } from '../../../daemon/src/agent/probes.js';
import { FakeClock } from '../../../daemon/src/lib/clock.js';
import type { Container } from '../../../daemon/src/api/types.js';

const flush = async (): Promise<void> => { for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r)); };

function setup(container: Container, results: Partial<Record<ProbeKind, boolean[]>>, startedAt?: number) {
  const clock = new FakeClock();
  const calls: Array<{ kind: ProbeKind; at: number }> = [];
  const log: string[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const probes = new ContainerProbes({
    clock,
    target: { containerId: 'id1', container, podIP: '172.17.0.9', hostNetwork: false },
    startedAt: startedAt ?? clock.now(),
    run: async (kind): Promise<ProbeResult> => {
      calls.push({ kind, at: clock.now() });
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await Promise.resolve();
      inFlight--;
      const seq = results[kind] ?? [];
      const ok = seq.length > 1 ? (seq.shift() as boolean) : (seq[0] ?? true);
      return { ok, message: ok ? '' : `${kind} says no` };
    },
    callbacks: {
      onChange: () => log.push(`change ready=${probes.ready} started=${probes.started}`),
      onUnhealthy: (k, m) => log.push(`unhealthy ${k}: ${m}`),
      onFailure: (k, m) => log.push(`failure ${k}: ${m}`),
    },
  });
  return { clock, probes, calls, log, maxInFlight: () => maxInFlight };
}

const step = async (clock: FakeClock, ms: number): Promise<void> => { clock.advance(ms); await flush(); };

t.test('readiness turns Ready after successThreshold successes and off after failureThreshold failures', async (t) => {
  const s = setup({ name: 'c', readinessProbe: { exec: { command: ['x'] }, initialDelaySeconds: 2, periodSeconds: 1, successThreshold: 2, failureThreshold: 2 } },
    { readiness: [true, true, false, false, true] });
  s.probes.start();
  t.equal(s.probes.ready, false, 'not ready before the first probe');
  t.equal(s.probes.started, true, 'started without a startup probe');
  await step(s.clock, 1999);
  t.equal(s.calls.length, 0, 'initialDelaySeconds respected');
  await step(s.clock, 1);
  t.equal(s.probes.ready, false, 'one success is not enough');
  await step(s.clock, 1000);
  t.equal(s.probes.ready, true);
  await step(s.clock, 1000);
  t.equal(s.probes.ready, true, 'one failure is not enough');
  await step(s.clock, 1000);
  t.equal(s.probes.ready, false);
  t.same(s.log.filter((l) => l.startsWith('change')), ['change ready=true started=true', 'change ready=false started=true']);
  t.equal(s.log.filter((l) => l.startsWith('unhealthy readiness')).length, 2);
  s.probes.stop();
  const n = s.calls.length;
  await step(s.clock, 10_000);
  t.equal(s.calls.length, n, 'no probe after stop');
});

t.test('liveness failure after failureThreshold asks for a restart once and stops probing', async (t) => {
  const s = setup({ name: 'c', livenessProbe: { tcpSocket: { port: 80 }, periodSeconds: 10, failureThreshold: 3 } }, { liveness: [false] });
  s.probes.start();
  t.equal(s.probes.ready, true, 'no readiness probe: ready');
  await step(s.clock, 0);
  await step(s.clock, 10_000);
  t.notOk(s.log.some((l) => l.startsWith('failure')));
  await step(s.clock, 10_000);
  t.same(s.log.filter((l) => l.startsWith('failure')), ['failure liveness: liveness says no']);
  await step(s.clock, 60_000);
  t.equal(s.calls.length, 3);
  t.same(s.calls.map((c) => c.at - s.calls[0]!.at), [0, 10_000, 20_000], 'one run per period');
  t.equal(s.maxInFlight(), 1, 'never overlapping');
});

t.test('a startup probe gates liveness and readiness; its failure restarts the container', async (t) => {
  const s = setup({
    name: 'c',
    startupProbe: { exec: { command: ['x'] }, periodSeconds: 1, failureThreshold: 5 },
    livenessProbe: { exec: { command: ['x'] }, periodSeconds: 1 },
    readinessProbe: { exec: { command: ['x'] }, periodSeconds: 1 },
  }, { startup: [false, false, true], liveness: [true], readiness: [true] });
  s.probes.start();
  t.equal(s.probes.started, false);
  await step(s.clock, 0);
  await step(s.clock, 1000);
  t.same(s.calls.map((c) => c.kind), ['startup', 'startup']);
  await step(s.clock, 1000);
  t.equal(s.probes.started, true);
  await step(s.clock, 0);
  t.ok(s.calls.some((c) => c.kind === 'liveness') && s.calls.some((c) => c.kind === 'readiness'), 'the others start after startup succeeded');
  t.equal(s.probes.ready, true);
  t.equal(s.calls.filter((c) => c.kind === 'startup').length, 3, 'startup runs no more once it succeeded');

  const f = setup({ name: 'c', startupProbe: { exec: { command: ['x'] }, periodSeconds: 1, failureThreshold: 2 }, livenessProbe: { exec: { command: ['x'] } } }, { startup: [false] });
  f.probes.start();
  await step(f.clock, 0);
  await step(f.clock, 1000);
  t.same(f.log.filter((l) => l.startsWith('failure')), ['failure startup: startup says no']);
  t.notOk(f.calls.some((c) => c.kind === 'liveness'));
});

t.test('initialDelaySeconds counts from the container start (an adopted container is probed at once)', async (t) => {
  const clockStart = new FakeClock().now();
  const s = setup({ name: 'c', readinessProbe: { exec: { command: ['x'] }, initialDelaySeconds: 30 } }, { readiness: [true] }, clockStart - 3_600_000);
  s.probes.start();
  await step(s.clock, 0);
  t.equal(s.calls.length, 1);
  t.equal(s.probes.ready, true);
});

t.test('httpGet succeeds on 200-399, fails on other codes and refused connections, sends headers', async (t) => {
  let seen: Record<string, unknown> = {};
  const server: Server = createServer((req, res) => {
    seen = { host: req.headers.host, x: req.headers['x-probe'], ua: req.headers['user-agent'], url: req.url };
    const code = Number(req.url?.slice(1)) || 200;
    res.writeHead(code, code === 302 ? { Location: '/elsewhere' } : {});
    res.end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  const port = (server.address() as AddressInfo).port;
  t.match(await httpProbe(`http://127.0.0.1:${port}/200`, [{ name: 'Host', value: 'web.local' }, { name: 'X-Probe', value: 'yes' }], 1000), { ok: true });
  t.match(seen, { host: 'web.local', x: 'yes', url: '/200', ua: /^kube-probe\// });
  t.match(await httpProbe(`http://127.0.0.1:${port}/302`, [], 1000), { ok: true });
  t.same(await httpProbe(`http://127.0.0.1:${port}/500`, [], 1000), { ok: false, message: 'HTTP probe failed with statuscode: 500' });
  server.close();
  await new Promise((r) => setTimeout(r, 50));
  t.match(await httpProbe(`http://127.0.0.1:${port}/`, [], 1000), { ok: false, message: /ECONNREFUSED/ });
});

t.test('tcpSocket succeeds when the port accepts and fails when it refuses', async (t) => {
  const srv = createTcpServer((s) => s.end());
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  t.match(await tcpProbe('127.0.0.1', port, 1000), { ok: true });
  await new Promise<void>((r) => srv.close(() => r()));
  t.match(await tcpProbe('127.0.0.1', port, 1000), { ok: false, message: new RegExp(`^dial tcp 127.0.0.1:${port}: `) });
});

t.test('resolves probe ports by number and by container port name', async (t) => {
  const c: Container = { name: 'c', ports: [{ name: 'http', containerPort: 8080 }] };
  t.equal(resolvePort(80, c), 80);
  t.equal(resolvePort('9090', c), 9090);
  t.equal(resolvePort('http', c), 8080);
  t.equal(resolvePort('nope', c), undefined);
});
