/**
 * Benchmarks of one real daemon on the local Docker engine:
 *  - apply -> Running latency, minus what Docker itself needs to create and start the same container
 *    (`docker run -d` of the same image and command), as percentiles and a ratio;
 *  - idle RSS, idle CPU (utime+stime from /proc) and bytes the daemon wrote to disk
 *    (/proc/<pid>/io write_bytes) and the state directory's size over an idle window with a pod running.
 * Targets (issue 3): under 60 MB RSS, under 1 % of a core, 0 bytes written while idle.
 */
import { mkdtempSync, rmSync, readFileSync, readdirSync, statSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestDaemon, removeClusterContainers, uniqueName, docker, podReady, type PodLike } from '../harness/daemon.js';
import { ensureTestImages, TEST_IMAGE_1 } from '../harness/images.js';

const IDLE_SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 300);
const PODS = Number(process.env.BENCH_PODS ?? 20);
const TICKS = 100; // USER_HZ on Linux

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}
const fmt = (xs: number[]): string => `p50 ${pct(xs, 50).toFixed(0)} ms, p90 ${pct(xs, 90).toFixed(0)} ms, max ${Math.max(...xs).toFixed(0)} ms`;

function procStat(pid: number): { cpuTicks: number; rssKb: number; anonKb: number; fileKb: number; writeBytes: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuTicks = Number(fields[11]) + Number(fields[12]);
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string): number => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
  const rssKb = kb('VmRSS');
  const anonKb = kb('RssAnon');
  const fileKb = kb('RssFile');
  const writeBytes = Number(/write_bytes:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1] ?? NaN);
  return { cpuTicks, rssKb, anonKb, fileKb, writeBytes };
}

function dirFingerprint(dir: string): string {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else { const s = statSync(p); out.push(`${p}:${s.size}:${s.mtimeMs}`); }
    }
  };
  walk(dir);
  return out.sort().join('\n');
}

async function main(): Promise<void> {
  await ensureTestImages();
  const stateDir = mkdtempSync(join(tmpdir(), 'pifleet-bench-'));
  const cluster = uniqueName('bench');
  const runtimeDir = join('/dev/shm', `pifleet-bench-${cluster}`);
  mkdirSync(runtimeDir, { recursive: true });
  const d = new TestDaemon(stateDir, runtimeDir, cluster, 'bench1', { env: { PIFLEET_HEARTBEAT_SECONDS: '10' } });
  try {
    await d.start();
    // baseline: Docker alone
    const base: number[] = [];
    for (let i = 0; i < Math.min(PODS, 10); i++) {
      const t0 = performance.now();
      const r = await docker(['run', '-d', '--label', `pifleet.cluster=${cluster}`, '--label', 'bench=baseline', TEST_IMAGE_1, 'sleep', '3600']);
      if (r.code !== 0) throw new Error(r.stderr);
      base.push(performance.now() - t0);
    }
    // apply -> Running, one pod at a time, watching with the in-process client
    const { ApiClient, resolveConnection } = await import('../../daemon/src/cli/client.js');
    const api = await ApiClient.connect(resolveConnection({ stateDir }, {}));
    const lat: number[] = [];
    for (let i = 0; i < PODS; i++) {
      const name = `lat-${i}`;
      const obj = { apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { terminationGracePeriodSeconds: 0, containers: [{ name: 'c', image: TEST_IMAGE_1, imagePullPolicy: 'Never', command: ['sleep', '3600'] }] } };
      const t0 = performance.now();
      await api.request('apply', { objects: [obj] });
      for (let k = 0; k < 3000; k++) {
        const p = await api.request<PodLike>('get', { kind: 'pods', name });
        if (p.status?.phase === 'Running' && podReady(p)) break;
        await new Promise((r) => setTimeout(r, 5));
      }
      lat.push(performance.now() - t0);
    }
    const overhead = lat.map((x, i) => x - (base[i % base.length] ?? 0));
    console.log(`docker run -d (baseline)        : ${fmt(base)}`);
    console.log(`pifleet apply -> Running+Ready  : ${fmt(lat)}`);
    console.log(`overhead beyond docker run      : ${fmt(overhead)}  ratio p50 ${(pct(lat, 50) / pct(base, 50)).toFixed(2)}x`);
    // leave one pod, delete the rest, and go idle
    await api.request('delete', { kind: 'pods', all: true, gracePeriodSeconds: 0 });
    await api.request('apply', { objects: [{ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'idle' }, spec: { containers: [{ name: 'c', image: TEST_IMAGE_1, imagePullPolicy: 'Never', command: ['sleep', '3600'], readinessProbe: { exec: { command: ['true'] }, periodSeconds: 10 } }] } }] });
    await api.close();
    await new Promise((r) => setTimeout(r, 20_000)); // settle: pods gone, status published
    const pid = d.pid!;
    const fp0 = dirFingerprint(stateDir);
    const s0 = procStat(pid);
    const t0 = Date.now();
    const rss: number[] = [];
    const anon: number[] = [];
    const file: number[] = [];
    while (Date.now() - t0 < IDLE_SECONDS * 1000) {
      await new Promise((r) => setTimeout(r, 5000));
      const s = procStat(pid);
      rss.push(s.rssKb / 1024);
      anon.push(s.anonKb / 1024);
      file.push(s.fileKb / 1024);
    }
    const s1 = procStat(pid);
    const secs = (Date.now() - t0) / 1000;
    const cpu = ((s1.cpuTicks - s0.cpuTicks) / TICKS / secs) * 100;
    console.log(`idle window                     : ${secs.toFixed(0)} s with 1 pod running (readiness probe every 10 s)`);
    console.log(`idle RSS                        : p50 ${pct(rss, 50).toFixed(1)} MB, max ${Math.max(...rss).toFixed(1)} MB (target < 60 MB)`);
    console.log(`  of which anonymous / file     : p50 ${pct(anon, 50).toFixed(1)} MB / ${pct(file, 50).toFixed(1)} MB (file: the node binary and libraries, shared and reclaimable)`);
    console.log(`idle CPU                        : ${cpu.toFixed(3)} % of one core (target < 1 %)`);
    console.log(`bytes written by the daemon     : ${s1.writeBytes - s0.writeBytes} (/proc/pid/io write_bytes; target 0)`);
    console.log(`state directory changed         : ${dirFingerprint(stateDir) === fp0 ? 'no' : 'YES'}`);
  } finally {
    await d.stop();
    await removeClusterContainers(cluster);
    rmSync(stateDir, { recursive: true, force: true });
    rmSync(runtimeDir, { recursive: true, force: true });
  }
}

main().catch((err) => { console.error(err); process.exitCode = 1; });
