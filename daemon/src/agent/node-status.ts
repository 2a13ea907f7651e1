/**
 * The Node object this node reports: labels (hostname, os, arch, board model), taints, capacity
 * and allocatable (cpu, memory, pods, ephemeral-storage), conditions (Ready, MemoryPressure,
 * DiskPressure, MemoryCgroupUnavailable), nodeInfo and addresses. buildNode() is pure (facts in,
 * Node out, transition times kept from the previous object); gathering the facts uses cheap
 * calls only: systeminformation mem() and fsSize() once, statfs for free space, /proc files.
 */
import { promises as fsp, readFileSync } from 'node:fs';
import { availableParallelism, release } from 'node:os';
import si from 'systeminformation';
import type { Node, NodeCondition } from '../api/types.js';
import type { RuntimeInfo } from '../runtime/types.js';
import { rfc3339 } from '../lib/time.js';

export interface NodeFacts {
  hostname: string;
  address: string;
  arch: string;
  kernelVersion: string;
  osImage: string;
  board?: string;
  cpus: number;
  memTotalBytes: number;
  memAvailableBytes: number;
  diskTotalBytes: number;
  diskAvailableBytes: number;
  /** undefined when Docker did not answer. */
  docker?: RuntimeInfo;
  /** The last engine error (logged; not in the condition, whose message must stay stable). */
  dockerError?: string;
  /** Why the desired-state store of this board refuses writes (disk full and not recoverable, damaged). */
  storeReadOnly?: string;
  dockerHost: string;
}

export interface NodeConfig {
  nodeName: string;
  labels: Record<string, string>;
  taints: Array<{ key: string; value?: string; effect: string }>;
  version: string;
}

export const MEMORY_PRESSURE_BYTES = 100 * 1024 * 1024;
export const DISK_PRESSURE_FRACTION = 0.1;
export const MAX_PODS = 110;
export const MEMORY_CGROUP_HINT = 'memory limits are not enforced: add cgroup_enable=memory cgroup_memory=1 to /boot/firmware/cmdline.txt';

/** Node.js arch -> Kubernetes arch label. */
export function kubeArch(nodeArch: string): string {
  switch (nodeArch) {
    case 'x64': return 'amd64';
    case 'arm64': return 'arm64';
    case 'arm': return 'arm';
    case 'ia32': return '386';
    default: return nodeArch;
  }
}

/** A board model ("Raspberry Pi 4 Model B Rev 1.4\0") as a label value (63 chars, [A-Za-z0-9_.-], alnum ends). */
export function boardLabel(model: string): string | undefined {
  const s = model.replace(/\0/g, '').trim().replace(/[^A-Za-z0-9_.-]+/g, '-').slice(0, 63).replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
  return s || undefined;
}

function condition(type: string, status: 'True' | 'False' | 'Unknown', reason: string, message: string, prev: NodeCondition[] | undefined, now: string): NodeCondition {
  const old = prev?.find((c) => c.type === type);
  return {
    type, status, reason, message,
    lastHeartbeatTime: now,
    lastTransitionTime: old && old.status === status ? old.lastTransitionTime : now,
  };
}

export function buildNode(facts: NodeFacts, cfg: NodeConfig, prev: Node | undefined, now: number): Node {
  const ts = rfc3339(now);
  const prevConds = prev?.status?.conditions;
  const labels: Record<string, string> = {
    'kubernetes.io/hostname': cfg.nodeName,
    'kubernetes.io/os': 'linux',
    'kubernetes.io/arch': facts.arch,
    'beta.kubernetes.io/os': 'linux',
    'beta.kubernetes.io/arch': facts.arch,
    ...(facts.board ? { 'pifleet.io/board': facts.board } : {}),
    ...cfg.labels,
  };
  const memKi = `${Math.floor(facts.memTotalBytes / 1024)}Ki`;
  const disk = `${Math.floor(facts.diskTotalBytes / 1024)}Ki`;
  const capacity = { cpu: String(facts.cpus), memory: memKi, pods: String(MAX_PODS), 'ephemeral-storage': disk };
  const docker = facts.docker;
  const conditions: NodeCondition[] = [];
  const memPressure = facts.memAvailableBytes < MEMORY_PRESSURE_BYTES;
  conditions.push(condition('MemoryPressure', memPressure ? 'True' : 'False',
    memPressure ? 'KubeletHasInsufficientMemory' : 'KubeletHasSufficientMemory',
    memPressure ? `kubelet has insufficient memory available (${Math.floor(facts.memAvailableBytes / 1048576)}Mi < 100Mi)` : 'kubelet has sufficient memory available', prevConds, ts));
  const diskPressure = facts.diskTotalBytes > 0 && facts.diskAvailableBytes / facts.diskTotalBytes < DISK_PRESSURE_FRACTION;
  conditions.push(condition('DiskPressure', diskPressure ? 'True' : 'False',
    diskPressure ? 'KubeletHasDiskPressure' : 'KubeletHasNoDiskPressure',
    diskPressure ? `kubelet has disk pressure (less than 10% free on the container filesystem)` : 'kubelet has no disk pressure', prevConds, ts));
  conditions.push(condition('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available', prevConds, ts));
  if (docker) {
    const noCgroup = !docker.memoryLimit;
    conditions.push(condition('MemoryCgroupUnavailable', noCgroup ? 'True' : 'False',
      noCgroup ? 'MemoryCgroupDisabled' : 'MemoryCgroupAvailable',
      noCgroup ? MEMORY_CGROUP_HINT : 'memory limits are enforced', prevConds, ts));
  }
  conditions.push(condition('StoreWritable', facts.storeReadOnly ? 'False' : 'True',
    facts.storeReadOnly ? 'StoreReadOnly' : 'StoreWritable',
    facts.storeReadOnly ? `the desired-state store refuses writes: ${facts.storeReadOnly}` : 'the desired-state store takes writes', prevConds, ts));
  const ready = Boolean(docker);
  let readyMsg = ready ? 'pifleet agent is posting ready status' : `Docker is not reachable at ${facts.dockerHost}: check that dockerd is running (systemctl status docker)`;
  if (docker && !docker.memoryLimit) readyMsg += `; ${MEMORY_CGROUP_HINT}`;
  conditions.push(condition('Ready', ready ? 'True' : 'False', ready ? 'KubeletReady' : 'KubeletNotReady', readyMsg, prevConds, ts));

  const node: Node = {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: cfg.nodeName, labels, ...(prev?.metadata.uid ? { uid: prev.metadata.uid } : {}) },
    spec: cfg.taints.length ? { taints: cfg.taints.map((t) => ({ key: t.key, ...(t.value !== undefined ? { value: t.value } : {}), effect: t.effect })) } : {},
    status: {
      capacity,
      allocatable: { ...capacity },
      conditions,
      addresses: [{ type: 'InternalIP', address: facts.address }, { type: 'Hostname', address: facts.hostname }],
      nodeInfo: {
        machineID: '', systemUUID: '', bootID: '',
        kernelVersion: facts.kernelVersion,
        osImage: facts.osImage,
        containerRuntimeVersion: docker ? `docker://${docker.serverVersion}` : 'docker://unknown',
        kubeletVersion: `pifleet/${cfg.version}`,
        kubeProxyVersion: `pifleet/${cfg.version}`,
        operatingSystem: 'linux',
        architecture: facts.arch,
      },
      daemonEndpoints: { kubeletEndpoint: { Port: 0 } },
    },
  };
  return node;
}

/** The parts of a Node that matter for "did it change" (heartbeat times excluded). */
export function nodeFingerprint(n: Node): string {
  const conds = (n.status?.conditions ?? []).map((c) => ({ ...c, lastHeartbeatTime: undefined }));
  return JSON.stringify({ m: n.metadata.labels, s: n.spec, c: n.status?.capacity, conds, i: n.status?.nodeInfo, a: n.status?.addresses });
}

function readFirst(path: string): string | undefined {
  try { return readFileSync(path, 'utf8'); } catch { return undefined; }
}

/** PRETTY_NAME from /etc/os-release. */
export function osImageOf(text: string | undefined): string {
  const m = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(text ?? '');
  return m?.[1] ?? 'Linux';
}

/** Facts that do not change while the daemon runs (read once). */
export interface StaticFacts {
  hostname: string;
  arch: string;
  kernelVersion: string;
  osImage: string;
  board?: string;
  cpus: number;
}

export function readStaticFacts(hostname: string): StaticFacts {
  const model = readFirst('/proc/device-tree/model');
  const board = model ? boardLabel(model) : undefined;
  return {
    hostname,
    arch: kubeArch(process.arch),
    kernelVersion: release(),
    osImage: osImageOf(readFirst('/etc/os-release')),
    ...(board ? { board } : {}),
    cpus: availableParallelism(),
  };
}

/** Memory facts (systeminformation mem(): /proc/meminfo). */
export async function readMemory(): Promise<{ total: number; available: number }> {
  const m = await si.mem();
  return { total: m.total, available: m.available };
}

/** The filesystem holding dir: capacity via systeminformation fsSize (once) and free space via statfs. */
export async function readDisk(dir: string): Promise<{ total: number; available: number }> {
  let d = dir;
  for (let i = 0; i < 20; i++) {
    try {
      const st = await fsp.statfs(d);
      return { total: st.blocks * st.bsize, available: st.bavail * st.bsize };
    } catch {
      const parent = d.replace(/\/[^/]*\/?$/, '') || '/';
      if (parent === d) break;
      d = parent;
    }
  }
  return { total: 0, available: 0 };
}

/** Total size of the filesystem mounted at (or above) dir as systeminformation reports it. */
export async function fsSizeOf(dir: string): Promise<number | undefined> {
  try {
    const all = await si.fsSize();
    let best: { mount: string; size: number } | undefined;
    for (const f of all) {
      if ((dir === f.mount || dir.startsWith(f.mount.endsWith('/') ? f.mount : `${f.mount}/`)) && (!best || f.mount.length > best.mount.length)) best = { mount: f.mount, size: f.size };
    }
    return best?.size;
  } catch {
    return undefined;
  }
}
