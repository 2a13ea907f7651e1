/**
 * The Docker implementation of the Runtime contract (runtime/types.ts). This is the only module
 * in the project that imports dockerode; it owns the translation between ContainerSpec and the
 * Engine API, the mapping of Engine errors to RuntimeError codes, and the stream plumbing the
 * Engine needs (NDJSON events, multiplexed logs and exec output, pull progress).
 *
 * Behaviours worth knowing:
 * - Every container is created with RestartPolicy "no" (the agent restarts containers itself),
 *   no init process, json-file logs capped at 2 x 10 MB (SD cards), and, with a memory limit,
 *   MemorySwap = Memory (no swap, as Kubernetes).
 * - Ports: `hostPort` undefined = exposed only, not published; 0 = a random host port.
 *   With network mode host or container:<id> ports, hostname, dns and extraHosts are not
 *   passed (Docker refuses or ignores them there: they belong to the infra container).
 * - exec(): on timeout the call rejects with RuntimeError('Timeout'), but the process inside the
 *   container keeps running: the Engine API has no way to kill an exec'd process (kubelet's
 *   dockershim had the same limitation). Abort via signal rejects with code Timeout too.
 * - events() reconnects with backoff by itself and resumes from the last event it delivered
 *   (duplicates at the resume second are dropped), until close().
 */
import './lazy-deps.js'; // before dockerode: see lazy-deps.ts
import Docker from 'dockerode';
import type { Readable } from 'node:stream';
import type { Clock, TimerHandle } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import { backoffDelay } from '../lib/backoff.js';
import {
  RuntimeError,
  type ContainerDetails,
  type ContainerSpec,
  type ContainerState,
  type ContainerSummary,
  type EventSubscription,
  type ExecResult,
  type LogOptions,
  type Runtime,
  type RuntimeErrorCode,
  type RuntimeEvent,
  type RuntimeInfo,
} from './types.js';
import { PAUSE_IMAGE, PAUSE_IMAGE_CHANGES, PAUSE_REPO, PAUSE_TAG, pauseArchFor, pauseRootfsTar } from './pause.js';

export interface DockerRuntimeOptions {
  logger: Logger;
  clock: Clock;
  /** unix:///path, /path or tcp://host:port; default DOCKER_HOST, else /var/run/docker.sock. */
  host?: string;
  /** Cap on collected exec stdout/stderr each (bytes); default 1 MiB. */
  execOutputLimit?: number;
  /**
   * Bound on each short Engine call (inspect, list, create, start, remove, ...; stop adds its
   * grace period); default 60 s. A hung dockerd then surfaces as RuntimeError('Timeout') instead
   * of blocking the agent forever. Pulls, log follows, exec and events have their own bounds.
   */
  requestTimeoutMs?: number;
}

export type DockerEndpoint =
  | { kind: 'unix'; socketPath: string; display: string }
  | { kind: 'tcp'; host: string; port: number; display: string };

/** Parse unix:///path, /path, tcp://host:port (http://host:port) into a dockerode endpoint. */
export function parseDockerHost(host: string): DockerEndpoint {
  const h = host.trim();
  if (h.startsWith('unix://')) {
    const socketPath = h.slice('unix://'.length) || '/var/run/docker.sock';
    return { kind: 'unix', socketPath, display: `unix://${socketPath}` };
  }
  if (h.startsWith('/')) return { kind: 'unix', socketPath: h, display: `unix://${h}` };
  const m = /^(?:tcp|http):\/\/(\[[^\]]+\]|[^:/]+)(?::(\d+))?\/?$/.exec(h);
  if (m) {
    const port = m[2] ? Number(m[2]) : 2375;
    const hostname = m[1]!.replace(/^\[|\]$/g, '');
    return { kind: 'tcp', host: hostname, port, display: `tcp://${m[1]}:${port}` };
  }
  throw new RuntimeError('Unavailable', `invalid Docker host "${host}": use unix:///path/to/docker.sock, /path/to/docker.sock or tcp://host:port`);
}

// ---------------------------------------------------------------------------------------------
// Stream helpers (pure, exported for unit tests)

/** Splits text chunks into lines; the partial last line is kept until more data or flush(). */
export class LineSplitter {
  #buf = '';
  constructor(private readonly onLine: (line: string) => void, private readonly maxLine = 1 << 20) {}
  push(chunk: string): void {
    this.#buf += chunk;
    let pos: number;
    while ((pos = this.#buf.indexOf('\n')) >= 0) {
      const line = this.#buf.slice(0, pos);
      this.#buf = this.#buf.slice(pos + 1);
      this.onLine(line.endsWith('\r') ? line.slice(0, -1) : line);
    }
    // A runaway line without newline: emit it in pieces rather than grow without bound.
    while (this.#buf.length > this.maxLine) {
      this.onLine(this.#buf.slice(0, this.maxLine));
      this.#buf = this.#buf.slice(this.maxLine);
    }
  }
  flush(): void {
    if (this.#buf.length > 0) this.onLine(this.#buf);
    this.#buf = '';
  }
}

/**
 * Demultiplexes Docker's non-TTY stream format: frames of [stream(1) 0 0 0 size(4, BE)] + payload.
 * Stream 0 (stdin) and 1 are reported as stdout, 2 as stderr. Chunk boundaries may fall anywhere.
 */
export class Demuxer {
  #buf: Buffer = Buffer.alloc(0);
  constructor(private readonly onFrame: (stream: 'stdout' | 'stderr', data: Buffer) => void) {}
  push(chunk: Buffer): void {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    for (;;) {
      if (this.#buf.length < 8) return;
      const type = this.#buf[0]!;
      const size = this.#buf.readUInt32BE(4);
      if (type > 2 || this.#buf[1] !== 0 || this.#buf[2] !== 0 || this.#buf[3] !== 0) {
        // Not multiplexed after all (TTY container): pass the rest through as stdout.
        const rest = this.#buf;
        this.#buf = Buffer.alloc(0);
        this.onFrame('stdout', rest);
        return;
      }
      if (this.#buf.length < 8 + size) return;
      const data = this.#buf.subarray(8, 8 + size);
      this.#buf = this.#buf.subarray(8 + size);
      if (size > 0) this.onFrame(type === 2 ? 'stderr' : 'stdout', data);
    }
  }
  /** Bytes of an incomplete frame still buffered (for tests). */
  get pending(): number {
    return this.#buf.length;
  }
}

/** Docker's `label=k=v` filter values. */
export function labelFilters(labels: Record<string, string>): string[] {
  return Object.entries(labels).map(([k, v]) => `${k}=${v}`);
}

/** The Engine's create body for a ContainerSpec (pure; exported for unit tests). */
export function toCreateOptions(spec: ContainerSpec): Docker.ContainerCreateOptions {
  const mode = spec.network.mode;
  const sharesNetns = mode === 'container';
  const networkMode = spec.network.mode === 'container' ? `container:${spec.network.id}` : spec.network.mode;
  const publish = mode === 'bridge';
  const exposed: Record<string, object> = {};
  const bindings: Record<string, Array<{ HostPort: string; HostIp: string }>> = {};
  if (publish || mode === 'none') {
    for (const p of spec.ports) {
      const key = `${p.containerPort}/${p.protocol}`;
      exposed[key] = {};
      if (publish && p.hostPort !== undefined) {
        (bindings[key] ??= []).push({ HostPort: p.hostPort === 0 ? '' : String(p.hostPort), HostIp: p.hostIP ?? '' });
      }
    }
  }
  const mounts = spec.mounts.map((m): Docker.MountSettings => {
    switch (m.type) {
      case 'bind':
        return { Type: 'bind', Source: m.source, Target: m.target, ReadOnly: m.readOnly ?? false };
      case 'volume':
        return { Type: 'volume', Source: m.source, Target: m.target, ReadOnly: m.readOnly ?? false };
      case 'tmpfs': {
        const tmpfs: { SizeBytes?: number; Mode?: number } = {};
        if (m.sizeBytes !== undefined && m.sizeBytes > 0) tmpfs.SizeBytes = m.sizeBytes;
        if (m.mode !== undefined) tmpfs.Mode = m.mode;
        return { Type: 'tmpfs', Source: '', Target: m.target, TmpfsOptions: tmpfs } as Docker.MountSettings;
      }
    }
  });
  const memory = spec.memoryBytes && spec.memoryBytes > 0 ? spec.memoryBytes : undefined;
  const hostConfig: Docker.HostConfig = {
    NetworkMode: networkMode,
    RestartPolicy: { Name: 'no' },
    Init: false,
    LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '2' } },
    Mounts: mounts,
  };
  if (Object.keys(bindings).length > 0) hostConfig.PortBindings = bindings;
  if (memory !== undefined) {
    hostConfig.Memory = memory;
    hostConfig.MemorySwap = memory;
  }
  if (spec.nanoCpus && spec.nanoCpus > 0) hostConfig.NanoCpus = spec.nanoCpus;
  if (spec.privileged) hostConfig.Privileged = true;
  if (spec.capAdd?.length) hostConfig.CapAdd = spec.capAdd;
  if (spec.capDrop?.length) hostConfig.CapDrop = spec.capDrop;
  if (spec.readOnlyRootfs) hostConfig.ReadonlyRootfs = true;
  if (!sharesNetns && mode !== 'host' && spec.extraHosts?.length) hostConfig.ExtraHosts = spec.extraHosts;
  if (!sharesNetns && mode !== 'host' && spec.dns?.length) hostConfig.Dns = spec.dns;

  const opts: Docker.ContainerCreateOptions = {
    name: spec.name,
    Image: spec.image,
    Env: spec.env,
    Labels: spec.labels,
    HostConfig: hostConfig,
  };
  if (Object.keys(exposed).length > 0) opts.ExposedPorts = exposed as Docker.ContainerCreateOptions['ExposedPorts'];
  if (spec.entrypoint !== undefined) {
    opts.Entrypoint = spec.entrypoint;
    // Kubernetes: a command without args drops the image's CMD.
    opts.Cmd = spec.cmd ?? [];
  } else if (spec.cmd !== undefined) {
    opts.Cmd = spec.cmd;
  }
  if (spec.workingDir) opts.WorkingDir = spec.workingDir;
  if (spec.hostname && !sharesNetns && mode !== 'host') opts.Hostname = spec.hostname;
  if (spec.user) opts.User = spec.user;
  if (spec.tty) opts.Tty = true;
  if (spec.openStdin) {
    opts.OpenStdin = true;
    opts.StdinOnce = false;
  }
  return opts;
}

// ---------------------------------------------------------------------------------------------
// Error mapping

const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ENOENT', 'EACCES', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ENOTSOCK']);

interface EngineError {
  statusCode?: number;
  code?: string;
  json?: unknown;
  message?: string;
}

/** Docker's own message from an Engine error (the JSON body's "message"), else the error text. */
export function engineMessage(err: unknown): string {
  const e = err as EngineError;
  const json = e?.json;
  if (json && typeof json === 'object' && !Buffer.isBuffer(json) && typeof (json as { message?: unknown }).message === 'string') {
    return (json as { message: string }).message;
  }
  if (Buffer.isBuffer(json) && json.length > 0) return json.toString('utf8').trim();
  if (typeof json === 'string' && json.length > 0) return json.trim();
  return e?.message ?? String(err);
}

type Op = 'create' | 'start' | 'pull' | 'generic';

function mapError(err: unknown, op: Op, what: string, endpoint: string): RuntimeError {
  if (err instanceof RuntimeError) return err;
  const e = err as EngineError;
  if (e?.code && UNAVAILABLE_CODES.has(e.code) && e.statusCode === undefined) {
    const hint = e.code === 'EACCES'
      ? 'permission denied on the socket: run pifleetd as root or add its user to the docker group'
      : 'is dockerd running? check `systemctl status docker`';
    return new RuntimeError('Unavailable', `Docker is not reachable at ${endpoint} while ${what}: ${e.code} (${hint})`);
  }
  const status = e?.statusCode;
  const msg = engineMessage(err);
  let code: RuntimeErrorCode;
  if (op === 'pull' && status !== undefined) code = 'PullFailed';
  else if (status === 404) code = /no such image|image.*not found|pull access denied/i.test(msg) ? 'ImageNotFound' : 'NotFound';
  else if (status === 409) code = 'Conflict';
  else if (op === 'create' && (status === 400 || status === 500)) code = 'InvalidSpec';
  else if (op === 'start' && status !== undefined) code = 'StartFailed';
  else if ((e as { name?: string })?.name === 'AbortError') code = 'Timeout';
  else code = 'Unknown';
  return new RuntimeError(code, `Docker ${what} failed${status !== undefined ? ` (HTTP ${status})` : ''}: ${msg}`, status);
}

// ---------------------------------------------------------------------------------------------

const STATES: ReadonlySet<string> = new Set(['created', 'running', 'paused', 'restarting', 'removing', 'exited', 'dead']);

function toState(s: string | undefined): ContainerState {
  const v = (s ?? '').toLowerCase();
  return (STATES.has(v) ? v : 'dead') as ContainerState;
}

/** Docker's zero time "0001-01-01T00:00:00Z" means never. */
function dockerTime(s: string | undefined): number | undefined {
  if (!s || s.startsWith('0001-')) return undefined;
  const t = Date.parse(s);
  return Number.isFinite(t) ? t : undefined;
}

interface RawEvent {
  Type?: string;
  Action?: string;
  status?: string;
  id?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
  time?: number;
  timeNano?: number;
}

const NON_LABEL_ATTRIBUTES = new Set(['exitCode', 'image', 'name', 'signal', 'execID']);

/** An Engine event line to a RuntimeEvent (pure; exported for unit tests). */
export function toRuntimeEvent(raw: RawEvent): RuntimeEvent | undefined {
  const action = raw.Action ?? raw.status;
  const id = raw.Actor?.ID ?? raw.id;
  if (!action || !id) return undefined;
  const attrs = raw.Actor?.Attributes ?? {};
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(attrs)) if (!NON_LABEL_ATTRIBUTES.has(k)) labels[k] = v;
  const time = raw.timeNano !== undefined ? Math.floor(raw.timeNano / 1e6) : (raw.time ?? 0) * 1000;
  const ev: RuntimeEvent = { action, id, labels, time };
  if (attrs.exitCode !== undefined && /^-?\d+$/.test(attrs.exitCode)) ev.exitCode = Number(attrs.exitCode);
  return ev;
}

export function createDockerRuntime(opts: DockerRuntimeOptions): Runtime {
  const { logger, clock } = opts;
  const endpoint = parseDockerHost(opts.host ?? process.env.DOCKER_HOST ?? '/var/run/docker.sock');
  const where = endpoint.display;
  const docker = endpoint.kind === 'unix'
    ? new Docker({ socketPath: endpoint.socketPath })
    : new Docker({ host: endpoint.host, port: endpoint.port, protocol: 'http' });
  const execLimit = opts.execOutputLimit ?? 1 << 20;
  const requestTimeout = opts.requestTimeoutMs ?? 60_000;
  const subscriptions = new Set<EventSubscription>();
  let pauseInFlight: Promise<string> | undefined;
  let closed = false;

  const fail = (err: unknown, op: Op, what: string): RuntimeError => mapError(err, op, what, where);

  /** A streaming GET/POST with our own status handling (dockerode buffers some of them). */
  function dialStream(path: string, method: 'GET' | 'POST', query: Record<string, unknown>, signal?: AbortSignal): Promise<Readable> {
    return new Promise((resolve, reject) => {
      const dialOpts: Record<string, unknown> = {
        path,
        method,
        options: query,
        isStream: true,
        statusCodes: { 200: true, 404: 'no such container', 500: 'server error' },
      };
      if (signal) dialOpts.abortSignal = signal;
      docker.modem.dial(dialOpts as never, (err: unknown, stream: unknown) => (err ? reject(err) : resolve(stream as Readable)));
    });
  }

  /** Run one Engine call with an abort signal and a deadline on the injected clock. */
  async function bounded<T>(what: string, fn: (signal: AbortSignal) => Promise<T>, ms = requestTimeout): Promise<T> {
    const ac = new AbortController();
    let timer: TimerHandle | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = clock.setTimeout(() => {
        ac.abort();
        reject(new RuntimeError('Timeout', `Docker at ${where} did not answer ${what} within ${ms} ms (is dockerd hung? check \`journalctl -u docker\`)`));
      }, ms);
    });
    try {
      return await Promise.race([fn(ac.signal), deadline]);
    } finally {
      timer?.cancel();
    }
  }
  // dockerode forwards abortSignal (and strips it from the query) though its types do not all say so.
  const sig = (signal: AbortSignal): {} => ({ abortSignal: signal });

  async function rawInspect(id: string): Promise<Docker.ContainerInspectInfo | undefined> {
    try {
      return await bounded(`inspecting container ${id}`, (signal) => docker.getContainer(id).inspect(sig(signal)));
    } catch (err) {
      if ((err as EngineError).statusCode === 404) return undefined;
      throw fail(err, 'generic', `inspecting container ${id}`);
    }
  }

  const runtime: Runtime = {
    async info(): Promise<RuntimeInfo> {
      try {
        // info/version accept options (abortSignal) at run time; their types say otherwise.
        const engine = docker as unknown as { info(o: {}): Promise<Record<string, unknown>>; version(o: {}): Promise<Record<string, unknown>> };
        const [info, version] = await bounded('reading engine info', (signal) => Promise.all([engine.info(sig(signal)), engine.version(sig(signal))]));
        return {
          serverVersion: String(info.ServerVersion ?? version.Version ?? ''),
          apiVersion: String(version.ApiVersion ?? ''),
          os: String(info.OSType ?? version.Os ?? ''),
          arch: String(info.Architecture ?? version.Arch ?? ''),
          ncpu: Number(info.NCPU ?? 0),
          memTotalBytes: Number(info.MemTotal ?? 0),
          memoryLimit: Boolean(info.MemoryLimit),
          cpuLimit: Boolean(info.CpuCfsQuota ?? info.CPUCfsQuota),
          cgroupVersion: String(info.CgroupVersion ?? ''),
          dockerRootDir: String(info.DockerRootDir ?? ''),
          containersRunning: Number(info.ContainersRunning ?? 0),
        };
      } catch (err) {
        throw fail(err, 'generic', 'reading engine info');
      }
    },

    async listContainers(labels) {
      let list: Docker.ContainerInfo[];
      try {
        list = await bounded('listing containers', (signal) => docker.listContainers({ all: true, filters: { label: labelFilters(labels) }, abortSignal: signal } as Docker.ContainerListOptions));
      } catch (err) {
        throw fail(err, 'generic', 'listing containers');
      }
      return list.map((c): ContainerSummary => ({
        id: c.Id,
        name: (c.Names?.[0] ?? '').replace(/^\//, ''),
        image: c.Image,
        labels: c.Labels ?? {},
        state: toState(c.State),
        createdAt: (c.Created ?? 0) * 1000,
      }));
    },

    async inspect(id) {
      const c = await rawInspect(id);
      if (!c) return undefined;
      const st = c.State;
      const startedAt = dockerTime(st.StartedAt);
      const finishedAt = dockerTime(st.FinishedAt);
      const details: ContainerDetails = {
        id: c.Id,
        name: c.Name.replace(/^\//, ''),
        image: c.Config.Image,
        labels: c.Config.Labels ?? {},
        state: toState(st.Status),
        createdAt: dockerTime(c.Created) ?? 0,
        imageId: c.Image,
        running: st.Running,
        oomKilled: st.OOMKilled,
      };
      if (startedAt !== undefined) details.startedAt = startedAt;
      if (finishedAt !== undefined) {
        details.finishedAt = finishedAt;
        details.exitCode = st.ExitCode;
      } else if (!st.Running && (st.Status === 'exited' || st.Status === 'dead')) {
        details.exitCode = st.ExitCode;
      }
      if (st.Error) details.error = st.Error;
      if (st.Pid > 0) details.pid = st.Pid;
      const ns = c.NetworkSettings as typeof c.NetworkSettings & { IPAddress?: string };
      const ip = ns?.IPAddress || Object.values(ns?.Networks ?? {}).map((n) => n.IPAddress).find((a) => !!a);
      if (ip) details.ipAddress = ip;
      return details;
    },

    async imagePresent(ref) {
      try {
        // Image.inspect in dockerode does not forward an abort signal: dial it ourselves.
        await bounded(`inspecting image ${ref}`, (signal) => new Promise((resolve, reject) => {
          const dialOpts = { path: `/images/${ref}/json`, method: 'GET', abortSignal: signal, statusCodes: { 200: true, 404: 'no such image', 500: 'server error' } };
          docker.modem.dial(dialOpts as never, (err: unknown, data: unknown) => (err ? reject(err) : resolve(data)));
        }));
        return true;
      } catch (err) {
        if ((err as EngineError).statusCode === 404) return false;
        throw fail(err, 'generic', `inspecting image ${ref}`);
      }
    },

    async pullImage(ref, pullOpts) {
      const what = `pull of image ${ref}`;
      let stream: Readable;
      try {
        stream = (await docker.pull(ref, pullOpts?.signal ? { abortSignal: pullOpts.signal } : {})) as unknown as Readable;
      } catch (err) {
        if ((err as { name?: string }).name === 'AbortError') throw new RuntimeError('PullFailed', `${what} was aborted`);
        throw fail(err, 'pull', what);
      }
      await new Promise<void>((resolve, reject) => {
        let progressError: string | undefined;
        docker.modem.followProgress(
          stream,
          (err: Error | null) => {
            if (pullOpts?.signal?.aborted) return reject(new RuntimeError('PullFailed', `${what} was aborted`));
            if (err) return reject(new RuntimeError('PullFailed', `Docker ${what} failed: ${err.message}`));
            if (progressError) return reject(new RuntimeError('PullFailed', `Docker ${what} failed: ${progressError}`));
            resolve();
          },
          (ev: { error?: string; errorDetail?: { message?: string } }) => {
            if (ev.error || ev.errorDetail) progressError = ev.errorDetail?.message ?? ev.error;
          },
        );
      });
      logger.info({ image: ref }, 'image pulled');
    },

    async createContainer(spec) {
      try {
        const c = await bounded(`creating container ${spec.name}`, (signal) => docker.createContainer({ ...toCreateOptions(spec), abortSignal: signal } as Docker.ContainerCreateOptions));
        return c.id;
      } catch (err) {
        throw fail(err, 'create', `create of container ${spec.name} (image ${spec.image})`);
      }
    },

    async startContainer(id) {
      try {
        await bounded(`starting container ${id}`, (signal) => docker.getContainer(id).start(sig(signal)));
      } catch (err) {
        if ((err as EngineError).statusCode === 304) return; // already running
        const e = fail(err, 'start', `start of container ${id}`);
        throw e.statusCode === 404 ? new RuntimeError('NotFound', e.message, 404) : e;
      }
    },

    async stopContainer(id, graceSeconds) {
      try {
        const t = Math.max(0, Math.round(graceSeconds));
        await bounded(`stopping container ${id}`, (signal) => docker.getContainer(id).stop({ t, abortSignal: signal } as {}), t * 1000 + requestTimeout);
      } catch (err) {
        const s = (err as EngineError).statusCode;
        if (s === 304 || s === 404) return;
        throw fail(err, 'generic', `stop of container ${id}`);
      }
    },

    async killContainer(id, signal) {
      try {
        await bounded(`killing container ${id}`, (abortSignal) => docker.getContainer(id).kill((signal ? { signal, abortSignal } : { abortSignal }) as {}));
      } catch (err) {
        const s = (err as EngineError).statusCode;
        if (s === 404) return;
        if (s === 409 && /not running/i.test(engineMessage(err))) return;
        throw fail(err, 'generic', `kill of container ${id}`);
      }
    },

    async removeContainer(id, removeOpts) {
      try {
        await bounded(`removing container ${id}`, (signal) => docker.getContainer(id).remove({ force: removeOpts?.force ?? true, v: true, abortSignal: signal } as {}));
      } catch (err) {
        const s = (err as EngineError).statusCode;
        if (s === 404) return;
        if (s === 409 && /already in progress/i.test(engineMessage(err))) return;
        throw fail(err, 'generic', `removal of container ${id}`);
      }
    },

    async exec(id, cmd, execOpts) {
      const what = `exec of ${JSON.stringify(cmd)} in container ${id}`;
      let exec: Docker.Exec;
      try {
        const createOpts: Docker.ExecCreateOptions = { Cmd: cmd, AttachStdout: true, AttachStderr: true, AttachStdin: false, Tty: false };
        if (execOpts.env?.length) createOpts.Env = execOpts.env;
        exec = await bounded(`creating an exec in container ${id}`, (signal) => docker.getContainer(id).exec({ ...createOpts, abortSignal: signal } as Docker.ExecCreateOptions));
      } catch (err) {
        throw fail(err, 'generic', what);
      }
      const ac = new AbortController();
      let timer: TimerHandle | undefined;
      let outcome: 'timeout' | 'aborted' | undefined;
      const onAbort = (): void => {
        outcome ??= 'aborted';
        ac.abort();
      };
      execOpts.signal?.addEventListener('abort', onAbort, { once: true });
      try {
        if (execOpts.signal?.aborted) throw new RuntimeError('Timeout', `${what} was aborted before it started`);
        timer = clock.setTimeout(() => {
          outcome ??= 'timeout';
          ac.abort();
        }, execOpts.timeoutMs);
        const out: Record<'stdout' | 'stderr', Buffer[]> = { stdout: [], stderr: [] };
        const size = { stdout: 0, stderr: 0 };
        const demux = new Demuxer((s, data) => {
          const room = execLimit - size[s];
          if (room <= 0) return;
          const part = data.length > room ? data.subarray(0, room) : data;
          out[s].push(Buffer.from(part));
          size[s] += part.length;
        });
        await new Promise<void>((resolve, reject) => {
          exec.start({ hijack: false, stdin: false, abortSignal: ac.signal } as Docker.ExecStartOptions, (err: unknown, stream: unknown) => {
            if (err) return reject(err);
            const s = stream as Readable;
            const finish = (): void => resolve();
            ac.signal.addEventListener('abort', () => s.destroy(), { once: true });
            s.on('data', (chunk: Buffer) => demux.push(chunk));
            s.on('end', finish);
            s.on('close', finish);
            s.on('error', (e) => reject(e));
          });
        });
        if (outcome) throw new Error(outcome);
        const info = await bounded(`inspecting an exec in container ${id}`, (signal) => exec.inspect(sig(signal)));
        if (info.Running) throw new RuntimeError('Unknown', `${what}: the output stream ended but the process is still running`);
        return {
          exitCode: info.ExitCode ?? -1,
          stdout: Buffer.concat(out.stdout).toString('utf8'),
          stderr: Buffer.concat(out.stderr).toString('utf8'),
        } satisfies ExecResult;
      } catch (err) {
        if (outcome === 'timeout') {
          throw new RuntimeError('Timeout', `${what} did not finish within ${execOpts.timeoutMs} ms (the process may still be running in the container)`);
        }
        if (outcome === 'aborted') throw new RuntimeError('Timeout', `${what} was aborted`);
        throw fail(err, 'generic', what);
      } finally {
        timer?.cancel();
        execOpts.signal?.removeEventListener('abort', onAbort);
      }
    },

    async logs(id, logOpts: LogOptions, onLine) {
      const what = `reading logs of container ${id}`;
      const c = await rawInspect(id);
      if (!c) throw new RuntimeError('NotFound', `Docker ${what} failed: no such container`, 404);
      if (logOpts.signal?.aborted) return;
      const query: Record<string, unknown> = {
        stdout: true,
        stderr: true,
        follow: Boolean(logOpts.follow),
        timestamps: Boolean(logOpts.timestamps),
        tail: logOpts.tail !== undefined && logOpts.tail >= 0 ? String(Math.floor(logOpts.tail)) : 'all',
      };
      if (logOpts.since !== undefined) query.since = String(Math.floor(logOpts.since / 1000));
      let stream: Readable;
      try {
        stream = await dialStream(`/containers/${encodeURIComponent(id)}/logs?`, 'GET', query, logOpts.signal);
      } catch (err) {
        if (logOpts.signal?.aborted) return;
        throw fail(err, 'generic', what);
      }
      const splitters = {
        stdout: new LineSplitter((l) => onLine('stdout', l)),
        stderr: new LineSplitter((l) => onLine('stderr', l)),
      };
      const tty = Boolean(c.Config.Tty);
      const demux = new Demuxer((s, data) => splitters[s].push(data.toString('utf8')));
      await new Promise<void>((resolve, reject) => {
        let done = false;
        const onAbort = (): void => {
          stream.destroy();
          finish();
        };
        const finish = (err?: unknown): void => {
          if (done) return;
          done = true;
          logOpts.signal?.removeEventListener('abort', onAbort);
          splitters.stdout.flush();
          splitters.stderr.flush();
          if (err && !logOpts.signal?.aborted) reject(fail(err, 'generic', what));
          else resolve();
        };
        stream.on('data', (chunk: Buffer) => (tty ? splitters.stdout.push(chunk.toString('utf8')) : demux.push(chunk)));
        stream.on('end', () => finish());
        stream.on('close', () => finish());
        stream.on('error', (err) => finish(err));
        if (logOpts.signal?.aborted) onAbort();
        else logOpts.signal?.addEventListener('abort', onAbort, { once: true });
      });
    },

    events(labels, onEvent, onError) {
      let stopped = false;
      let attempt = 0;
      let timer: TimerHandle | undefined;
      let ac: AbortController | undefined;
      let connectedAt = 0;
      let lastNano: number | undefined;
      let keysAtLast = new Set<string>();

      const scheduleReconnect = (err: unknown): void => {
        if (stopped) return;
        ac?.abort();
        if (connectedAt > 0 && clock.monotonic() - connectedAt > 30_000) attempt = 0;
        connectedAt = 0;
        attempt++;
        const delay = backoffDelay(attempt, 250, 30_000);
        const e = fail(err, 'generic', 'watching container events');
        logger.warn({ err: e.message, attempt, delayMs: delay }, 'docker event stream lost; reconnecting');
        onError?.(e);
        timer = clock.setTimeout(() => void connect(), delay);
      };

      const deliver = (line: string): void => {
        if (!line.trim()) return;
        let raw: RawEvent;
        try {
          raw = JSON.parse(line) as RawEvent;
        } catch {
          logger.warn({ line: line.slice(0, 200) }, 'docker event stream: unparsable line ignored');
          return;
        }
        if (raw.Type && raw.Type !== 'container') return;
        const ev = toRuntimeEvent(raw);
        if (!ev) return;
        const nano = raw.timeNano ?? (raw.time ?? 0) * 1e9;
        const key = `${ev.id}/${ev.action}`;
        if (lastNano !== undefined) {
          if (nano < lastNano) return;
          if (nano === lastNano && keysAtLast.has(key)) return;
        }
        if (lastNano === undefined || nano > lastNano) {
          lastNano = nano;
          keysAtLast = new Set();
        }
        keysAtLast.add(key);
        try {
          onEvent(ev);
        } catch (err) {
          logger.error({ err }, 'container event handler threw');
        }
      };

      const connect = async (): Promise<void> => {
        if (stopped) return;
        ac = new AbortController();
        const query: Record<string, unknown> = { filters: { type: ['container'], label: labelFilters(labels) }, abortSignal: ac.signal };
        if (lastNano !== undefined) query.since = String(Math.floor(lastNano / 1e9));
        let stream: Readable;
        try {
          stream = (await docker.getEvents(query)) as unknown as Readable;
        } catch (err) {
          scheduleReconnect(err);
          return;
        }
        if (stopped) {
          stream.destroy();
          return;
        }
        connectedAt = clock.monotonic();
        const splitter = new LineSplitter(deliver);
        let ended = false;
        const end = (err: unknown): void => {
          if (ended) return;
          ended = true;
          stream.destroy();
          scheduleReconnect(err);
        };
        stream.on('data', (chunk: Buffer) => splitter.push(chunk.toString('utf8')));
        stream.on('end', () => end(Object.assign(new Error('event stream ended'), { code: 'ECONNRESET' })));
        stream.on('close', () => end(Object.assign(new Error('event stream closed'), { code: 'ECONNRESET' })));
        stream.on('error', (err) => end(err));
      };

      const sub: EventSubscription = {
        close() {
          if (stopped) return;
          stopped = true;
          timer?.cancel();
          ac?.abort();
          subscriptions.delete(sub);
        },
      };
      subscriptions.add(sub);
      if (closed) sub.close();
      else void connect();
      return sub;
    },

    async ensureVolume(name, labels, volOpts) {
      try {
        await bounded(`inspecting volume ${name}`, (signal) => docker.getVolume(name).inspect(sig(signal)));
        return;
      } catch (err) {
        if ((err as EngineError).statusCode !== 404) throw fail(err, 'generic', `inspecting volume ${name}`);
      }
      const create: Record<string, unknown> = { Name: name, Labels: labels, Driver: 'local' };
      if (volOpts?.tmpfs) {
        const driverOpts: Record<string, string> = { type: 'tmpfs', device: 'tmpfs' };
        if (volOpts.sizeBytes && volOpts.sizeBytes > 0) driverOpts.o = `size=${Math.floor(volOpts.sizeBytes)}`;
        create.DriverOpts = driverOpts;
      }
      try {
        await bounded(`creating volume ${name}`, (signal) => docker.createVolume({ ...create, abortSignal: signal } as Docker.VolumeCreateOptions));
      } catch (err) {
        throw fail(err, 'create', `create of volume ${name}`);
      }
    },

    async removeVolume(name) {
      try {
        await bounded(`removing volume ${name}`, (signal) => docker.getVolume(name).remove(sig(signal)));
      } catch (err) {
        if ((err as EngineError).statusCode === 404) return;
        throw fail(err, 'generic', `removal of volume ${name}`);
      }
    },

    async listVolumes(labels) {
      try {
        const res = await bounded('listing volumes', (signal) => docker.listVolumes({ filters: { label: labelFilters(labels) }, abortSignal: signal } as {}));
        return (res.Volumes ?? []).map((v) => ({ name: v.Name, labels: v.Labels ?? {} }));
      } catch (err) {
        throw fail(err, 'generic', 'listing volumes');
      }
    },

    ensurePauseImage() {
      pauseInFlight ??= (async () => {
        if (await runtime.imagePresent(PAUSE_IMAGE)) return PAUSE_IMAGE;
        const arch = pauseArchFor(process.arch);
        const tar = pauseRootfsTar(arch);
        const what = `import of the pause image ${PAUSE_IMAGE}`;
        try {
          const stream = (await docker.importImage(tar as never, { repo: PAUSE_REPO, tag: PAUSE_TAG, changes: PAUSE_IMAGE_CHANGES } as never)) as unknown as Readable;
          await new Promise<void>((resolve, reject) => {
            let progressError: string | undefined;
            docker.modem.followProgress(
              stream,
              (err: Error | null) => (err ? reject(err) : progressError ? reject(new Error(progressError)) : resolve()),
              (ev: { error?: string; errorDetail?: { message?: string } }) => {
                if (ev.error || ev.errorDetail) progressError = ev.errorDetail?.message ?? ev.error;
              },
            );
          });
        } catch (err) {
          throw fail(err, 'generic', what);
        }
        if (!(await runtime.imagePresent(PAUSE_IMAGE))) throw new RuntimeError('Unknown', `${what}: Docker reported success but the image is not present`);
        logger.info({ image: PAUSE_IMAGE, arch }, 'pause image imported');
        return PAUSE_IMAGE;
      })().finally(() => {
        pauseInFlight = undefined;
      });
      return pauseInFlight;
    },

    close() {
      closed = true;
      for (const s of [...subscriptions]) s.close();
    },
  };
  return runtime;
}
