/**
 * Container probes (liveness, readiness, startup) as the kubelet runs them: one timer per probe
 * on the injected clock, never overlapping runs, initialDelaySeconds counted from the container
 * start, success/failure thresholds; startup gates the other two. Results go to callbacks: the
 * agent turns them into Ready, kills on liveness/startup failure and records Unhealthy events.
 * Which probes run for a pod (syncPodProbes) and the probe actions (httpGet, tcpSocket, exec)
 * are here too.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import type { Container, Probe } from '../api/types.js';
import type { Clock, TimerHandle } from '../lib/clock.js';
import type { Runtime } from '../runtime/types.js';
import { attemptsOf } from './plan.js';
import { memoryOf, type PodWorker } from './worker.js';

export type ProbeKind = 'liveness' | 'readiness' | 'startup';

export interface ProbeResult {
  ok: boolean;
  message: string;
}

export interface ProbeTarget {
  containerId: string;
  container: Container;
  /** The pod IP (undefined while unknown). */
  podIP?: string;
  hostNetwork: boolean;
}

export type ProbeRunner = (kind: ProbeKind, probe: Probe, target: ProbeTarget) => Promise<ProbeResult>;

export interface ProbeCallbacks {
  /** ready or started changed. */
  onChange(): void;
  /** One failed probe run (for Unhealthy events). */
  onUnhealthy(kind: ProbeKind, message: string): void;
  /** Liveness or startup gave up: the container must be killed and restarted. */
  onFailure(kind: 'liveness' | 'startup', message: string): void;
}

const KIND_NAME: Record<ProbeKind, string> = { liveness: 'Liveness', readiness: 'Readiness', startup: 'Startup' };
export const probeKindName = (k: ProbeKind): string => KIND_NAME[k];

interface ProbeLoop {
  kind: ProbeKind;
  probe: Probe;
  timer?: TimerHandle;
  running: boolean;
  successes: number;
  failures: number;
}

/** The probes of one running container. */
export class ContainerProbes {
  #ready: boolean;
  #started: boolean;
  #stopped = false;
  #loops: ProbeLoop[] = [];

  constructor(
    private readonly opts: { clock: Clock; target: ProbeTarget; startedAt: number; run: ProbeRunner; callbacks: ProbeCallbacks },
  ) {
    const c = opts.target.container;
    this.#started = !c.startupProbe;
    this.#ready = !c.readinessProbe && this.#started;
  }

  get ready(): boolean { return this.#ready; }
  get started(): boolean { return this.#started; }
  get containerId(): string { return this.opts.target.containerId; }

  /** Update the pod IP (known after the container started). */
  setPodIP(ip: string | undefined): void {
    this.opts.target.podIP = ip;
  }

  start(): void {
    const c = this.opts.target.container;
    if (c.startupProbe) this.#add('startup', c.startupProbe);
    else this.#startMain();
  }

  stop(): void {
    this.#stopped = true;
    for (const l of this.#loops) l.timer?.cancel();
  }

  #startMain(): void {
    const c = this.opts.target.container;
    if (c.livenessProbe) this.#add('liveness', c.livenessProbe);
    if (c.readinessProbe) this.#add('readiness', c.readinessProbe);
  }

  #add(kind: ProbeKind, probe: Probe): void {
    const loop: ProbeLoop = { kind, probe, running: false, successes: 0, failures: 0 };
    this.#loops.push(loop);
    const delay = this.opts.startedAt + (probe.initialDelaySeconds ?? 0) * 1000 - this.opts.clock.now();
    this.#schedule(loop, Math.max(0, delay));
  }

  #schedule(loop: ProbeLoop, ms: number): void {
    if (this.#stopped) return;
    loop.timer = this.opts.clock.setTimeout(() => { void this.#runOnce(loop); }, ms);
  }

  async #runOnce(loop: ProbeLoop): Promise<void> {
    if (this.#stopped || loop.running) return;
    loop.running = true;
    let res: ProbeResult;
    try {
      res = await this.opts.run(loop.kind, loop.probe, this.opts.target);
    } catch (err) {
      res = { ok: false, message: (err as Error).message };
    }
    loop.running = false;
    if (this.#stopped) return;
    const p = loop.probe;
    const successThreshold = Math.max(1, p.successThreshold ?? 1);
    const failureThreshold = Math.max(1, p.failureThreshold ?? 3);
    const period = Math.max(1, p.periodSeconds ?? 10) * 1000;
    if (res.ok) {
      loop.successes++;
      loop.failures = 0;
    } else {
      loop.failures++;
      loop.successes = 0;
      this.opts.callbacks.onUnhealthy(loop.kind, res.message);
    }
    switch (loop.kind) {
      case 'readiness': {
        const before = this.#ready;
        if (res.ok && loop.successes >= successThreshold) this.#ready = true;
        if (!res.ok && loop.failures >= failureThreshold) this.#ready = false;
        if (before !== this.#ready) this.opts.callbacks.onChange();
        break;
      }
      case 'liveness':
        if (!res.ok && loop.failures >= failureThreshold) {
          this.stop();
          this.opts.callbacks.onFailure('liveness', res.message);
          return;
        }
        break;
      case 'startup':
        if (res.ok) {
          this.#started = true;
          if (!this.opts.target.container.readinessProbe) this.#ready = true;
          this.opts.callbacks.onChange();
          this.#startMain();
          return; // the startup probe is done
        }
        if (loop.failures >= failureThreshold) {
          this.stop();
          this.opts.callbacks.onFailure('startup', res.message);
          return;
        }
        break;
    }
    this.#schedule(loop, period);
  }
}

/** Resolve a probe port (number, numeric string or a named container port). */
export interface PodProbeHooks {
  clock: Clock;
  run: ProbeRunner;
  /** A probe changed a container's ready or started. */
  onChange(): void;
  /** One failed probe run of a container. */
  onUnhealthy(container: string, message: string): void;
  /** Liveness or startup gave up: the kill request is in the container's memory; sync the pod. */
  onKill(): void;
}

/** One set of probes per running app container of the pod; stopped when the container changes or the pod ends. */
export function syncPodProbes(w: PodWorker, hooks: PodProbeHooks): void {
  const pod = w.pod;
  if (!pod) return;
  for (const c of pod.spec.containers) {
    const cur = w.probes.get(c.name);
    const latest = attemptsOf(w.observed, c.name)[0];
    const running = latest?.details.running ? latest : undefined;
    if (cur && (!running || cur.containerId !== running.id || w.terminal)) {
      cur.stop();
      w.probes.delete(c.name);
    }
    if (!running || w.terminal || w.probes.has(c.name)) continue;
    if (!c.livenessProbe && !c.readinessProbe && !c.startupProbe) continue;
    const id = running.id;
    const probes = new ContainerProbes({
      clock: hooks.clock,
      target: { containerId: id, container: c, ...(w.podIP ? { podIP: w.podIP } : {}), hostNetwork: Boolean(pod.spec.hostNetwork) },
      startedAt: running.details.startedAt ?? hooks.clock.now(),
      run: hooks.run,
      callbacks: {
        onChange: () => { if (w.probes.get(c.name) === probes) hooks.onChange(); },
        onUnhealthy: (kind, message) => hooks.onUnhealthy(c.name, `${probeKindName(kind)} probe failed: ${message}`),
        onFailure: (kind) => {
          if (w.probes.get(c.name) !== probes) return;
          const probe = kind === 'liveness' ? c.livenessProbe : c.startupProbe;
          const grace = probe?.terminationGracePeriodSeconds ?? pod.spec.terminationGracePeriodSeconds ?? 30;
          memoryOf(w, c.name).killRequest = { id, reason: `Container ${c.name} failed ${kind} probe, will be restarted`, graceSeconds: grace };
          hooks.onKill();
        },
      },
    });
    w.probes.set(c.name, probes);
    probes.start();
  }
}

export function resolvePort(port: number | string | undefined, container: Container): number | undefined {
  if (port === undefined) return undefined;
  if (typeof port === 'number') return port;
  if (/^\d+$/.test(port)) return Number(port);
  return container.ports?.find((p) => p.name === port)?.containerPort;
}

function probeHost(explicit: string | undefined, target: ProbeTarget): string | undefined {
  if (explicit) return explicit;
  if (target.hostNetwork) return '127.0.0.1';
  return target.podIP;
}

/** The probe actions against the real container. */
export function createProbeRunner(runtime: Runtime): ProbeRunner {
  return async (_kind, probe, target) => {
    const timeoutMs = Math.max(1, probe.timeoutSeconds ?? 1) * 1000;
    if (probe.exec) {
      const cmd = probe.exec.command ?? [];
      try {
        const r = await runtime.exec(target.containerId, cmd, { timeoutMs });
        const out = `${r.stdout}${r.stderr}`.trim().slice(0, 1024);
        if (r.exitCode === 0) return { ok: true, message: out };
        return { ok: false, message: out || `command ${JSON.stringify(cmd)} exited with ${r.exitCode}` };
      } catch (err) {
        const e = err as Error & { code?: string };
        if (e.code === 'Timeout') return { ok: false, message: `command ${JSON.stringify(cmd)} timed out after ${timeoutMs / 1000}s` };
        return { ok: false, message: e.message };
      }
    }
    if (probe.httpGet) {
      const g = probe.httpGet;
      const port = resolvePort(g.port as number | string, target.container);
      const host = probeHost(g.host, target);
      if (!port) return { ok: false, message: `invalid httpGet port ${JSON.stringify(g.port)}` };
      if (!host) return { ok: false, message: 'the pod has no IP address yet' };
      const scheme = (g.scheme ?? 'HTTP').toLowerCase();
      const path = g.path ?? '/';
      const url = `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}${path.startsWith('/') ? path : `/${path}`}`;
      return httpProbe(url, g.httpHeaders ?? [], timeoutMs);
    }
    if (probe.tcpSocket) {
      const port = resolvePort(probe.tcpSocket.port as number | string, target.container);
      const host = probeHost(probe.tcpSocket.host, target);
      if (!port) return { ok: false, message: `invalid tcpSocket port ${JSON.stringify(probe.tcpSocket.port)}` };
      if (!host) return { ok: false, message: 'the pod has no IP address yet' };
      return tcpProbe(host, port, timeoutMs);
    }
    if (probe.grpc) return { ok: false, message: 'grpc probes are not supported by pifleet' };
    return { ok: true, message: '' };
  };
}

export function httpProbe(url: string, headers: Array<{ name: string; value: string }>, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const hdrs: Record<string, string> = { 'User-Agent': 'kube-probe/1.30', Accept: '*/*' };
    for (const h of headers) {
      if (h.name.toLowerCase() === 'host') hdrs.Host = h.value;
      else hdrs[h.name] = h.value;
    }
    const u = new URL(url);
    const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(u, { method: 'GET', headers: hdrs, timeout: timeoutMs, rejectUnauthorized: false, agent: false }, (res) => {
      const code = res.statusCode ?? 0;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { if (body.length < 1024) body += d; });
      res.on('end', () => {
        if (code >= 200 && code < 400) resolve({ ok: true, message: body.slice(0, 1024) });
        else resolve({ ok: false, message: `HTTP probe failed with statuscode: ${code}` });
      });
      res.on('error', (e) => resolve({ ok: false, message: `Get "${url}": ${e.message}` }));
    });
    req.on('timeout', () => { req.destroy(new Error(`context deadline exceeded (Client.Timeout exceeded while awaiting headers)`)); });
    req.on('error', (e) => resolve({ ok: false, message: `Get "${url}": ${e.message}` }));
    req.end();
  });
}

export function tcpProbe(host: string, port: number, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    const timer = setTimeout(() => { sock.destroy(); resolve({ ok: false, message: `dial tcp ${host}:${port}: i/o timeout` }); }, timeoutMs);
    sock.once('connect', () => { clearTimeout(timer); sock.destroy(); resolve({ ok: true, message: '' }); });
    sock.once('error', (e) => { clearTimeout(timer); resolve({ ok: false, message: `dial tcp ${host}:${port}: ${e.message}` }); });
  });
}
