/**
 * Runs in the serialized lab group: RSS and close latency are measured on a quiet machine.
 * The acceptance checks of the broker limits, measured on a process that runs only the broker
 * (fixtures/broker-child.ts, started with tsx): its RSS comes from /proc/<pid>/status (VmRSS,
 * and VmHWM for peaks, reset through /proc/<pid>/clear_refs where allowed, plus sampling every
 * 5 ms). Before each baseline one good client and one oversized CONNECT warm the code paths up.
 */
import t, { type Test } from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import mqtt from 'mqtt';
import { connectPacket, fixedHeader, openRaw, writeUntilClosed, type RawConnection } from './fixtures/raw.js';

const ROOT = resolve(import.meta.dirname, '../../..');
const FIXTURE = resolve(import.meta.dirname, 'fixtures/broker-child.ts');
const TOKEN = 'broker-memory-token-0123456789';
const MB = 1024 * 1024;
const MAX_PACKET = 8 * MB; // the default maxPacketBytes

interface Child { proc: ChildProcess; pid: number; port: number; logs: string[] }

async function startChild(t: Test, limits: Record<string, number> = {}): Promise<Child> {
  const proc = spawn(process.execPath, ['--import', 'tsx', FIXTURE], {
    cwd: ROOT,
    env: { ...process.env, BROKER_TOKEN: TOKEN, BROKER_LIMITS: JSON.stringify(limits) },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  createInterface({ input: proc.stderr! }).on('line', (l) => logs.push(l));
  t.teardown(async () => {
    if (proc.exitCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
    if (proc.exitCode === null) proc.kill('SIGKILL');
  });
  const ready = await new Promise<{ port: number; pid: number }>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`broker child did not start: ${logs.join('\n')}`)), 20_000);
    createInterface({ input: proc.stdout! }).once('line', (l) => { clearTimeout(timer); res(JSON.parse(l) as { port: number; pid: number }); });
    proc.once('exit', (code) => { clearTimeout(timer); rej(new Error(`broker child exited ${code}: ${logs.join('\n')}`)); });
  });
  return { proc, pid: ready.pid, port: ready.port, logs };
}

function status(pid: number): { rss: number; hwm: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

/** Reset VmHWM to the current RSS (Linux clear_refs "5"); false where not permitted. */
function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** Wait until RSS changes by less than 256 KiB over 300 ms (at most 5 s); returns it. */
async function settledRss(pid: number): Promise<number> {
  let last = status(pid).rss;
  for (let i = 0; i < 16; i++) {
    await new Promise((r) => setTimeout(r, 300));
    const now = status(pid).rss;
    if (Math.abs(now - last) < 256 * 1024) return now;
    last = now;
  }
  return last;
}

/** Measure the peak RSS over `run`: max of VmHWM (after a reset) and 5 ms samples of VmRSS. */
async function measure<T>(pid: number, run: () => Promise<T>): Promise<{ result: T; baseline: number; peak: number; after: number; hwmReset: boolean }> {
  const baseline = await settledRss(pid);
  const hwmReset = resetPeak(pid);
  let sampled = baseline;
  const timer = setInterval(() => { sampled = Math.max(sampled, status(pid).rss); }, 5);
  let result: T;
  try {
    result = await run();
  } finally {
    clearInterval(timer);
  }
  await new Promise((r) => setTimeout(r, 200));
  const end = status(pid);
  const peak = Math.max(sampled, end.rss, hwmReset ? end.hwm : 0);
  return { result, baseline, peak, after: end.rss, hwmReset };
}

const mb = (bytes: number): string => (bytes / MB).toFixed(1);

async function warmUp(port: number): Promise<void> {
  const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { username: 'warm', password: TOKEN, reconnectPeriod: 0 });
  await c.publishAsync('warm/up', Buffer.alloc(1000));
  await c.endAsync();
  const r = await openRaw(port);
  r.socket.write(fixedHeader(0x10, 128 * MB));
  await r.closed;
}

async function loopbackAliases(): Promise<boolean> {
  const server = createServer((s) => s.destroy());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  try {
    const c = await openRaw((server.address() as { port: number }).port, '127.0.0.2');
    c.socket.destroy();
    return true;
  } catch {
    return false;
  } finally {
    server.close();
  }
}
const ALIASES = await loopbackAliases();

/** n connections that each send a CONNECT fixed header announcing 128 MB, then as much of the body as they can until closed. */
async function attack(port: number, n: number, addressOf: (i: number) => string | undefined): Promise<{ latencies: number[]; sent: number; refusedAtAccept: number }> {
  const conns: RawConnection[] = [];
  for (let i = 0; i < n; i++) conns.push(await openRaw(port, addressOf(i)));
  await new Promise((r) => setTimeout(r, 100)); // the broker has accepted (or refused) them all
  const refusedAtAccept = conns.filter((c) => c.socket.destroyed).length;
  const body = Buffer.alloc(64 * 1024);
  let sent = 0;
  const latencies = await Promise.all(conns.map(async (c) => {
    if (c.socket.destroyed) return 0;
    const at = Date.now();
    c.socket.write(fixedHeader(0x10, 128 * MB));
    const written = await writeUntilClosed(c.socket, body, 128 * MB);
    sent += written;
    const closed = await Promise.race([c.closed, new Promise<number>((r) => setTimeout(() => r(Infinity), 10_000))]);
    c.socket.destroy();
    return closed - at;
  }));
  return { latencies, sent, refusedAtAccept };
}

t.test('100 connections announcing a 128 MB CONNECT grow the broker RSS by less than 10 MB and are closed within a second of their fixed header', async (t) => {
  const child = await startChild(t, ALIASES ? {} : { maxPendingConnectionsPerAddress: 200 });
  await warmUp(child.port);
  const logsBefore = child.logs.length;
  const m = await measure(child.pid, () => attack(child.port, 100, (i) => (ALIASES ? `127.0.0.${10 + i}` : undefined)));
  const { latencies, sent, refusedAtAccept } = m.result;
  const sorted = [...latencies].sort((a, b) => a - b);
  const growth = m.peak - m.baseline;
  t.comment(`${ALIASES ? '100 source addresses (127.0.0.10-109), default limits' : 'one address, maxPendingConnectionsPerAddress 200'}: ` +
    `RSS baseline ${mb(m.baseline)} MB, peak ${mb(m.peak)} MB (VmHWM reset: ${m.hwmReset}), after ${mb(m.after)} MB, peak growth ${mb(growth)} MB`);
  t.comment(`fixed header to close: median ${sorted[50]} ms, max ${sorted.at(-1)} ms; clients got ${mb(sent)} MB out in all (most into kernel socket buffers); broker log lines: ${child.logs.length - logsBefore}`);
  t.equal(refusedAtAccept, 0, 'every connection reached the packet stage');
  t.ok(growth < 10 * MB, `peak RSS growth ${mb(growth)} MB < 10 MB`);
  t.ok((sorted.at(-1) ?? Infinity) < 1000, `every connection closed within a second of its fixed header (max ${sorted.at(-1)} ms)`);
});

t.test('from one address the connections beyond the per-address cap are refused at accept, the rest at their fixed header', async (t) => {
  const child = await startChild(t);
  await warmUp(child.port);
  const logsBefore = child.logs.length;
  const m = await measure(child.pid, () => attack(child.port, 100, () => undefined));
  const { latencies, refusedAtAccept, sent } = m.result;
  const growth = m.peak - m.baseline;
  t.comment(`one address, default limits: ${refusedAtAccept} of 100 refused at accept; RSS baseline ${mb(m.baseline)} MB, peak growth ${mb(growth)} MB; ` +
    `max header-to-close ${Math.max(...latencies)} ms; clients got ${mb(sent)} MB out; broker log lines: ${child.logs.length - logsBefore}`);
  t.ok(refusedAtAccept >= 100 - 16, `${refusedAtAccept} refused at accept (cap 16 not logged in per address)`);
  t.ok(growth < 10 * MB, `peak RSS growth ${mb(growth)} MB < 10 MB`);
  t.ok(child.logs.length - logsBefore <= 6, 'the warn lines about one address are rate-limited');
});

t.test('an authorized 100 MB publish is refused with a peak RSS growth under twice maxPacketBytes', async (t) => {
  const child = await startChild(t);
  await warmUp(child.port);
  const url = `mqtt://127.0.0.1:${child.port}`;
  const payload = Buffer.alloc(100 * MB, 7);

  const accepted = await mqtt.connectAsync(url, { username: 'ok', password: TOKEN, reconnectPeriod: 0 });
  const ok = await measure(child.pid, async () => {
    await accepted.publishAsync('big/ok', payload.subarray(0, MAX_PACKET - 64), { qos: 1 });
  });
  await accepted.endAsync();
  t.comment(`for comparison, an accepted publish just under the limit (${mb(MAX_PACKET - 64)} MB, QoS 1, no subscriber): peak RSS growth ${mb(ok.peak - ok.baseline)} MB`);

  const c = await mqtt.connectAsync(url, { username: 'big', password: TOKEN, reconnectPeriod: 0 });
  const m = await measure(child.pid, async () => {
    const closed = new Promise<number>((r) => c.once('close', () => r(Date.now())));
    const start = Date.now();
    c.publish('big/no', payload);
    return (await closed) - start;
  });
  const growth = m.peak - m.baseline;
  t.comment(`authorized 100 MB publish: closed ${m.result} ms after it was sent; RSS baseline ${mb(m.baseline)} MB, peak ${mb(m.peak)} MB (VmHWM reset: ${m.hwmReset}), peak growth ${mb(growth)} MB; limit ${mb(MAX_PACKET)} MB`);
  t.ok(growth < 2 * MAX_PACKET, `peak RSS growth ${mb(growth)} MB < twice the limit (${mb(2 * MAX_PACKET)} MB)`);
  t.ok(child.logs.some((l) => /publish packet over the size limit/.test(l) && /"packetBytes":104857613/.test(l)), 'logged with its size');
  c.end(true);
});

t.test('a CONNECT that never completes is dropped after the default connect timeout of 5 s', async (t) => {
  const child = await startChild(t);
  const idle = await openRaw(child.port);
  const partial = await openRaw(child.port);
  const start = Date.now();
  partial.socket.write(connectPacket({ clientId: 'slow', username: 'u', password: TOKEN }).subarray(0, 12));
  const [a, p] = await Promise.all([idle.closed, partial.closed]);
  t.comment(`dropped after ${a - start} ms (nothing sent) and ${p - start} ms (half a CONNECT)`);
  for (const ms of [a - start, p - start]) t.ok(ms >= 4000 && ms < 8000, `${ms} ms: a few seconds`);
});
