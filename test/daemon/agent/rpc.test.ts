import t from 'tap';
import { RpcError, RpcHandler, BATCH_LINES } from '../../../daemon/src/agent/rpc.js';
import { createSystemClock } from '../../../daemon/src/lib/clock.js';
import { silentLogger } from '../../../daemon/src/lib/logger.js';
import type { ApiResponse } from '../../../daemon/src/broker/topics.js';
import type { LogOptions, Runtime } from '../../../daemon/src/runtime/types.js';
import { RuntimeError } from '../../../daemon/src/runtime/types.js';

function setup(opts: { lines?: number; follow?: boolean; running?: boolean; missing?: boolean } = {}) {
  const out: ApiResponse[] = [];
  const logCalls: LogOptions[] = [];
  const execCalls: Array<{ id: string; cmd: string[]; timeoutMs: number }> = [];
  const pruned: string[] = [];
  const runtime = {
    async logs(_id: string, o: LogOptions, onLine: (s: 'stdout' | 'stderr', l: string) => void) {
      logCalls.push(o);
      for (let i = 0; i < (opts.lines ?? 3); i++) onLine('stdout', `line ${i}`);
      if (o.follow) {
        await new Promise<void>((resolve) => {
          const tick = setInterval(() => onLine('stdout', 'tick'), 5);
          o.signal?.addEventListener('abort', () => { clearInterval(tick); resolve(); });
        });
      }
    },
    async exec(id: string, cmd: string[], o: { timeoutMs: number }) {
      execCalls.push({ id, cmd, timeoutMs: o.timeoutMs });
      if (cmd[0] === 'slow') throw new RuntimeError('Timeout', 'timed out');
      return { exitCode: 3, stdout: 'out', stderr: 'err' };
    },
  } as unknown as Runtime;
  const h = new RpcHandler({
    runtime, clock: createSystemClock(), logger: silentLogger(),
    publish: (_topic, r) => out.push(r),
    async find(q) {
      if (opts.missing) throw new RpcError('NotFound', `container "${q.container}" in pod "${q.pod}" not found`);
      return { id: q.previous ? 'prev' : 'cur', running: opts.running ?? true };
    },
    async prune(uid) {
      if (uid !== 'orphan-uid') throw new RpcError('NotFound', `no orphaned pod with uid ${uid}`);
      pruned.push(uid);
    },
  });
  return { h, out, logCalls, execCalls, pruned };
}

const until = async (what: string, fn: () => boolean, ms = 5000): Promise<void> => {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

t.test('streams log lines in batches and ends with a final message', async (t) => {
  const s = setup({ lines: BATCH_LINES + 10 });
  s.h.handle({ id: 'r1', op: 'logs', replyTo: 'x', params: { pod: 'p', namespace: 'default', container: 'c', tail: 700, timestamps: true, sinceSeconds: 60 } });
  await until('final', () => s.out.some((r) => r.id === 'r1' && !r.more));
  const batches = s.out.filter((r) => r.more);
  t.equal(batches.length, 2, 'one full batch and the rest');
  t.equal((batches[0]?.data as { lines: string[] }).lines.length, BATCH_LINES);
  t.same(s.out.map((r) => r.seq), [0, 1, 2], 'sequence numbers');
  t.match(s.out[2], { id: 'r1', status: 'ok' });
  t.match(s.logCalls[0], { tail: 700, follow: false, timestamps: true });
  t.ok(Math.abs((s.logCalls[0]?.since ?? 0) - (Date.now() - 60_000)) < 5000, 'sinceSeconds becomes a time');
});

t.test('a follow stream runs until cancel', async (t) => {
  const s = setup({ lines: 1 });
  s.h.handle({ id: 'f1', op: 'logs', replyTo: 'x', params: { pod: 'p', container: 'c', follow: true } });
  await until('ticks', () => s.out.filter((r) => r.more).length >= 2);
  t.equal(s.h.openStreams, 1);
  t.notOk(s.out.some((r) => !r.more));
  s.h.handle({ id: 'f1', op: 'cancel', replyTo: 'x', params: {} });
  await until('final after cancel', () => s.out.some((r) => r.id === 'f1' && !r.more));
  t.equal(s.h.openStreams, 0);
});

t.test('previous logs come from the previous container and never follow', async (t) => {
  const s = setup({ lines: 1 });
  s.h.handle({ id: 'p1', op: 'logs', replyTo: 'x', params: { pod: 'p', container: 'c', previous: true, follow: true } });
  await until('final', () => s.out.some((r) => !r.more));
  t.equal(s.logCalls[0]?.follow, false);
});

t.test('errors are replied with a reason: NotFound, BadRequest', async (t) => {
  const s = setup({ missing: true });
  s.h.handle({ id: 'e1', op: 'logs', replyTo: 'x', params: { pod: 'p', container: 'c' } });
  s.h.handle({ id: 'e2', op: 'logs', replyTo: 'x', params: { pod: 'p' } });
  s.h.handle({ id: 'e3', op: 'bogus' as 'logs', replyTo: 'x', params: {} });
  await until('three errors', () => s.out.length === 3);
  t.match(s.out.find((r) => r.id === 'e1'), { status: 'error', error: { reason: 'NotFound' } });
  t.match(s.out.find((r) => r.id === 'e2'), { status: 'error', error: { reason: 'BadRequest', message: 'missing "container"' } });
  t.match(s.out.find((r) => r.id === 'e3'), { status: 'error', error: { reason: 'BadRequest' } });
  s.h.handle(null as never);
  s.h.handle({ id: 5 } as never);
  t.equal(s.out.length, 3, 'malformed requests are ignored (no reply topic)');
});

t.test('exec returns exit code and output; a stopped container or a timeout is an error', async (t) => {
  const s = setup();
  s.h.handle({ id: 'x1', op: 'exec', replyTo: 'x', params: { pod: 'p', container: 'c', command: ['ls', '/'], timeoutSeconds: 7 } });
  await until('reply', () => s.out.length === 1);
  t.same(s.out[0], { id: 'x1', status: 'ok', data: { exitCode: 3, stdout: 'out', stderr: 'err' } });
  t.same(s.execCalls[0], { id: 'cur', cmd: ['ls', '/'], timeoutMs: 7000 });
  s.h.handle({ id: 'x2', op: 'exec', replyTo: 'x', params: { pod: 'p', container: 'c', command: [] } });
  s.h.handle({ id: 'x3', op: 'exec', replyTo: 'x', params: { pod: 'p', container: 'c', command: ['slow'], timeoutSeconds: 1 } });
  await until('replies', () => s.out.length === 3);
  t.match(s.out.find((r) => r.id === 'x2'), { status: 'error', error: { reason: 'BadRequest' } });
  t.match(s.out.find((r) => r.id === 'x3'), { status: 'error', error: { reason: 'InternalError', message: /did not finish within 1s/ } });
  const stopped = setup({ running: false });
  stopped.h.handle({ id: 'x4', op: 'exec', replyTo: 'x', params: { pod: 'p', container: 'c', command: ['ls'] } });
  await until('reply', () => stopped.out.length === 1);
  t.match(stopped.out[0], { status: 'error', error: { reason: 'BadRequest', message: /not running/ } });
});

t.test('prune answers ok once the orphan is removed, NotFound for a uid that is no orphan, BadRequest without a uid', async (t) => {
  const s = setup();
  s.h.handle({ id: 'p1', op: 'prune', replyTo: 'x', params: { uid: 'orphan-uid' } });
  s.h.handle({ id: 'p2', op: 'prune', replyTo: 'x', params: { uid: 'other' } });
  s.h.handle({ id: 'p3', op: 'prune', replyTo: 'x', params: {} });
  await until('three replies', () => s.out.length === 3);
  t.same(s.out.find((r) => r.id === 'p1'), { id: 'p1', status: 'ok', data: { uid: 'orphan-uid' } });
  t.same(s.pruned, ['orphan-uid']);
  t.match(s.out.find((r) => r.id === 'p2'), { status: 'error', error: { reason: 'NotFound', message: /no orphaned pod with uid other/ } });
  t.match(s.out.find((r) => r.id === 'p3'), { status: 'error', error: { reason: 'BadRequest', message: /missing "uid"/ } });
});
