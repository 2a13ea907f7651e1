/**
 * The container runtime as the agent sees it. runtime/docker.ts is the only module that talks
 * to Docker (dockerode); everything else uses this interface. Every method is idempotent where
 * the operation allows it (stopping a stopped container, removing a missing one: no error).
 */

/** Labels every pifleet container carries. */
export const LABELS = {
  cluster: 'pifleet.cluster',
  node: 'pifleet.node',
  podUid: 'pifleet.pod.uid',
  podNamespace: 'pifleet.pod.namespace',
  podName: 'pifleet.pod.name',
  /** Container name in the pod spec; "POD" for the infra (pause) container. */
  container: 'pifleet.container',
  /** 0, 1, 2, ... one per (re)start of the same pod container: restartCount. */
  attempt: 'pifleet.attempt',
  /** Hash of the container spec the container was made from. */
  hash: 'pifleet.hash',
  /** The lineage (history identity) of the desired state the container was made from; absent when it had none. */
  lineage: 'pifleet.lineage',
  /** The pod's metadata.resourceVersion the container was made from (decimal). */
  podRevision: 'pifleet.pod.revision',
} as const;

export const INFRA_CONTAINER = 'POD';

export type Mount =
  | { type: 'bind'; source: string; target: string; readOnly?: boolean }
  | { type: 'volume'; source: string; target: string; readOnly?: boolean }
  | { type: 'tmpfs'; target: string; sizeBytes?: number; mode?: number };

export type NetworkMode =
  | { mode: 'bridge' }
  | { mode: 'host' }
  | { mode: 'none' }
  /** Join the network namespace of another container (the pod's infra container). */
  | { mode: 'container'; id: string };

export interface PortBinding {
  containerPort: number;
  hostPort?: number;
  hostIP?: string;
  protocol: 'tcp' | 'udp';
}

export interface ContainerSpec {
  /** Docker container name (unique per engine). */
  name: string;
  image: string;
  /** Overrides the image ENTRYPOINT (Kubernetes `command`). */
  entrypoint?: string[];
  /** Overrides the image CMD (Kubernetes `args`). */
  cmd?: string[];
  /** "KEY=value" entries. */
  env: string[];
  labels: Record<string, string>;
  workingDir?: string;
  hostname?: string;
  user?: string;
  tty?: boolean;
  openStdin?: boolean;
  network: NetworkMode;
  /** Only meaningful with network bridge/host (published on the host). */
  ports: PortBinding[];
  mounts: Mount[];
  /** Docker Memory (bytes); 0/undefined = unlimited. */
  memoryBytes?: number;
  /** Docker NanoCpus; 0/undefined = unlimited. */
  nanoCpus?: number;
  privileged?: boolean;
  capAdd?: string[];
  capDrop?: string[];
  readOnlyRootfs?: boolean;
  /** Extra /etc/hosts lines "name:ip". */
  extraHosts?: string[];
  dns?: string[];
}

export type ContainerState = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

export interface ContainerSummary {
  id: string;
  /** Without the leading slash. */
  name: string;
  image: string;
  labels: Record<string, string>;
  state: ContainerState;
  /** ms since epoch. */
  createdAt: number;
}

export interface ContainerDetails extends ContainerSummary {
  imageId: string;
  running: boolean;
  /** ms since epoch; undefined when never started. */
  startedAt?: number;
  finishedAt?: number;
  exitCode?: number;
  oomKilled: boolean;
  /** Docker's error for a failed start (e.g. executable not found). */
  error?: string;
  pid?: number;
  /** IP address on the default bridge (or the network it joined); undefined for container/host mode. */
  ipAddress?: string;
}

export interface RuntimeInfo {
  serverVersion: string;
  apiVersion: string;
  os: string;
  arch: string;
  ncpu: number;
  memTotalBytes: number;
  /** false when the kernel's memory cgroup is disabled (Raspberry Pi OS default): limits are not enforced. */
  memoryLimit: boolean;
  cpuLimit: boolean;
  cgroupVersion: string;
  dockerRootDir: string;
  containersRunning: number;
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface LogOptions {
  /** Lines from the end; undefined or negative: all. */
  tail?: number;
  follow?: boolean;
  timestamps?: boolean;
  /** ms since epoch. */
  since?: number;
  signal?: AbortSignal;
}

export interface RuntimeEvent {
  /** die, start, oom, destroy, create, kill, stop, ... as Docker names them. */
  action: string;
  id: string;
  labels: Record<string, string>;
  /** ms since epoch. */
  time: number;
  exitCode?: number;
}

export interface EventSubscription {
  close(): void;
}

export type RuntimeErrorCode =
  | 'Unavailable' // the engine does not answer (socket missing, daemon down)
  | 'NotFound' // container/volume not found
  | 'ImageNotFound' // image not present locally
  | 'PullFailed' // pull failed (no registry, bad name, auth)
  | 'Conflict' // name already in use, etc.
  | 'InvalidSpec' // the engine rejected the spec (bad mount, bad port, ...)
  | 'StartFailed' // create ok, start failed (executable not found, port in use)
  | 'Timeout'
  | 'Unknown';

export class RuntimeError extends Error {
  constructor(readonly code: RuntimeErrorCode, message: string, readonly statusCode?: number) {
    super(message);
    this.name = 'RuntimeError';
  }
}

export interface Runtime {
  /** Engine facts; throws RuntimeError('Unavailable') when Docker does not answer. */
  info(): Promise<RuntimeInfo>;
  /** All containers (running or not) carrying every given label. */
  listContainers(labels: Record<string, string>): Promise<ContainerSummary[]>;
  /** undefined when the container does not exist. */
  inspect(id: string): Promise<ContainerDetails | undefined>;
  imagePresent(ref: string): Promise<boolean>;
  /** Pull an image; resolves when the pull completed; RuntimeError('PullFailed') with Docker's message. */
  pullImage(ref: string, opts?: { signal?: AbortSignal }): Promise<void>;
  /** Create (not start); returns the id. ImageNotFound when the image is absent. */
  createContainer(spec: ContainerSpec): Promise<string>;
  startContainer(id: string): Promise<void>;
  /** SIGTERM (or the image's stop signal), then SIGKILL after graceSeconds. Idempotent. */
  stopContainer(id: string, graceSeconds: number): Promise<void>;
  killContainer(id: string, signal?: string): Promise<void>;
  /** Idempotent; force kills a running container first. Also removes its anonymous volumes. */
  removeContainer(id: string, opts?: { force?: boolean }): Promise<void>;
  /** Run a command in a running container and collect its output (probes, `pifleet exec`). */
  exec(id: string, cmd: string[], opts: { timeoutMs: number; signal?: AbortSignal; env?: string[] }): Promise<ExecResult>;
  /** Stream a container's log lines (demultiplexed, split at newlines). Resolves at the end (or when aborted). */
  logs(id: string, opts: LogOptions, onLine: (stream: 'stdout' | 'stderr', line: string) => void): Promise<void>;
  /** Container events of this engine filtered by labels; reconnects with backoff by itself until closed. */
  events(labels: Record<string, string>, onEvent: (ev: RuntimeEvent) => void, onError?: (err: Error) => void): EventSubscription;
  ensureVolume(name: string, labels: Record<string, string>, opts?: { tmpfs?: boolean; sizeBytes?: number }): Promise<void>;
  removeVolume(name: string): Promise<void>;
  listVolumes(labels: Record<string, string>): Promise<Array<{ name: string; labels: Record<string, string> }>>;
  /** The tiny infra image that holds a multi-container pod's network namespace; built offline, once. */
  ensurePauseImage(): Promise<string>;
  close(): void;
}
