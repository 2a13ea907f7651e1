import t from 'tap';
import { boardLabel, buildNode, kubeArch, MEMORY_CGROUP_HINT, nodeFingerprint, osImageOf, readDisk, type NodeFacts } from '../../../daemon/src/agent/node-status.js';
import type { RuntimeInfo } from '../../../daemon/src/runtime/types.js';
import { rfc3339 } from '../../../daemon/src/lib/time.js';

const NOW = Date.UTC(2026, 0, 1, 12);
const docker: RuntimeInfo = {
  serverVersion: '20.10.24', apiVersion: '1.41', os: 'linux', arch: 'aarch64', ncpu: 4, memTotalBytes: 8e9,
  memoryLimit: true, cpuLimit: true, cgroupVersion: '2', dockerRootDir: '/var/lib/docker', containersRunning: 2,
};
const facts = (over: Partial<NodeFacts> = {}): NodeFacts => ({
  hostname: 'pi1', address: '10.0.0.11', arch: 'arm64', kernelVersion: '6.6.31+rpt-rpi-v8', osImage: 'Debian GNU/Linux 12 (bookworm)',
  board: 'Raspberry-Pi-4-Model-B-Rev-1.4', cpus: 4, memTotalBytes: 4 * 1024 ** 3, memAvailableBytes: 2 * 1024 ** 3,
  diskTotalBytes: 64e9, diskAvailableBytes: 40e9, docker, dockerHost: 'unix:///var/run/docker.sock', ...over,
});
const cfg = { nodeName: 'pi1', labels: { zone: 'shelf-1' }, taints: [{ key: 'dedicated', value: 'gw', effect: 'NoSchedule' }], version: '0.1.0' };
const cond = (n: ReturnType<typeof buildNode>, type: string) => n.status?.conditions?.find((c) => c.type === type);

t.test('builds a Ready Node with labels, taints, capacity, nodeInfo and addresses', async (t) => {
  const n = buildNode(facts(), cfg, undefined, NOW);
  t.same(n.metadata.labels, {
    'kubernetes.io/hostname': 'pi1', 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'arm64',
    'beta.kubernetes.io/os': 'linux', 'beta.kubernetes.io/arch': 'arm64', 'pifleet.io/board': 'Raspberry-Pi-4-Model-B-Rev-1.4', zone: 'shelf-1',
  });
  t.same(n.spec?.taints, [{ key: 'dedicated', value: 'gw', effect: 'NoSchedule' }]);
  t.same(n.status?.capacity, { cpu: '4', memory: `${4 * 1024 * 1024}Ki`, pods: '110', 'ephemeral-storage': `${Math.floor(64e9 / 1024)}Ki` });
  t.same(n.status?.allocatable, n.status?.capacity);
  t.match(cond(n, 'Ready'), { status: 'True', reason: 'KubeletReady' });
  t.match(cond(n, 'MemoryPressure'), { status: 'False' });
  t.match(cond(n, 'DiskPressure'), { status: 'False' });
  t.match(cond(n, 'MemoryCgroupUnavailable'), { status: 'False' });
  t.match(n.status?.nodeInfo, { kernelVersion: '6.6.31+rpt-rpi-v8', osImage: 'Debian GNU/Linux 12 (bookworm)', containerRuntimeVersion: 'docker://20.10.24', kubeletVersion: 'pifleet/0.1.0', architecture: 'arm64', operatingSystem: 'linux' });
  t.same(n.status?.addresses, [{ type: 'InternalIP', address: '10.0.0.11' }, { type: 'Hostname', address: 'pi1' }]);
});

t.test('reports NotReady with an actionable message when Docker is unreachable', async (t) => {
  const n = buildNode(facts({ docker: undefined, dockerError: 'connect ENOENT /var/run/docker.sock' }), cfg, undefined, NOW);
  const r = cond(n, 'Ready');
  t.equal(r?.status, 'False');
  t.equal(r?.reason, 'KubeletNotReady');
  t.match(r?.message, /^Docker is not reachable at unix:\/\/\/var\/run\/docker\.sock: check that dockerd is running \(systemctl status docker\)/);
});

t.test('says when the memory cgroup is disabled, as a condition and in the Ready message', async (t) => {
  const n = buildNode(facts({ docker: { ...docker, memoryLimit: false } }), cfg, undefined, NOW);
  t.match(cond(n, 'MemoryCgroupUnavailable'), { status: 'True', message: MEMORY_CGROUP_HINT });
  t.match(cond(n, 'Ready')?.message, /cgroup_enable=memory cgroup_memory=1 to \/boot\/firmware\/cmdline\.txt/);
  t.equal(cond(n, 'Ready')?.status, 'True', 'the node still runs pods');
});

t.test('memory and disk pressure thresholds', async (t) => {
  t.equal(cond(buildNode(facts({ memAvailableBytes: 99 * 1024 * 1024 }), cfg, undefined, NOW), 'MemoryPressure')?.status, 'True');
  t.equal(cond(buildNode(facts({ memAvailableBytes: 101 * 1024 * 1024 }), cfg, undefined, NOW), 'MemoryPressure')?.status, 'False');
  t.equal(cond(buildNode(facts({ diskAvailableBytes: 6e9 }), cfg, undefined, NOW), 'DiskPressure')?.status, 'True');
  t.equal(cond(buildNode(facts({ diskAvailableBytes: 7e9 }), cfg, undefined, NOW), 'DiskPressure')?.status, 'False');
});

t.test('keeps transition times and ignores heartbeat times when deciding whether the Node changed', async (t) => {
  const a = buildNode(facts(), cfg, undefined, NOW);
  const b = buildNode(facts(), cfg, a, NOW + 10_000);
  t.equal(cond(b, 'Ready')?.lastTransitionTime, rfc3339(NOW));
  t.equal(cond(b, 'Ready')?.lastHeartbeatTime, rfc3339(NOW + 10_000));
  t.equal(nodeFingerprint(a), nodeFingerprint(b), 'a heartbeat alone is no change');
  const c = buildNode(facts({ docker: undefined }), cfg, b, NOW + 20_000);
  t.not(nodeFingerprint(c), nodeFingerprint(b));
  t.equal(cond(c, 'Ready')?.lastTransitionTime, rfc3339(NOW + 20_000));
});

t.test('maps architectures, board models and os-release', async (t) => {
  t.equal(kubeArch('x64'), 'amd64');
  t.equal(kubeArch('arm64'), 'arm64');
  t.equal(kubeArch('arm'), 'arm');
  t.equal(boardLabel('Raspberry Pi 4 Model B Rev 1.4\0'), 'Raspberry-Pi-4-Model-B-Rev-1.4');
  t.equal(boardLabel('Raspberry Pi Compute Module 4 Rev 1.0 (with a very long suffix that exceeds sixty-three chars)')?.length, 63);
  t.match(boardLabel('  (odd) name!  '), /^[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?$/);
  t.equal(boardLabel('\0'), undefined);
  t.equal(osImageOf('NAME="Debian GNU/Linux"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n'), 'Debian GNU/Linux 12 (bookworm)');
  t.equal(osImageOf(undefined), 'Linux');
});

t.test('reads disk space of the nearest existing directory', async (t) => {
  const d = await readDisk('/nonexistent/deeper/dir');
  t.ok(d.total > 0);
  t.ok(d.available <= d.total);
});
